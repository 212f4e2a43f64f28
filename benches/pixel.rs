//! `cargo bench --bench pixel`: what blanking burned-in text costs.
//!
//! Two synthetic ultrasound sets (RGB, 640×480, 8 bit, explicit VR little
//! endian, with fresh UIDs): 60 single-frame images and 4 cines of 100
//! frames. Each set is anonymized with `--script low` twice, with and
//! without a pixel script whose one signature (`Modality.equals("US")`)
//! blanks a 640×60 banner and a corner; the seconds per file, medians of
//! three alternating rounds (every round printed), whole processes on all
//! cores. Targets (issue 14): under 0.5 s per single frame and under 3 s
//! per 100-frame cine. Then one large cine (600 frames, 553 MB): the
//! time and the peak memory (the child's `VmHWM`) of cleaning it, which
//! happens frame by frame as its pixel data are copied; and the same cine
//! JPEG-compressed, decoded, cleaned and written native frame by frame.
//! Last, the text
//! detector (`--pixel-text all`, models from `scripts/make_text_models.sh`)
//! on 12 single-frame images and 2 cines of 100 frames with text drawn on
//! them: seconds per file on all cores (files in parallel) and for one
//! file alone (`--jobs 1`: the latency of one frame), against the same
//! targets. Asserts nothing but that the files were cleaned.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use common::measure::measure;

const ROUNDS: usize = 3;

fn ultrasound(path: &Path, n: usize, frames: usize) {
    ultrasound_with(path, n, frames, |_| {});
}

/// An ultrasound file whose frames are noise with, when `draw` draws it,
/// text in every frame.
fn ultrasound_with(path: &Path, n: usize, frames: usize, draw: impl Fn(&mut [u8])) {
    let (rows, columns) = (480usize, 640usize);
    let mut pixels = vec![0u8; rows * columns * 3 * frames];
    for (i, p) in pixels.iter_mut().enumerate() {
        *p = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    for frame in pixels.chunks_exact_mut(rows * columns * 3) {
        draw(frame);
    }
    let text = |tag, vr, v: String| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let root = "1.2.826.0.1.3680043.10.474.99";
    let mut obj = InMemDicomObject::from_element_iter([
        text(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::ULTRASOUND_MULTI_FRAME_IMAGE_STORAGE.into(),
        ),
        text(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            format!("{root}.3.{n}.{frames}"),
        ),
        text(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            format!("{root}.1.{}", n % 7),
        ),
        text(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            format!("{root}.2.{}", n % 7),
        ),
        text(tags::MODALITY, VR::CS, "US".into()),
        text(tags::PATIENT_NAME, VR::PN, format!("Sono^Patient{}", n % 7)),
        text(tags::PATIENT_ID, VR::LO, format!("US-{}", n % 7)),
        text(tags::STUDY_DATE, VR::DA, "20240102".into()),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "RGB".into()),
        text(tags::NUMBER_OF_FRAMES, VR::IS, frames.to_string()),
        us(tags::SAMPLES_PER_PIXEL, 3),
        us(tags::PLANAR_CONFIGURATION, 0),
        us(tags::ROWS, rows as u16),
        us(tags::COLUMNS, columns as u16),
        us(tags::BITS_ALLOCATED, 8),
        us(tags::BITS_STORED, 8),
        us(tags::HIGH_BIT, 7),
        us(tags::PIXEL_REPRESENTATION, 0),
    ]);
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(pixels.into()),
    ));
    obj.with_meta(
        dicom_object::meta::FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN),
    )
    .unwrap()
    .write_to_file(path)
    .unwrap();
}

/// `anonymize --script low` of `input` into a fresh `output`, with the
/// pixel script when given.
fn anonymize(input: &Path, output: &Path, pixel_script: Option<&Path>) -> Command {
    let _ = std::fs::remove_dir_all(output);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"));
    cmd.args([
        "anonymize",
        "--script",
        "low",
        "--site-id",
        "1",
        "--no-deface",
    ])
    .arg("--input")
    .arg(input)
    .arg("--output")
    .arg(output);
    if let Some(p) = pixel_script {
        cmd.arg("--pixel-script").arg(p);
    }
    cmd
}

