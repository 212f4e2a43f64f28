//! `dicom-anonymizer deface`: one folder per subject in, per subject a
//! defaced NIfTI, its mask and defaced DICOM out, with anonymized headers;
//! a subject with a broken series is reported and the others complete.

mod common;

use std::path::Path;
use std::process::Command;

use common::head_phantom::{
    Contrast, Identity, Rng, Template, axial_volume, remove_slices, write_series,
};
use dicom_anonymizer::deface::canonical::Modality;
use dicom_anonymizer::deface::nifti;
use dicom_anonymizer::deface::resample::pose;
use dicom_dictionary_std::tags;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
}

fn text(obj: &dicom_object::InMemDicomObject, tag: dicom_core::Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

fn stored(obj: &dicom_object::InMemDicomObject) -> Vec<u16> {
    obj.get(tags::PIXEL_DATA)
        .unwrap()
        .to_multi_int::<u16>()
        .unwrap()
}

#[test]
fn subjects_are_defaced_to_nifti_and_anonymized_dicom_and_a_broken_one_is_skipped() {
    let Some(template) = Template::load() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("in");
    let out = tmp.path().join("out");
    let mut rng = Rng::new(7);

    // sub001: a CT head (2 mm), a chest series beside it, a localizer.
    let ct = axial_volume(
        &template,
        Contrast::Ct,
        pose([8.0, -5.0, 4.0], 1.03, [4.0, -6.0, 3.0], template.centre),
        [128, 90],
        2.0,
        &mut rng,
    );
    let who = |name, id, uid, body, description| Identity {
        patient_name: name,
        patient_id: id,
        uid,
        body_part: body,
        description,
    };
    write_series(
        &root.join("sub001/head"),
        &ct,
        Modality::Ct,
        &who("Doe^Jane", "MRN-0001", 101, "HEAD", "Head 2mm"),
    );
    let mut chest = ct.clone();
    chest.dims = [128, 128, 10];
    chest.data.truncate(128 * 128 * 10);
    write_series(
        &root.join("sub001/chest"),
        &chest,
        Modality::Ct,
        &who("Doe^Jane", "MRN-0001", 102, "CHEST", "Chest"),
    );
    // sub002: a head series with two missing slices.
    let mr = axial_volume(
        &template,
        Contrast::T1,
        pose([-6.0, 3.0, -8.0], 0.97, [-5.0, 8.0, -2.0], template.centre),
        [128, 90],
        2.0,
        &mut rng,
    );
    let broken = root.join("sub002");
    write_series(
        &broken,
        &mr,
        Modality::Mr,
        &who("Roe^Richard", "MRN-0002", 201, "BRAIN", "T1 brain"),
    );
    // Two slices missing in a row: a gap of three slices is more than the
    // stage interpolates.
    remove_slices(&broken, 90, [40, 41]);
    // sub003: an MR head.
    write_series(
        &root.join("sub003"),
        &mr,
        Modality::Mr,
        &who("Poe^Edgar", "MRN-0003", 301, "BRAIN", "T1 brain"),
    );

    let run = bin()
        .args(["deface", "--input"])
        .arg(&root)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stderr}");
    assert_eq!(run.status.code(), Some(1), "one subject fails: {stderr}");
    assert!(stderr.contains("sub002: NOT DEFACED"), "{stderr}");
    assert!(
        stderr.contains("slice") || stderr.contains("spacing"),
        "the reason is given: {stderr}"
    );
    assert!(
        stderr.contains("not a head"),
        "the chest series is reported as skipped: {stderr}"
    );
    assert!(stderr.contains("defaced 2 of 3 subjects"), "{stderr}");
    assert!(!out.join("sub002/defaced.nii.gz").exists());

    for (subject, volume, modality, name, id) in [
        ("sub001", &ct, Modality::Ct, "Doe^Jane", "MRN-0001"),
        ("sub003", &mr, Modality::Mr, "Poe^Edgar", "MRN-0003"),
    ] {
        let dir = out.join(subject);
        let defaced = nifti::read(&dir.join("defaced.nii.gz")).unwrap();
        let mask = nifti::read(&dir.join("defaced_mask.nii.gz")).unwrap();
        assert_eq!(defaced.dims, volume.dims);
        let removed: Vec<bool> = mask.data.iter().map(|&m| m > 0.5).collect();
        let n_removed = removed.iter().filter(|&&r| r).count();
        assert!(n_removed > 10_000, "{subject}: {n_removed} voxels removed");
        let background = modality.background();
        for (n, &r) in removed.iter().enumerate() {
            if r {
                assert_eq!(defaced.data[n], background, "{subject}: removed voxel {n}");
            }
        }
        // The DICOM output: one file per slice, in the volume's order.
        let dicom = dir.join("defaced_dicom");
        let mut files: Vec<_> = std::fs::read_dir(&dicom)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        assert_eq!(files.len(), volume.dims[2], "{subject}");
        assert_eq!(files[0].file_name().unwrap(), "slice_001.dcm");
        let per = volume.dims[0] * volume.dims[1];
        for (k, path) in files.iter().enumerate() {
            let obj = dicom_object::open_file(path).unwrap().into_inner();
            assert_ne!(text(&obj, tags::PATIENT_NAME), name);
            assert_ne!(text(&obj, tags::PATIENT_ID), id);
            assert!(!text(&obj, tags::SOP_INSTANCE_UID).starts_with("2.25."));
            assert_ne!(
                text(&obj, tags::INSTITUTION_NAME),
                "Phantom General Hospital"
            );
            assert!(
                text(&obj, tags::IMAGE_TYPE).starts_with("DERIVED\\"),
                "{}",
                text(&obj, tags::IMAGE_TYPE)
            );
            let codes: Vec<String> = obj
                .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()
                .iter()
                .map(|i| text(i, tags::CODE_VALUE))
                .collect();
            assert!(codes.contains(&"113102".to_string()), "{codes:?}");
            // The pixels are the defaced volume's (stored = value − intercept).
            let offset = if modality == Modality::Ct {
                1024.0
            } else {
                0.0
            };
            let px = stored(&obj);
            for (n, &p) in px.iter().enumerate() {
                let want = defaced.data[k * per + n];
                let want = (want + offset).round().clamp(0.0, 65535.0);
                assert_eq!(f32::from(p), want, "{subject} slice {k} pixel {n}");
            }
        }
    }
    // The QA sheet beside the outputs; `--qa-only` writes the same sheet
    // again from the mask and the input alone (sub002 has no mask).
    let sheets = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deface-qa");
    std::fs::create_dir_all(&sheets).unwrap();
    let mut written = Vec::new();
    for subject in ["sub001", "sub003"] {
        let qa = out.join(subject).join("qa.png");
        let bytes = std::fs::read(&qa).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{subject}");
        std::fs::copy(&qa, sheets.join(format!("{subject}.png"))).unwrap();
        std::fs::remove_file(&qa).unwrap();
        written.push(bytes);
    }
    let again = bin()
        .args(["deface", "--qa-only", "--input"])
        .arg(&root)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("wrote the QA sheet of 2 of 3 subjects")
            && stderr.contains("sub002: NO QA SHEET: no mask to render"),
        "{stderr}"
    );
    for (subject, before) in ["sub001", "sub003"].iter().zip(&written) {
        let qa = std::fs::read(out.join(subject).join("qa.png")).unwrap();
        assert!(
            &qa == before,
            "{subject}: the sheet differs when rendered again"
        );
    }

    // No original identifier anywhere in the output tree but the quarantine.
    for entry in walkdir(&out) {
        if entry
            .components()
            .any(|c| c.as_os_str() == "quarantine" || c.as_os_str() == ".anonymizer")
        {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap();
        for secret in ["Doe^Jane", "Poe^Edgar", "MRN-000", "Phantom General"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {}",
                entry.display()
            );
        }
    }
}

#[test]
fn a_bad_script_or_an_output_inside_the_input_is_refused_before_any_subject() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("in");
    std::fs::create_dir_all(root.join("sub001")).unwrap();
    let bad = tmp.path().join("bad.script");
    std::fs::write(
        &bad,
        "<script>\n<e en=\"T\" t=\"00100010\">@nosuchfunction()</e>\n",
    )
    .unwrap();
    for (output, script, expected) in [
        (root.join("defaced"), "high", "must not contain one another"),
        (tmp.path().join("out"), bad.to_str().unwrap(), "bad.script"),
    ] {
        let run = bin()
            .args(["deface", "--input"])
            .arg(&root)
            .arg("--output")
            .arg(&output)
            .args(["--script", script])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !stderr.contains("sub001"),
            "no subject was started: {stderr}"
        );
    }
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}
