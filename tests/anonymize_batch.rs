//! The `anonymize` command on small synthetic trees: outputs, idempotent
//! re-runs, resuming, the quarantine, exit statuses, the store and its
//! export, and that no planted identifier survives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{InMemDicomObject, open_file};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/scripts/valid/rsna_small.script"
);

fn text(tag: dicom_core::Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

/// A small CT-like file of patient `pid`.
fn write_file(path: &Path, pid: &str, name: &str, study: &str, sop: &str) {
    let referenced = InMemDicomObject::from_element_iter([
        text(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            uids::CT_IMAGE_STORAGE,
        ),
        text(
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            &format!("{sop}.9"),
        ),
    ]);
    let obj = InMemDicomObject::from_element_iter([
        text(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE),
        text(tags::SOP_INSTANCE_UID, VR::UI, sop),
        text(tags::STUDY_DATE, VR::DA, "20200115"),
        text(tags::ACCESSION_NUMBER, VR::SH, "ACC-7781"),
        text(tags::MODALITY, VR::CS, "CT"),
        text(tags::INSTITUTION_NAME, VR::LO, "Saint Planted Hospital"),
        DataElement::new(
            tags::REFERENCED_IMAGE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![referenced]),
        ),
        text(tags::PATIENT_NAME, VR::PN, name),
        text(tags::PATIENT_ID, VR::LO, pid),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, "19610203"),
        text(tags::PATIENT_AGE, VR::AS, "043Y"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, study),
        text(tags::SERIES_INSTANCE_UID, VR::UI, &format!("{study}.1")),
        text(dicom_core::Tag(0x0009, 0x0010), VR::LO, "PLANTED CREATOR"),
        text(
            dicom_core::Tag(0x0009, 0x1001),
            VR::LO,
            "Planted Private Value",
        ),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(vec![7u8; 64].into()),
        ),
    ]);
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    file.write_to_file(path).unwrap();
}

fn tree(root: &Path) {
    write_file(
        &root.join("p1/a.dcm"),
        "MRN-1001",
        "Doe^Jane",
        "1.2.3.100",
        "1.2.3.100.1.1",
    );
    write_file(
        &root.join("p1/b.dcm"),
        "MRN-1001",
        "Doe^Jane",
        "1.2.3.100",
        "1.2.3.100.1.2",
    );
    write_file(
        &root.join("p2/c"),
        "MRN-2002",
        "Roe^Richard",
        "1.2.3.200",
        "1.2.3.200.1.1",
    );
    // A duplicate SOPInstanceUID, a file without a required UID, and a non-DICOM file.
    write_file(
        &root.join("p2/copy-of-c.dcm"),
        "MRN-2002",
        "Roe^Richard",
        "1.2.3.200",
        "1.2.3.200.1.1",
    );
    write_file(
        &root.join("p3/bad.dcm"),
        "MRN-3003",
        "Poe^Edgar",
        "",
        "1.2.3.300.1.1",
    );
    std::fs::write(root.join("notes.txt"), "not a DICOM file").unwrap();
}

