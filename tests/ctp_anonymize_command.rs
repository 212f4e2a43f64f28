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

/// A field script's parameters (`stanford-anonymizer.script` of susom/mirc-ctp
/// takes PATIENTID, JITTER and ACCESSION on the command line and uses a
/// DATEINC it never defines): `--param` counts wherever the script's
/// parameters are resolved, `check` included, and an undefined parameter
/// is a warning and gives what CTP gives; only an undefined encryption
/// key (the empty key: anyone could decrypt) refuses the script.
#[test]
fn command_line_parameters_and_undefined_ones_as_ctp_treats_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    common::synthetic::mr_file(&input.join("a.dcm"), 1, "Alpha^A", "040Y");
    let script = dir.path().join("field.script");
    std::fs::write(
        &script,
        r#"<script>
 <e en="T" t="00100020" n="PatientID">@param(@PATIENTID)</e>
 <e en="T" t="00100010" n="PatientName">@param(@PATIENTID)</e>
 <e en="T" t="00080020" n="StudyDate">@incrementdate(this,@DATEINC)</e>
</script>"#,
    )
    .unwrap();
    let value = |output: &Path, tag| {
        let obj = dicom_object::open_file(output.join("a.dcm")).unwrap();
        obj.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_string()
    };
    use dicom_dictionary_std::tags::{PATIENT_ID, PATIENT_NAME, STUDY_DATE};

    let output = dir.path().join("given");
    let out = anonymize(&input, &output, &script, &["--param", "PATIENTID=P1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(value(&output, PATIENT_ID), "P1");
    assert_eq!(value(&output, PATIENT_NAME), "P1");
    // CTP empties a date whose increment parameter is undefined.
    assert_eq!(value(&output, STUDY_DATE), "");
    assert!(
        stderr.contains("no parameter `DATEINC` is defined")
            && stderr.contains("`@incrementdate` empties the date")
            && stderr.contains("DATEINC (missing), PATIENTID (--param)"),
        "{stderr}"
    );
    assert!(!stderr.contains("no parameter `PATIENTID`"), "{stderr}");

    // Nothing given: CTP writes the text `null` for `@param` of nothing.
    let output = dir.path().join("none");
    let out = anonymize(&input, &output, &script, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(value(&output, PATIENT_ID), "null");

    // `check --param` agrees with `anonymize --param`.
    let check = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
            .args(["check", "--dialect", "ctp"])
            .arg(&script)
            .args(extra)
            .output()
            .unwrap()
    };
    let all = check(&["--param", "PATIENTID=P1", "--param", "@DATEINC=-3"]);
    let text = String::from_utf8_lossy(&all.stdout);
    assert_eq!(all.status.code(), Some(0), "{text}");
    assert!(text.contains("0 errors, 0 warnings"), "{text}");
    assert!(
        text.contains("DATEINC (--param), PATIENTID (--param)"),
        "{text}"
    );
    assert_eq!(check(&["--param", "no equals sign"]).status.code(), Some(2));

    // An undefined encryption key is refused before any file is touched.
    std::fs::write(
        &script,
        r#"<script><e en="T" t="00100020" n="PatientID">@encrypt(this,@KEY)</e></script>"#,
    )
    .unwrap();
    let output = dir.path().join("key");
    let out = anonymize(&input, &output, &script, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("anyone can decrypt"), "{stderr}");
    assert!(!output.join("a.dcm").exists());
    let out = anonymize(&input, &output, &script, &["--param", "KEY=s3cret"]);
    assert_eq!(out.status.code(), Some(0));
}
