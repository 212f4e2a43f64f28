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

#[test]
fn a_migration_that_breaks_or_mends_required_attributes_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus");
    common::synthetic::mr_file(&input.join("a.dcm"), 1, "A^B", "052Y");
    // PatientName is emptied at the low level (Type 2 in MR Image: valid);
    // removing it makes the object invalid, and back again makes it valid.
    // (Inside a sequence, attributes are not judged.)
    let removes = LOW_LEVEL.replace(
        r#"n="PatientName">@empty()</e>"#,
        r#"n="PatientName">@remove()</e>"#,
    );
    assert_ne!(removes, LOW_LEVEL);
    let script = dir.path().join("removes.script");
    std::fs::write(&script, removes).unwrap();

    let out = diff("low", script.to_str().unwrap(), &input);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "(0008,9215)/(0010,0010) PatientName: emptied → removed, 1 file",
            "(0010,0010) PatientName: emptied → removed, 1 file; invalid in MR Image (Type 2)",
        ],
        "{text}"
    );
    let back = diff(script.to_str().unwrap(), "low", &input);
    let text = String::from_utf8_lossy(&back.stdout);
    assert!(
        text.lines().any(|l| l
            == "(0010,0010) PatientName: removed → emptied, 1 file; valid again in MR Image (Type 2)"),
        "{text}"
    );
    let json = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args(["diff", "--format", "json", "--from", "low", "--to"])
        .arg(&script)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let name = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tag"] == "(0010,0010)")
        .unwrap();
    assert_eq!(name["validity"], "invalid in MR Image (Type 2)");
}
