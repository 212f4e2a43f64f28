//! `cargo bench --bench deface`: the seconds to deface one 256×256×180
//! head volume (1 mm, CT) on this machine: the series loaded and assembled,
//! the face mask (model on the tract backend, brought back and refined),
//! the NIfTI written, and the whole `deface` command end to end (which also
//! writes the 180 defaced DICOM files with their headers anonymized), with
//! its peak memory; then the same head as one enhanced multi-frame file
//! through `anonymize --script high` (read frame by frame to find the
//! face, defaced frame by frame as its pixel data are copied).
//! Prints figures; asserts nothing (target: under 5 s with tract).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "common/measure.rs"]
mod measure;

use std::process::Command;
use std::time::Instant;

use common::head_phantom::{
    Contrast, Identity, Rng, Template, axial_volume, write_enhanced, write_series,
};
use dicom_anonymizer::deface::canonical::Modality;
use dicom_anonymizer::deface::face_mask::{Settings, apply_mask, face_mask};
use dicom_anonymizer::deface::model::FaceMaskModel;
use dicom_anonymizer::deface::resample::pose;
use dicom_anonymizer::deface::series::{assemble, group_series};
use dicom_anonymizer::deface::{nifti, qa};

fn main() {
    let template =
        Template::load().expect("pydeface's template (tests/fetch_reference.sh pydeface-template)");
    // `DEFACE_BENCH_DIR=DIR` keeps the inputs and outputs under DIR, for
    // profiling.
    let mut tmp = match std::env::var_os("DEFACE_BENCH_DIR") {
        Some(dir) => {
            std::fs::create_dir_all(&dir).unwrap();
            tempfile::tempdir_in(dir).unwrap()
        }
        None => tempfile::tempdir().unwrap(),
    };
    tmp.disable_cleanup(std::env::var_os("DEFACE_BENCH_DIR").is_some());
    let root = tmp.path().join("in");
    let subject = root.join("sub001");
    let mut rng = Rng::new(2026);
    let p = pose([6.0, -4.0, 3.0], 1.02, [2.0, -3.0, 4.0], template.centre);
    let volume = axial_volume(&template, Contrast::Ct, p, [256, 180], 1.0, &mut rng);
    let who = Identity {
        patient_name: "Bench^Mark",
        patient_id: "B-1",
        uid: 9,
        body_part: "HEAD",
        description: "Head 1mm",
    };
    write_series(&subject, &volume, Modality::Ct, &who);
    let bytes: u64 = std::fs::read_dir(&subject)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    println!(
        "deface benchmark: one CT head series, 256×256×180 (1 mm), 180 files, {:.1} MB; {} cores",
        bytes as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // The model is loaded once per process; count it apart.
    let t = Instant::now();
    let model = FaceMaskModel::bundled().unwrap();
    println!(
        "  model loaded (tract)        {:6.2} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut series = group_series(&subject).unwrap();
    let (_, mut slices) = series.pop_first().unwrap();
    let v = assemble(&mut slices).unwrap();
    let load = t.elapsed().as_secs_f64();
    println!("  series read and assembled   {load:6.2} s");

    let t = Instant::now();
    let mask = face_mask(&v, Modality::Ct, model, &Settings::default()).unwrap();
    let masking = t.elapsed().as_secs_f64();
    println!(
        "  face mask                   {masking:6.2} s  ({} voxels removed)",
        mask.count()
    );

    let t = Instant::now();
    let out = tmp.path().join("nifti");
    std::fs::create_dir_all(&out).unwrap();
    nifti::write(&apply_mask(&v, &mask, -1000.0), &out.join("defaced.nii.gz")).unwrap();
    nifti::write(&mask.as_volume(&v), &out.join("defaced_mask.nii.gz")).unwrap();
    let writing = t.elapsed().as_secs_f64();
    println!("  NIfTI written (2 files)     {writing:6.2} s");

    let t = Instant::now();
    let caption = qa::Caption::new("sub001", slices.first().map(|s| &s.obj));
    let sheet = qa::write(&out.join("qa.png"), &v, &mask, Modality::Ct, &caption).unwrap();
    let sheeting = t.elapsed().as_secs_f64();
    println!(
        "  QA sheet rendered, written  {sheeting:6.2} s  ({}×{} px)",
        sheet.width, sheet.height
    );
    println!(
        "  stages together             {:6.2} s",
        load + masking + writing + sheeting
    );

    let (cost, _) = measure::measure(
        Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
            .args(["deface", "--input"])
            .arg(&root)
            .arg("--output")
            .arg(tmp.path().join("out")),
    );
    println!(
        "  `deface` command end to end {:6.2} s  (series load, mask, NIfTI, QA sheet, 180 anonymized DICOM files; target < 5 s); {:.2} s CPU, peak {:.0} MB",
        cost.wall, cost.cpu, cost.peak_mb
    );

    let enhanced = tmp.path().join("enhanced");
    write_enhanced(
        &enhanced.join("sub001/head.dcm"),
        &volume,
        Modality::Ct,
        &Identity { uid: 10, ..who },
    );
    let (cost, log) = measure::measure(
        Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
            .args([
                "anonymize",
                "--script",
                "high",
                "--site-id",
                "5",
                "--pixel-text",
                "off",
                "--input",
            ])
            .arg(&enhanced)
            .arg("--output")
            .arg(tmp.path().join("enhanced-out")),
    );
    assert!(log.contains("): defaced ("), "{log}");
    println!(
        "  the same head as one enhanced multi-frame file ({:.1} MB), `anonymize --script high`: {:.2} s, {:.2} s CPU, peak {:.0} MB",
        std::fs::metadata(enhanced.join("sub001/head.dcm"))
            .unwrap()
            .len() as f64
            / 1e6,
        cost.wall,
        cost.cpu,
        cost.peak_mb
    );
}
