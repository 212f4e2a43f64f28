//! `anonymize` with the high-level policy (which sets `DEFACE=yes`)
//! defaces the head series it meets; the low level never touches pixels; a
//! head series that cannot be defaced is quarantined, not passed.

mod common;

use std::path::Path;
use std::process::Command;

use common::head_phantom::{
    Contrast, Identity, Rng, Template, acquire, axial_volume, remove_slices, scanner_grid,
    write_enhanced, write_series,
};
use dicom_anonymizer::deface::canonical::Modality;
use dicom_anonymizer::deface::resample::pose;
use dicom_dictionary_std::tags;

fn anonymize(input: &Path, output: &Path, script: &str) -> (Option<i32>, String) {
    anonymize_with(input, output, script, &[])
}

fn anonymize_with(
    input: &Path,
    output: &Path,
    script: &str,
    extra: &[&std::ffi::OsStr],
) -> (Option<i32>, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args([
            "anonymize",
            "--site-id",
            "77",
            "--script",
            script,
            "--input",
        ])
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(extra)
        .output()
        .unwrap();
    (
        run.status.code(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

fn pixels(path: &Path) -> Vec<u16> {
    let obj = dicom_object::open_file(path).unwrap().into_inner();
    obj.get(tags::PIXEL_DATA)
        .unwrap()
        .to_multi_int::<u16>()
        .unwrap()
}

fn image_type(path: &Path) -> String {
    let obj = dicom_object::open_file(path).unwrap().into_inner();
    obj.get(tags::IMAGE_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_high_level_defaces_head_series_and_the_low_level_leaves_pixels_alone() {
    let Some(template) = Template::load() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let mut rng = Rng::new(11);
    let ct = axial_volume(
        &template,
        Contrast::Ct,
        pose([5.0, 3.0, -6.0], 0.98, [-3.0, 4.0, 2.0], template.centre),
        [128, 90],
        2.0,
        &mut rng,
    );
    let head = Identity {
        patient_name: "Face^Visible",
        patient_id: "P-1",
        uid: 401,
        body_part: "HEAD",
        description: "Head",
    };
    write_series(&input.join("head"), &ct, Modality::Ct, &head);

    let (code, stderr) = anonymize(&input, &tmp.path().join("low"), "low");
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = anonymize(&input, &tmp.path().join("high"), "high");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("defaced ("), "{stderr}");

    let mut changed_files = 0;
    let mut removed = 0usize;
    for entry in std::fs::read_dir(input.join("head")).unwrap().flatten() {
        let name = entry.file_name();
        let original = pixels(&entry.path());
        let low = tmp.path().join("low/head").join(&name);
        let high = tmp.path().join("high/head").join(&name);
        assert_eq!(pixels(&low), original, "the low level keeps pixels");
        assert!(image_type(&low).starts_with("ORIGINAL"));
        let defaced = pixels(&high);
        assert_eq!(defaced.len(), original.len());
        assert!(image_type(&high).starts_with("DERIVED"));
        let diff = original
            .iter()
            .zip(&defaced)
            .filter(|(a, b)| a != b)
            .count();
        // Every changed pixel is air now: −1000 HU, stored 24.
        for (a, b) in original.iter().zip(&defaced) {
            if a != b {
                assert_eq!(*b, 24);
            }
        }
        if diff > 0 {
            changed_files += 1;
        }
        removed += defaced
            .iter()
            .zip(&original)
            .filter(|(b, a)| **b == 24 && **a != 24)
            .count();
    }
    assert!(changed_files > 20, "{changed_files} slices defaced");
    assert!(removed > 10_000, "{removed} pixels set to air");
}

/// A `--tail-copy-min` no file reaches: every file read whole.
const NEVER: &str = "18446744073709551615";

/// Large files are defaced as their pixel data are copied, frame by frame,
/// without holding them: the output is byte for byte the one the whole
/// data set's path writes, for single-frame slices and for the frames of
/// an enhanced multi-frame image.
#[test]
fn large_files_are_defaced_frame_by_frame_as_the_whole_path_defaces_them() {
    let Some(template) = Template::load() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let mut rng = Rng::new(13);
    let ct = axial_volume(
        &template,
        Contrast::Ct,
        pose([-4.0, 2.0, 5.0], 1.02, [2.0, -3.0, 1.0], template.centre),
        [112, 80],
        2.2,
        &mut rng,
    );
    let who = |uid, patient_id| Identity {
        patient_name: "Frame^ByFrame",
        patient_id,
        uid,
        body_part: "HEAD",
        description: "Head",
    };
    write_series(&input.join("slices"), &ct, Modality::Ct, &who(403, "P-3"));
    write_enhanced(
        &input.join("enhanced/ct.dcm"),
        &ct,
        Modality::Ct,
        &who(404, "P-4"),
    );

    let run = |name: &str, min: &str| {
        let out = tmp.path().join(name);
        let (code, stderr) = anonymize_with(
            &input,
            &out,
            "high",
            &["--tail-copy-min".as_ref(), min.as_ref()],
        );
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(stderr.matches("): defaced (").count(), 2, "{stderr}");
        (common::trees::outputs(&out), stderr)
    };
    let (whole, whole_log) = run("whole", NEVER);
    let (framewise, log) = run("framewise", "0");
    assert!(
        !whole_log.contains("pixel data copied as bytes"),
        "{whole_log}"
    );
    assert!(
        log.contains(&format!(
            "pixel data copied as bytes, not decoded: {}",
            80 + 1
        )),
        "{log}"
    );
    assert_eq!(whole.len(), 80 + 1);
    assert_eq!(
        whole.keys().collect::<Vec<_>>(),
        framewise.keys().collect::<Vec<_>>()
    );
    let differing: Vec<&String> = whole
        .iter()
        .filter(|(k, v)| framewise[*k] != **v)
        .map(|(k, _)| k)
        .collect();
    assert!(differing.is_empty(), "{differing:?} differ");

    // The multi-frame output is defaced in the frames the face is in, not
    // only in the first: the same pixels as the single-frame slices.
    let (enhanced, _) = whole
        .iter()
        .find(|(k, _)| k.starts_with("enhanced"))
        .unwrap();
    let frames = pixels(&tmp.path().join("framewise").join(enhanced));
    let original = pixels(&input.join("enhanced/ct.dcm"));
    let per = 112 * 112;
    let changed: Vec<usize> = (0..80)
        .filter(|&f| frames[f * per..(f + 1) * per] != original[f * per..(f + 1) * per])
        .collect();
    assert!(changed.len() > 20, "frames defaced: {changed:?}");
    assert!(image_type(&tmp.path().join("framewise").join(enhanced)).starts_with("DERIVED"));
    let mut slices_changed = 0;
    for k in 0..80 {
        let name = format!("IM{}.dcm", (k * 37) % 80);
        let before = pixels(&input.join("slices").join(&name));
        let key = whole
            .keys()
            .find(|key| key.starts_with("slices") && key.ends_with(&name));
        let after = match key {
            Some(key) => pixels(&tmp.path().join("framewise").join(key)),
            None => panic!("{name} not written: {:?}", whole.keys().collect::<Vec<_>>()),
        };
        assert_eq!(after, frames[k * per..(k + 1) * per], "slice {k}");
        slices_changed += usize::from(after != before);
    }
    assert_eq!(slices_changed, changed.len());
}

#[test]
fn a_head_series_that_cannot_be_defaced_is_quarantined_under_the_high_level() {
    let Some(template) = Template::load() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let mut rng = Rng::new(12);
    let mr = axial_volume(
        &template,
        Contrast::T1,
        pose([0.0; 3], 1.0, [0.0; 3], template.centre),
        [96, 60],
        2.5,
        &mut rng,
    );
    let who = Identity {
        patient_name: "Gap^Series",
        patient_id: "P-2",
        uid: 402,
        body_part: "BRAIN",
        description: "T1",
    };
    write_series(&input.join("mr"), &mr, Modality::Mr, &who);
    // Two slices missing in a row: more than the stage interpolates.
    remove_slices(&input.join("mr"), 60, [30, 31]);

    let out = tmp.path().join("high");
    let (code, stderr) = anonymize(&input, &out, "high");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("a head that cannot be defaced"), "{stderr}");
    let quarantined = std::fs::read_dir(out.join("quarantine/Deface_Error/mr"))
        .unwrap()
        .count();
    assert_eq!(quarantined, 58);
    assert!(!out.join("mr").exists(), "nothing of the series is written");
    let report = std::fs::read_to_string(out.join("quarantine/report.csv")).unwrap();
    assert!(
        report.contains("Deface_Error") && report.contains("uneven slice spacing"),
        "{report}"
    );
}

/// A head CT acquired with the gantry tilted 15°: defaced at the high
/// level on the original slices (their geometry kept), with its QA sheet
/// written where `--deface-qa` says.
#[test]
fn a_tilted_head_ct_is_defaced_on_its_own_slices_with_a_qa_sheet() {
    let Some(template) = Template::load() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let grid = scanner_grid(&template, [96, 140], 2.5, 2.0, 15.0);
    let head_pose = pose([0.0; 3], 1.0, [0.0; 3], template.centre);
    let ct = acquire(
        &template,
        Contrast::Ct,
        head_pose,
        grid,
        1.0,
        &mut Rng::new(13),
    );
    let who = Identity {
        patient_name: "Tilt^Gantry",
        patient_id: "P-3",
        uid: 403,
        body_part: "HEAD",
        description: "Head tilted",
    };
    write_series(&input.join("head"), &ct, Modality::Ct, &who);
    let sheets = tmp.path().join("qa");

    // Refused before any file: a script that does not deface, and a QA
    // folder inside the input.
    fn flag(dir: &Path) -> [&std::ffi::OsStr; 2] {
        [std::ffi::OsStr::new("--deface-qa"), dir.as_os_str()]
    }
    let (code, stderr) = anonymize_with(&input, &tmp.path().join("low"), "low", &flag(&sheets));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--deface-qa needs a script that defaces"),
        "{stderr}"
    );
    assert!(!tmp.path().join("low").exists(), "nothing created");
    let inside = input.join("qa");
    let (code, stderr) = anonymize_with(&input, &tmp.path().join("x"), "high", &flag(&inside));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("must not be inside --input"), "{stderr}");
    assert!(!inside.exists());

    let out = tmp.path().join("high");
    let (code, stderr) = anonymize_with(&input, &out, "high", &flag(&sheets));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("defaced ("), "{stderr}");
    let sheet = std::fs::read(sheets.join("head_series3.png")).unwrap();
    assert!(sheet.starts_with(b"\x89PNG"));
    // For a person to look at, beside the `deface` command's.
    let look = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deface-qa");
    std::fs::create_dir_all(&look).unwrap();
    std::fs::write(look.join("tilted-15.png"), &sheet).unwrap();

    let geometry = |path: &Path| {
        let obj = dicom_object::open_file(path).unwrap().into_inner();
        [
            tags::IMAGE_POSITION_PATIENT,
            tags::IMAGE_ORIENTATION_PATIENT,
        ]
        .map(|t| obj.get(t).unwrap().to_str().unwrap().to_string())
    };
    let mut changed = 0;
    for entry in std::fs::read_dir(input.join("head")).unwrap().flatten() {
        let defaced = out.join("head").join(entry.file_name());
        assert_eq!(
            geometry(&defaced),
            geometry(&entry.path()),
            "the slice stays where it was"
        );
        let (before, after) = (pixels(&entry.path()), pixels(&defaced));
        assert_eq!(before.len(), after.len());
        if before != after {
            changed += 1;
        }
    }
    assert!(changed > 20, "{changed} tilted slices defaced");
}