fn run(input: &Path, output: &Path, pixel_script: Option<&Path>) -> (f64, String) {
    let start = Instant::now();
    let out = anonymize(input, output, pixel_script)
        .output()
        .expect("run dicom-anonymizer");
    let secs = start.elapsed().as_secs_f64();
    (secs, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let keep = std::env::var_os("PIXEL_BENCH_DIR").map(PathBuf::from);
    let temp = tempfile::tempdir().unwrap();
    let root = keep.unwrap_or_else(|| temp.path().to_path_buf());
    let script = root.join("us.script");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        &script,
        "US banner and corner\n{ Modality.equals(\"US\") }\n(0,0,640,60) (-160,-40,160,40)\n",
    )
    .unwrap();
    for (name, files, frames) in [
        ("single frame", 60usize, 1usize),
        ("100-frame cine", 4, 100),
    ] {
        let input = root.join(format!("in-{frames}"));
        if !input.exists() {
            std::fs::create_dir_all(&input).unwrap();
            for n in 0..files {
                ultrasound(&input.join(format!("{n:03}.dcm")), n, frames);
            }
        }
        let output = root.join("out");
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let (secs, log) = run(&input, &output, Some(&script));
            assert!(
                log.contains(&format!(
                    "cleaned from the pixels (pixel script, text detector): {files} files"
                )),
                "{log}"
            );
            let (plain, _) = run(&input, &output, None);
            println!(
                "pixel {name} round {round}: with the pixel script {:.3} s per file, headers only {:.3} s per file",
                secs / files as f64,
                plain / files as f64
            );
            with.push(secs / files as f64);
            without.push(plain / files as f64);
        }
        let target = if frames == 1 { 0.5 } else { 3.0 };
        println!(
            "pixel {name} (640×480 RGB, {files} files): {:.3} s per file with blanking (target {target} s), {:.3} s headers only; medians of {ROUNDS}",
            median(with),
            median(without)
        );
        let _ = std::fs::remove_dir_all(&output);
    }

    // One large cine, cleaned as it is copied.
    let input = root.join("in-large");
    if !input.exists() {
        std::fs::create_dir_all(&input).unwrap();
        ultrasound(&input.join("cine.dcm"), 0, 600);
    }
    let size = std::fs::metadata(input.join("cine.dcm")).unwrap().len() as f64 / 1e6;
    let output = root.join("out-large");
    let (cost, log) = measure(&mut anonymize(&input, &output, Some(&script)));
    let (secs, cpu, peak) = (cost.wall, cost.cpu, cost.peak_mb);
    assert!(
        log.contains("cleaned from the pixels (pixel script, text detector): 1 files"),
        "{log}"
    );
    let streamed = log.contains("pixel data copied as bytes, not decoded: 1 files");
    let copy = root.join("large-copy.dcm");
    let start = Instant::now();
    std::fs::copy(input.join("cine.dcm"), &copy).unwrap();
    let copied = start.elapsed().as_secs_f64();
    println!(
        "pixel large cine (600 frames, {size:.0} MB): {secs:.2} s ({cpu:.2} s CPU), peak {peak:.0} MB, blanked as copied: {streamed}; a plain copy {copied:.2} s"
    );
    let _ = std::fs::remove_file(copy);
    let _ = std::fs::remove_dir_all(&output);

    // The same cine JPEG-compressed (a fragment per frame): decoded,
    // cleaned and written native one frame at a time.
    let input = root.join("in-large-jpeg");
    if !input.exists() {
        std::fs::create_dir_all(&input).unwrap();
        jpeg_cine(
            &root.join("in-large/cine.dcm"),
            &input.join("cine.dcm"),
            600,
        );
    }
    let size = std::fs::metadata(input.join("cine.dcm")).unwrap().len() as f64 / 1e6;
    let (cost, log) = measure(&mut anonymize(&input, &output, Some(&script)));
    assert!(
        log.contains("cleaned from the pixels (pixel script, text detector): 1 files"),
        "{log}"
    );
    let framewise =
        log.contains("compressed pixel data decoded and cleaned frame by frame: 1 files");
    let written = std::fs::read_dir(&output)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.metadata().unwrap().len())
        .sum::<u64>() as f64
        / 1e6;
    println!(
        "pixel large JPEG cine (600 frames, {size:.0} MB, {written:.0} MB written native): {:.2} s ({:.2} s CPU), peak {:.0} MB, decoded frame by frame: {framewise}",
        cost.wall, cost.cpu, cost.peak_mb
    );
    let _ = std::fs::remove_dir_all(&output);

    text_detector(&root);
}