fn anonymize(input: &Path, output: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .arg("anonymize")
        .args(["--input".as_ref(), input.as_os_str()])
        .args(["--output".as_ref(), output.as_os_str()])
        .args([
            "--script",
            SCRIPT,
            "--site-id",
            "42",
            "--uid-root",
            "1.2.999",
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| !p.starts_with(dir.join(".anonymizer")))
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_tree_is_anonymized_with_its_structure_and_problems_are_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, output) = (tmp.path().join("in"), tmp.path().join("out"));
    tree(&input);
    let before: Vec<Vec<u8>> = files_under(&input)
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let out = anonymize(&input, &output, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "quarantined files give exit 1: {stderr}"
    );
    assert!(stderr.contains("anonymized 3 files"), "{stderr}");
    assert!(stderr.contains("not DICOM 1"), "{stderr}");
    assert!(stderr.contains("duplicate SOPInstanceUID 1"), "{stderr}");
    assert!(stderr.contains("Missing_Attributes 1"), "{stderr}");

    // Inputs untouched.
    let after: Vec<Vec<u8>> = files_under(&input)
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(before, after);

    // The structure is preserved; the quarantine holds the bad file and a report.
    for rel in ["p1/a.dcm", "p1/b.dcm", "p2/c"] {
        assert!(output.join(rel).is_file(), "{rel}");
    }
    assert!(
        output
            .join("quarantine/Missing_Attributes/p3/bad.dcm")
            .is_file()
    );
    let report = std::fs::read_to_string(output.join("quarantine/report.csv")).unwrap();
    assert!(
        report.contains("p3/bad.dcm,Missing_Attributes,missing StudyInstanceUID"),
        "{report}"
    );

    // The values.
    let a = open_file(output.join("p1/a.dcm")).unwrap();
    let b = open_file(output.join("p1/b.dcm")).unwrap();
    let c = open_file(output.join("p2/c")).unwrap();
    let get = |o: &dicom_object::DefaultDicomObject, t| {
        o.get(t).map(|e| {
            e.to_str()
                .unwrap()
                .trim_end_matches(['\0', ' '])
                .to_string()
        })
    };
    assert_eq!(get(&a, tags::PATIENT_ID).as_deref(), Some("42-000001"));
    assert_eq!(get(&a, tags::PATIENT_NAME).as_deref(), Some("42-000001"));
    assert_eq!(get(&c, tags::PATIENT_ID).as_deref(), Some("42-000002"));
    assert_eq!(
        get(&a, tags::STUDY_INSTANCE_UID),
        get(&b, tags::STUDY_INSTANCE_UID)
    );
    assert!(
        get(&a, tags::STUDY_INSTANCE_UID)
            .unwrap()
            .starts_with("1.2.999.42.2.")
    );
    assert_eq!(get(&a, tags::PATIENT_AGE).as_deref(), Some("045Y"));
    assert_eq!(get(&a, tags::PATIENT_BIRTH_DATE), None);
    assert_eq!(get(&a, tags::INSTITUTION_NAME), None);
    assert_eq!(
        get(&a, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
        Some("YES")
    );
    assert_eq!(
        a.meta().media_storage_sop_instance_uid(),
        get(&a, tags::SOP_INSTANCE_UID).unwrap()
    );
    assert_eq!(
        a.get(tags::PIXEL_DATA)
            .unwrap()
            .to_bytes()
            .unwrap()
            .as_ref(),
        &[7u8; 64][..]
    );

    // Nothing planted survives anywhere in the output bytes.
    for path in files_under(&output) {
        if path.starts_with(output.join("quarantine")) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for phi in [
            "MRN-1001",
            "MRN-2002",
            "Doe^Jane",
            "Roe^Richard",
            "19610203",
            "20200115",
            "ACC-7781",
            "Saint Planted",
            "Planted Private",
            "1.2.3.100",
            "1.2.3.200",
        ] {
            assert!(
                memchr::memmem::find(&bytes, phi.as_bytes()).is_none(),
                "{phi} survives in {}",
                path.display()
            );
        }
    }

    // The store is private, and its export re-identifies.
    let store = output.join(".anonymizer/store.sqlite");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let export = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args(["lookup", "export", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&export.stdout);
    assert!(
        csv.starts_with("patient_id,anon_patient_id,study_uid"),
        "{csv}"
    );
    assert!(
        csv.contains("MRN-1001,42-000001,1.2.3.100,1.2.999.42.2."),
        "{csv}"
    );
}

#[test]
fn a_rerun_is_idempotent_and_resumes_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, output) = (tmp.path().join("in"), tmp.path().join("out"));
    tree(&input);
    anonymize(&input, &output, &["--jobs", "3"]);
    let first = std::fs::read(output.join("p1/b.dcm")).unwrap();
    let c_first = std::fs::read(output.join("p2/c")).unwrap();

    // As after a kill: one output is gone. Only it is redone, identically.
    std::fs::remove_file(output.join("p1/b.dcm")).unwrap();
    let out = anonymize(&input, &output, &["--jobs", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("anonymized 1 files"), "{stderr}");
    assert!(stderr.contains("already done 2"), "{stderr}");
    assert_eq!(std::fs::read(output.join("p1/b.dcm")).unwrap(), first);
    assert_eq!(std::fs::read(output.join("p2/c")).unwrap(), c_first);

    // A new file of a known patient gets the same anonymized ID.
    write_file(
        &input.join("p1/z.dcm"),
        "MRN-1001",
        "Doe^Jane",
        "1.2.3.100",
        "1.2.3.100.1.3",
    );
    anonymize(&input, &output, &[]);
    let z = open_file(output.join("p1/z.dcm")).unwrap();
    assert_eq!(
        z.get(tags::PATIENT_ID)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end(),
        "42-000001"
    );

    // Another site ID would break the mapping: refused.
    let out = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .arg("anonymize")
        .args([
            "--input".as_ref(),
            input.as_os_str(),
            "--output".as_ref(),
            output.as_os_str(),
        ])
        .args(["--script", SCRIPT, "--site-id", "43"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("site_id"));
}

#[test]
fn a_script_with_errors_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, output) = (tmp.path().join("in"), tmp.path().join("out"));
    tree(&input);
    let script = tmp.path().join("broken.script");
    std::fs::write(
        &script,
        "<script>\n<e en=\"T\" t=\"00100010\">@ptid</e>\n<e t=\"zz\">\n</script>\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .arg("anonymize")
        .args([
            "--input".as_ref(),
            input.as_os_str(),
            "--output".as_ref(),
            output.as_os_str(),
        ])
        .arg("--script")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.script:4:1: error"), "{stderr}");
    assert!(!output.exists(), "no output directory is created");
}

#[test]
fn output_inside_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    tree(&input);
    let out = anonymize(&input, &input.join("out"), &[]);
    assert_eq!(out.status.code(), Some(2));
}
