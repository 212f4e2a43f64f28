//! The burned-in text detector, end to end: identifying text rendered
//! over real frames is cleaned by `anonymize --script high` (PIXEL_TEXT
//! at-risk), whitelisted words stay, and the rest of the image is left.

mod common;

use std::path::{Path, PathBuf};

use common::burned_text::{self, Burned, EDGE, LISTED, PHI};
use common::head_phantom::Rng;
use dicom_core::value::Value;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;

const WIDTH: usize = 640;
const HEIGHT: usize = 480;
const LISTED_WORDS: &[&str] = &["L", "R", "cm"];

fn text(tag: dicom_core::Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

/// The first frame of each background file, as RGB.
fn backgrounds(corpus: &Path) -> Vec<(String, usize, usize, Vec<u8>)> {
    use dicom_anonymizer::{dicom_file, pixel};
    let mut out = Vec::new();
    for path in burned_text::background_files(corpus) {
        let file = dicom_file::open(&path, None).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let ts = file.meta().transfer_syntax().to_string();
        let mut obj = file.into_inner();
        if let Err(e) = dicom_file::native::decode_to_native(&mut obj, &ts) {
            eprintln!("background {path:?} left out: {e}");
            continue;
        }
        let g = pixel::geometry(&obj);
        let signed = obj
            .get(tags::PIXEL_REPRESENTATION)
            .and_then(|e| e.to_int::<u16>().ok())
            == Some(1);
        let Value::Primitive(v) = obj.get(tags::PIXEL_DATA).unwrap().value() else {
            panic!("{path:?}: encapsulated");
        };
        let Some(rgb) = pixel::frames::frame_rgb(&v.to_bytes(), &g, signed, 0) else {
            eprintln!("background {path:?} left out: not a frame of a known layout");
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        out.push((name, g.columns, g.rows, rgb));
    }
    assert!(out.len() >= 8, "only {} backgrounds", out.len());
    out
}

/// Case `k`: text burned over background `k` (round the list), grey for
/// even `k`.
fn burned(
    rng: &mut Rng,
    fonts: &[(String, ab_glyph::FontVec)],
    frames: &[(String, usize, usize, Vec<u8>)],
    k: usize,
) -> Burned {
    let (_, fw, fh, rgb) = &frames[k % frames.len()];
    burned_text::burn(
        rng,
        fonts,
        rgb,
        *fw,
        *fh,
        WIDTH,
        HEIGHT,
        k.is_multiple_of(2),
        LISTED_WORDS,
    )
}

/// A US file of `frames` copies of `image` (grey or RGB).
fn us_file(path: &Path, n: usize, image: &Burned, grey: bool, frames: usize) {
    let samples = if grey { 1 } else { 3 };
    let mut pixels = Vec::with_capacity(image.width * image.height * samples * frames);
    for _ in 0..frames {
        if grey {
            pixels.extend(image.rgb.chunks_exact(3).map(|p| p[0]));
        } else {
            pixels.extend_from_slice(&image.rgb);
        }
    }
    let u16v = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let mut obj = InMemDicomObject::from_element_iter([
        text(
            tags::SOP_CLASS_UID,
            VR::UI,
            if frames > 1 {
                uids::ULTRASOUND_MULTI_FRAME_IMAGE_STORAGE
            } else {
                uids::ULTRASOUND_IMAGE_STORAGE
            },
        ),
        text(tags::SOP_INSTANCE_UID, VR::UI, &format!("2.25.4410{n}.3")),
        text(tags::STUDY_INSTANCE_UID, VR::UI, &format!("2.25.4410{n}.1")),
        text(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            &format!("2.25.4410{n}.2"),
        ),
        text(tags::MODALITY, VR::CS, "US"),
        text(tags::PATIENT_NAME, VR::PN, "Burned^Text"),
        text(tags::PATIENT_ID, VR::LO, &format!("BT{n}")),
        u16v(tags::SAMPLES_PER_PIXEL, samples as u16),
        text(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            if grey { "MONOCHROME2" } else { "RGB" },
        ),
        u16v(tags::ROWS, image.height as u16),
        u16v(tags::COLUMNS, image.width as u16),
        u16v(tags::BITS_ALLOCATED, 8),
        u16v(tags::BITS_STORED, 8),
        u16v(tags::HIGH_BIT, 7),
        u16v(tags::PIXEL_REPRESENTATION, 0),
        text(tags::BURNED_IN_ANNOTATION, VR::CS, "YES"),
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(pixels.into())),
    ]);
    if !grey {
        obj.put(u16v(tags::PLANAR_CONFIGURATION, 0));
    }
    if frames > 1 {
        obj.put(text(tags::NUMBER_OF_FRAMES, VR::IS, &frames.to_string()));
    }
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    file.write_to_file(path).unwrap();
}

/// The pixel data of a file, and its samples per pixel.
fn pixels(path: &Path) -> (Vec<u8>, usize, Option<String>) {
    let obj = dicom_object::open_file(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let samples = obj
        .element(tags::SAMPLES_PER_PIXEL)
        .unwrap()
        .to_int::<usize>()
        .unwrap();
    let burned = obj
        .element(tags::BURNED_IN_ANNOTATION)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string());
    let bytes = obj
        .element(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .into_owned();
    (bytes, samples, burned)
}

#[derive(Default)]
struct Counts {
    phi: u64,
    phi_changed: u64,
    listed: u64,
    listed_changed: u64,
    other: u64,
    other_changed: u64,
}

/// Compare frame `f` of the output with what went in.
fn tally(counts: &mut Counts, image: &Burned, before: &[u8], after: &[u8], samples: usize) {
    let n = image.width * image.height;
    for p in 0..n {
        let a = &before[p * samples..(p + 1) * samples];
        let b = &after[p * samples..(p + 1) * samples];
        let changed = a != b;
        let (total, moved) = match image.label[p] {
            PHI => (&mut counts.phi, &mut counts.phi_changed),
            LISTED => (&mut counts.listed, &mut counts.listed_changed),
            EDGE => continue,
            _ => (&mut counts.other, &mut counts.other_changed),
        };
        *total += 1;
        *moved += u64::from(changed);
    }
}

fn pct(a: u64, b: u64) -> f64 {
    100.0 * a as f64 / b.max(1) as f64
}

enum Kept {
    Temp(tempfile::TempDir),
    Dir(PathBuf),
}

impl Kept {
    fn path(&self) -> &Path {
        match self {
            Kept::Temp(t) => t.path(),
            Kept::Dir(d) => d,
        }
    }
}

struct Case {
    rel: PathBuf,
    image: Burned,
    grey: bool,
    frames: usize,
}

fn run_cases(cases: &[Case], dir: &Path, extra: &[&str]) -> (Counts, Vec<String>) {
    let input = dir.join("in");
    let output = dir.join("out");
    let _ = std::fs::remove_dir_all(&output);
    let models = common::reference::text_models().expect("the text detector's models");
    let models = models.to_str().unwrap();
    let mut args = vec![
        "--script",
        "high",
        "--no-deface",
        "--site-id",
        "99",
        "--text-models",
        models,
    ];
    args.extend_from_slice(extra);
    // TEXT_KEEP=DIR: the outputs and a preview of each cleaned file
    // (regions outlined) are left in DIR for a person to look at.
    let keep = std::env::var_os("TEXT_KEEP").map(PathBuf::from);
    let previews = keep
        .as_ref()
        .map(|k| k.join(format!("previews-{}", extra.last().unwrap_or(&"blackout"))));
    let previews_arg = previews.as_ref().map(|p| p.display().to_string());
    if let Some(p) = &previews_arg {
        let _ = std::fs::remove_dir_all(p);
        args.extend_from_slice(&["--pixel-preview", p]);
    }
    let out = common::cli::anonymize(&input, &output, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let mut counts = Counts::default();
    let mut missed = Vec::new();
    for case in cases {
        let samples = if case.grey { 1 } else { 3 };
        let before: Vec<u8> = if case.grey {
            case.image.rgb.chunks_exact(3).map(|p| p[0]).collect()
        } else {
            case.image.rgb.clone()
        };
        let (after, got_samples, burned) = pixels(&output.join(&case.rel));
        assert_eq!(got_samples, samples);
        let frame = before.len();
        let mut one = Counts::default();
        for f in 0..case.frames {
            tally(
                &mut one,
                &case.image,
                &before,
                &after[f * frame..(f + 1) * frame],
                samples,
            );
        }
        if one.phi_changed < one.phi {
            missed.push(format!(
                "{}: {:.1}% of glyph pixels changed ({:?})",
                case.rel.display(),
                pct(one.phi_changed, one.phi),
                case.image.strings
            ));
        }
        if one.phi_changed > 0 {
            assert_eq!(burned.as_deref(), Some("NO"), "{}", case.rel.display());
        }
        counts.phi += one.phi;
        counts.phi_changed += one.phi_changed;
        counts.listed += one.listed;
        counts.listed_changed += one.listed_changed;
        counts.other += one.other;
        counts.other_changed += one.other_changed;
    }
    (counts, missed)
}

/// 100 US files (grey and RGB, a tenth of them 3-frame cines) whose
/// frames come from 12 real images of pydicom's corpus, each with 2–4
/// identifying strings in one of several fonts, sizes, colours and places,
/// and some with L, R or cm: at least 98 % of the identifying glyph pixels
/// change, at most 2 % of the other pixels do (blackout and inpaint), and
/// the whitelisted words stay.
#[test]
fn burned_in_text_over_real_frames_is_cleaned_and_listed_words_stay() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let fonts = burned_text::fonts();
    let frames = backgrounds(&corpus);
    let n: usize = std::env::var("TEXT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut rng = Rng::new(20_261_130);
    let dir = tempfile::Builder::new()
        .prefix("burned-text")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let dir = match std::env::var_os("TEXT_KEEP") {
        Some(keep) => {
            let keep = PathBuf::from(keep);
            let _ = std::fs::remove_dir_all(keep.join("in"));
            Kept::Dir(keep)
        }
        None => Kept::Temp(dir),
    };
    let mut cases = Vec::new();
    for k in 0..n {
        let name = &frames[k % frames.len()].0;
        let grey = k % 2 == 0;
        let image = burned(&mut rng, &fonts, &frames, k);
        let frames = if k % 10 == 9 { 3 } else { 1 };
        let rel = PathBuf::from(format!("case{k:03}_{}", name.trim_end_matches(".dcm")));
        us_file(&dir.path().join("in").join(&rel), k, &image, grey, frames);
        cases.push(Case {
            rel,
            image,
            grey,
            frames,
        });
    }
    for (mode, extra) in [
        ("blackout", &[][..]),
        ("inpaint", &["--pixel-clean", "inpaint"][..]),
    ] {
        let start = std::time::Instant::now();
        let (c, missed) = run_cases(&cases, dir.path(), extra);
        println!(
            "{mode}: {n} files in {:.0} s: identifying glyph pixels changed {:.2}% ({} of {}); other pixels changed {:.2}% ({} of {}); whitelisted glyph pixels changed {:.2}% ({} of {})",
            start.elapsed().as_secs_f64(),
            pct(c.phi_changed, c.phi),
            c.phi_changed,
            c.phi,
            pct(c.other_changed, c.other),
            c.other_changed,
            c.other,
            pct(c.listed_changed, c.listed),
            c.listed_changed,
            c.listed
        );
        for m in &missed {
            println!("  {m}");
        }
        assert!(pct(c.phi_changed, c.phi) >= 98.0, "{mode}");
        assert!(pct(c.other_changed, c.other) <= 2.0, "{mode}");
        assert!(c.listed > 0);
        assert!(pct(c.listed_changed, c.listed) <= 20.0, "{mode}");
    }
}

/// Copy `names` from pydicom's corpus into `dir/in-<tag>` and run
/// `anonymize --script high` (no defacing, `extra` added) on them into
/// `dir/out-<tag>`: the input, the output and the run.
fn high_level_on(
    corpus: &Path,
    dir: &Path,
    tag: &str,
    names: &[&str],
    extra: &[&str],
) -> (PathBuf, PathBuf, std::process::Output) {
    let input = dir.join(format!("in-{tag}"));
    std::fs::create_dir_all(&input).unwrap();
    for name in names {
        std::fs::copy(corpus.join("test_files").join(name), input.join(name)).unwrap();
    }
    let output = dir.join(format!("out-{tag}"));
    let out = run_high_level(&input, &output, extra);
    (input, output, out)
}

/// `anonymize --script high` from `input` to `output` with the text
/// detector's models and no defacing, plus `extra`.
fn run_high_level(input: &Path, output: &Path, extra: &[&str]) -> std::process::Output {
    let models = common::reference::text_models().expect("the text detector's models");
    let mut args = vec![
        "--script",
        "high",
        "--no-deface",
        "--site-id",
        "99",
        "--text-models",
        models.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    common::cli::anonymize(input, output, &args)
}

/// The detail the store of `output` records for `source` (none for a file
/// passed unchanged in its pixels).
fn detail_of(output: &Path, source: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(output.join(".anonymizer/store.sqlite")).unwrap();
    conn.query_row(
        "SELECT detail FROM files WHERE source = ?1",
        [source],
        |r| r.get(0),
    )
    .unwrap()
}

/// Compressed files are searched frame by frame without being rewritten
/// when nothing is found: a JPEG 2000 secondary capture with text in it
/// (pydicom's GDCMJ2K_TextGBR) is decoded, cleaned and written native, the
/// regions recorded in the store; RLE and JPEG secondary captures with no
/// text keep their bitstream.
#[test]
fn compressed_files_are_searched_and_rewritten_only_when_text_is_found() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let models = common::reference::text_models().expect("the text detector's models");
    let dir = tempfile::tempdir().unwrap();
    let text = "GDCMJ2K_TextGBR.dcm";
    let plain = [
        "SC_rgb_rle.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "SC_jpeg_no_color_transform.dcm",
    ];
    let names: Vec<&str> = std::iter::once(text).chain(plain).collect();
    let (input, output, out) = high_level_on(&corpus, dir.path(), "found", &names, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("(pixel script, text detector): 1 files"),
        "{stderr}"
    );
    let pixel_data = |path: &Path| {
        let f = dicom_object::open_file(path).unwrap();
        let ts = f
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string();
        (ts, f.get(tags::PIXEL_DATA).unwrap().value().clone())
    };
    for name in plain {
        let (ts_in, before) = pixel_data(&input.join(name));
        let (ts_out, after) = pixel_data(&output.join(name));
        assert_eq!(ts_in, ts_out, "{name}");
        assert!(matches!(after, Value::PixelSequence(_)), "{name}");
        assert!(before == after, "{name}: the bitstream changed");
    }
    let (ts, after) = pixel_data(&output.join(text));
    assert_eq!(ts, uids::EXPLICIT_VR_LITTLE_ENDIAN);
    let Value::Primitive(after) = after else {
        panic!("{text}: still encapsulated")
    };
    let mut original = dicom_object::open_file(input.join(text))
        .unwrap()
        .into_inner();
    let ts_in = dicom_object::open_file(input.join(text))
        .unwrap()
        .meta()
        .transfer_syntax()
        .to_string();
    dicom_anonymizer::dicom_file::native::decode_to_native(&mut original, &ts_in).unwrap();
    let Value::Primitive(before) = original.get(tags::PIXEL_DATA).unwrap().value() else {
        panic!()
    };
    let (before, after) = (before.to_bytes(), after.to_bytes());
    assert_eq!(before.len(), after.len());
    let changed = before
        .iter()
        .zip(after.iter())
        .filter(|(a, b)| a != b)
        .count();
    assert!(changed > 10_000, "{changed} bytes changed");
    let detail = detail_of(&output, text).expect("a detail for the cleaned file");
    assert!(
        detail.contains("text detector (a secondary capture)") && detail.contains("regions ("),
        "{detail}"
    );
    // `explain` searches the file as `anonymize` did, and finds the same.
    let explained = std::process::Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args([
            "explain",
            "--script",
            "high",
            "--format",
            "json",
            "--text-models",
        ])
        .arg(&models)
        .arg(input.join(text))
        .output()
        .unwrap();
    assert!(explained.status.success(), "{explained:?}");
    let json: serde_json::Value = serde_json::from_slice(&explained.stdout).unwrap();
    let t = &json["text_detector"];
    assert_eq!(t["searched"], true, "{t}");
    let regions: Vec<String> = t["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("({},{},{},{})", r["x"], r["y"], r["width"], r["height"]))
        .collect();
    assert!(!regions.is_empty());
    assert!(
        detail.contains(&format!("regions {} in every frame", regions.join(" "))),
        "{detail}\nexplain: {t}"
    );
    // What cannot be decoded here (JPEG-LS; 12-bit JPEG extended) but must
    // be searched is quarantined with the reason, never passed.
    let (_, out_refused, out) = high_level_on(
        &corpus,
        dir.path(),
        "refused",
        &["MR_small_jpeg_ls_lossless.dcm", "JPGExtended.dcm"],
        &["--pixel-text", "all"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    for (name, ts) in [
        ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),
        ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51"),
    ] {
        assert!(
            out_refused
                .join("quarantine/Pixel_Clean_Error")
                .join(name)
                .is_file(),
            "{name}"
        );
        assert!(!out_refused.join(name).exists(), "{name}");
        let detail = detail_of(&out_refused, name).expect("a detail for the refused file");
        assert!(
            detail.contains("searched for burned-in text") && detail.contains(ts),
            "{name}: {detail}"
        );
    }
    // A file not at risk is not searched, and explain says so.
    let not = std::process::Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args(["explain", "--script", "high", "--text-models"])
        .arg(&models)
        .arg(corpus.join("test_files/CT_small.dcm"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&not.stdout);
    assert!(
        said.contains("text detector: not searched (the file is not at risk)"),
        "{said}"
    );
}

/// Large files keep their pixel data in the input while the header is
/// anonymized: the frames searched are read from the file, and native
/// pixel data are blanked as they are copied, compressed ones decoded,
/// blanked and written native one frame at a time. With every file taken
/// so (`--tail-copy-min 1`), the outputs are byte for byte, and the store's
/// details word for word, those of reading every file whole: US files with
/// burned-in text (grey and RGB, one and three frames), a JPEG 2000 file
/// with text and compressed files without, with blackout and inpainting
/// (which takes the whole path).
#[test]
fn large_files_are_searched_and_cleaned_as_whole_ones_are() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let fonts = burned_text::fonts();
    let frames = backgrounds(&corpus);
    let mut rng = Rng::new(20_261_201);
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "GDCMJ2K_TextGBR.dcm",
        "SC_rgb_rle.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "SC_jpeg_no_color_transform.dcm",
        "SC_rgb_rle_2frame.dcm",
    ];
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for name in names {
        std::fs::copy(corpus.join("test_files").join(name), input.join(name)).unwrap();
    }
    for k in 0..8 {
        let grey = k % 2 == 0;
        let image = burned(&mut rng, &fonts, &frames, k);
        let n = if k % 4 == 3 { 3 } else { 1 };
        us_file(&input.join(format!("us{k}.dcm")), k, &image, grey, n);
    }
    let count = |stderr: &str, said: &str| -> usize {
        stderr
            .split(said)
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    for (mode, extra) in [
        ("blackout", &[][..]),
        ("inpaint", &["--pixel-clean", "inpaint"][..]),
    ] {
        let run = |tag: &str, more: &[&str]| {
            let output = dir.path().join(format!("{mode}-{tag}"));
            let args: Vec<&str> = extra.iter().chain(more).copied().collect();
            let out = run_high_level(&input, &output, &args);
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(out.status.success(), "{mode} {tag}: {stderr}");
            (output, stderr)
        };
        let (whole, whole_log) = run("whole", &["--tail-copy-min", "18446744073709551615"]);
        let (large, large_log) = run("large", &["--tail-copy-min", "1"]);
        let cleaned = count(
            &whole_log,
            "burned-in text cleaned from the pixels (pixel script, text detector): ",
        );
        assert!(cleaned >= 8, "{mode}: {whole_log}");
        assert_eq!(
            count(
                &large_log,
                "burned-in text cleaned from the pixels (pixel script, text detector): "
            ),
            cleaned,
            "{mode}: {large_log}"
        );
        let (a, b) = (
            common::trees::outputs(&whole),
            common::trees::outputs(&large),
        );
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{mode}"
        );
        for (rel, bytes) in &a {
            assert!(b[rel] == *bytes, "{mode}: {rel} differs");
        }
        for name in names
            .iter()
            .map(|n| n.to_string())
            .chain((0..8).map(|k| format!("us{k}.dcm")))
        {
            assert_eq!(
                detail_of(&whole, &name),
                detail_of(&large, &name),
                "{mode}: {name}"
            );
        }
        let copied = count(&large_log, "pixel data copied as bytes, not decoded: ");
        let framewise = count(
            &large_log,
            "compressed pixel data decoded and cleaned frame by frame: ",
        );
        println!(
            "{mode}: {cleaned} cleaned; read from a prefix: {copied} copied as bytes (blanked or not), {framewise} decoded frame by frame"
        );
        if mode == "blackout" {
            assert!(copied >= 10, "{mode}: {large_log}");
            assert!(framewise >= 1, "{mode}: {large_log}");
        }
    }
}