/// The cine `native` with its first frame JPEG-compressed (by
/// dicom-pixeldata's encoder) and that fragment repeated for `frames`
/// frames.
fn jpeg_cine(native: &Path, to: &Path, frames: usize) {
    use dicom_core::value::{PixelFragmentSequence, Value};
    use dicom_pixeldata::Transcode;
    let mut file = dicom_object::open_file(native).unwrap();
    let frame = 480 * 640 * 3;
    let first = file.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap()[..frame].to_vec();
    file.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(first.into()),
    ));
    file.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("1"),
    ));
    use dicom_encoding::TransferSyntaxIndex;
    let jpeg = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(uids::JPEG_BASELINE8_BIT)
        .unwrap();
    file.transcode(jpeg).unwrap();
    let Value::PixelSequence(encoded) = file.element(tags::PIXEL_DATA).unwrap().value() else {
        panic!("not encapsulated after transcoding");
    };
    let fragment = encoded.fragments()[0].clone();
    file.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(
            Vec::new(),
            vec![fragment; frames],
        )),
    ));
    file.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from(frames.to_string()),
    ));
    file.write_to_file(to).unwrap();
}

/// Blocky "text" (bars of 7×11-pixel cells, like a bitmap font) drawn in
/// white on a black band, four lines: what the detector finds and cleans.
fn draw_lines(frame: &mut [u8]) {
    let columns = 640;
    for line in 0..4usize {
        let top = 20 + line * 40;
        for y in top - 6..top + 17 {
            for x in 10..330 {
                frame[(y * columns + x) * 3..(y * columns + x) * 3 + 3].fill(0);
            }
        }
        for ch in 0..(12 + line * 5) {
            let x0 = 16 + ch * 9;
            for y in top..top + 11 {
                for x in x0..x0 + 7 {
                    let on = (x - x0 + y - top + ch) % 3 != 0 || y == top || x == x0;
                    if on {
                        frame[(y * columns + x) * 3..(y * columns + x) * 3 + 3].fill(255);
                    }
                }
            }
        }
    }
}

fn text_detector(root: &Path) {
    let models = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make_text_models.sh"))
        .output()
        .expect("scripts/make_text_models.sh");
    assert!(
        models.status.success(),
        "{}",
        String::from_utf8_lossy(&models.stderr)
    );
    let models = String::from_utf8_lossy(&models.stdout).trim().to_string();
    for (name, files, frames) in [
        ("single frame", 12usize, 1usize),
        ("100-frame cine", 2, 100),
    ] {
        let input = root.join(format!("in-text-{frames}"));
        if !input.exists() {
            std::fs::create_dir_all(&input).unwrap();
            for n in 0..files {
                ultrasound_with(&input.join(format!("{n:03}.dcm")), n, frames, draw_lines);
            }
        }
        let output = root.join("out-text");
        let (mut all, mut alone) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let mut per_file = Vec::new();
            for jobs in ["0", "1"] {
                let mut cmd = anonymize(&input, &output, None);
                cmd.args(["--pixel-text", "all", "--text-models", &models]);
                if jobs == "1" {
                    cmd.args(["--jobs", "1"]);
                }
                let start = Instant::now();
                let out = cmd.output().expect("run dicom-anonymizer");
                let secs = start.elapsed().as_secs_f64();
                let log = String::from_utf8_lossy(&out.stderr);
                assert!(
                    log.contains(&format!(
                        "cleaned from the pixels (pixel script, text detector): {files} files"
                    )),
                    "{log}"
                );
                per_file.push(secs / files as f64);
            }
            println!(
                "pixel text detector {name} round {round}: {:.3} s per file on all cores, {:.3} s per file one at a time",
                per_file[0], per_file[1]
            );
            all.push(per_file[0]);
            alone.push(per_file[1]);
        }
        let target = if frames == 1 { 0.5 } else { 3.0 };
        println!(
            "pixel text detector {name} (640×480 RGB, {files} files, 4 lines of text in each frame): {:.3} s per file on all cores, {:.3} s one at a time (target {target} s); medians of {ROUNDS}",
            median(all),
            median(alone)
        );
        let _ = std::fs::remove_dir_all(&output);
    }
}
