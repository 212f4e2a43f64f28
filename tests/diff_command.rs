//! `dicom-anonymizer diff`: how each tag's outcome changes between two
//! scripts across a corpus, for reviewing a policy migration.

mod common;

use std::process::{Command, Output};

use dicom_anonymizer::policy::LOW_LEVEL;

fn diff(from: &str, to: &str, input: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args(["diff", "--from", from, "--to", to, "--input"])
        .arg(input)
        .output()
        .unwrap()
}

#[test]
fn a_migration_is_reported_per_tag_with_file_counts() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus");
    for n in 1..=3 {
        common::synthetic::mr_file(&input.join(format!("p{n}/a.dcm")), n, "A^B", "052Y");
    }
    std::fs::write(input.join("notes.txt"), "not DICOM").unwrap();

    // The low level, with ages binned and the derivation codes dropped.
    let migrated = LOW_LEVEL
        .replace(
            r#"n="PatientAge"></e>"#,
            r#"n="PatientAge">@round(this,5)</e>"#,
        )
        .replace(
            r#"n="DerivationCodeSequence"></e>"#,
            r#"n="DerivationCodeSequence">@remove()</e>"#,
        );
    assert_ne!(migrated, LOW_LEVEL);
    let script = dir.path().join("migrated.script");
    std::fs::write(&script, migrated).unwrap();

    let out = diff("low", script.to_str().unwrap(), &input);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "(0008,9215) DerivationCodeSequence: kept → removed, 3 files",
            "(0008,9215)/(0008,0100) CodeValue: kept → gone with its sequence, 3 files",
            "(0008,9215)/(0010,0010) PatientName: emptied → gone with its sequence, 3 files",
            "(0010,1010) PatientAge: kept → binned @round(this,5), 3 files",
        ],
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("3 files compared (1 not DICOM)"),
        "{stderr}"
    );

    let same = diff("low", "low", &input);
    assert_eq!(same.status.code(), Some(0), "{same:?}");
    assert!(same.stdout.is_empty());
}

#[test]
fn low_to_high_shows_the_brief_policy_table() {
    let dir = tempfile::tempdir().unwrap();
    common::synthetic::mr_file(&dir.path().join("a.dcm"), 9, "A^B", "052Y");
    let out = diff("low", "high", dir.path());
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "(0010,0020) PatientID: pseudonymized → emptied, 1 file",
        "(0008,0020) StudyDate: shifted → emptied, 1 file",
        "(0010,1010) PatientAge: kept → binned @agegroup(this,5), 1 file",
        "(0010,1030) PatientWeight: kept → binned @bin(this,5), 1 file",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(
        !text.contains("PatientSex"),
        "sex is kept at both levels:\n{text}"
    );
}
