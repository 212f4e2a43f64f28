//! `anonymize --dialect ctp`: the batch with a CTP script: `--param`,
//! `@skip()` and `@quarantine()` outcomes, and `@integer` numbers that
//! survive a re-run.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn anonymize(input: &Path, output: &Path, script: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args(["anonymize", "--dialect", "ctp", "--site-id", "3"])
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .arg("--script")
        .arg(script)
        .args(extra)
        .output()
        .unwrap()
}

const SCRIPT: &str = r#"<script>
 <p t="SUFFIX">-default</p>
 <r en="T" t="privategroups">x</r>
 <e en="T" t="00100010" n="PatientName">@if(this,contains,"skip"){@skip()}{@if(this,contains,"hold"){@quarantine()}{@integer(PatientID,subjects,3)@param(@SUFFIX)}}</e>
 <e en="T" t="00080080" n="InstitutionName">@remove()</e>
</script>"#;

#[test]
fn params_skips_quarantines_and_lasting_integers() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    common::synthetic::mr_file(&input.join("a.dcm"), 1, "Alpha^A", "040Y");
    common::synthetic::mr_file(&input.join("b.dcm"), 2, "Beta^skip", "040Y");
    common::synthetic::mr_file(&input.join("c.dcm"), 3, "Gamma^hold", "040Y");
    common::synthetic::mr_file(&input.join("d.dcm"), 4, "Delta^D", "040Y");
    let script = dir.path().join("s.script");
    std::fs::write(&script, SCRIPT).unwrap();
    let output = dir.path().join("out");

    let out = anonymize(
        &input,
        &output,
        &script,
        &["--param", "SUFFIX=-x", "--jobs", "1"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one file quarantined: {stderr}");
    assert!(stderr.contains("anonymized 2 files"), "{stderr}");
    assert!(stderr.contains("skipped by the script 1"), "{stderr}");
    assert!(output.join("quarantine/Script_Quarantine/c.dcm").is_file());
    assert!(!output.join("b.dcm").exists());
    let name = |f: &str| {
        let obj = dicom_object::open_file(output.join(f)).unwrap();
        obj.element(dicom_dictionary_std::tags::PATIENT_NAME)
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(name("a.dcm"), "001-x");
    assert_eq!(name("d.dcm"), "002-x");
    let obj = dicom_object::open_file(output.join("a.dcm")).unwrap();
    assert!(
        obj.element(dicom_dictionary_std::tags::INSTITUTION_NAME)
            .is_err()
    );
    assert!(obj.element(dicom_core::Tag(0x0029, 0x1001)).is_err());

    // A new patient in a later run gets the next number; the old keep theirs.
    std::fs::remove_file(output.join("a.dcm")).unwrap();
    common::synthetic::mr_file(&input.join("e.dcm"), 5, "Epsilon^E", "040Y");
    let out = anonymize(&input, &output, &script, &["--param", "SUFFIX=-x"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(name("a.dcm"), "001-x");
    assert_eq!(name("e.dcm"), "003-x");
}

#[test]
fn a_malformed_param_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let script = dir.path().join("s.script");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = anonymize(
        &input,
        &dir.path().join("out"),
        &script,
        &["--param", "NOEQUALS"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOEQUALS"));
}
