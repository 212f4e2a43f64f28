//! Our rsna dialect writes valid values where the RSNA tool writes invalid
//! ones, and `--rsna-exact` writes the tool's: `@acc` as 16 hex digits
//! (AccessionNumber is SH, at most 16) instead of `8-4-4`, and `@round` as
//! a 4-character AS (`005Y`) instead of `5Y`. A store keeps one form: a
//! run in the other form is refused. (`tests/differential_rsna.rs` shows
//! `--rsna-exact` byte for byte equal to the RSNA engine.)

mod common;

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

/// A script that rounds ages with `@round` (the bundled high level now
/// groups them with our `@agegroup`, which `--rsna-exact` leaves alone).
const ROUND_AGES: &str = r#"<script>
 <e en="T" t="00080016" n="SOPClassUID"></e>
 <e en="T" t="00080018" n="SOPInstanceUID">@uid</e>
 <e en="T" t="00080060" n="Modality"></e>
 <e en="T" t="00100020" n="PatientID">@ptid</e>
 <e en="T" t="00101010" n="PatientAge">@round(this,5)</e>
 <e en="T" t="0020000D" n="StudyInstanceUID">@uid</e>
 <e en="T" t="0020000E" n="SeriesInstanceUID">@uid</e>
</script>
"#;

/// `anonymize` with `level`: the bundled low level (it hashes the
/// accession number) or a script's path.
fn anonymize(level: &str, input: &Path, output: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = common::cli::anonymize_headers(level, "8", input, output, extra);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// AccessionNumber and PatientAge of the one output under `root`.
fn written(root: &Path) -> (String, String) {
    let (rel, _) = common::trees::outputs(root).into_iter().next().unwrap();
    let obj = dicom_object::open_file(root.join(rel)).unwrap();
    let get = |tag| {
        obj.element(tag)
            .map(|e| e.to_str().unwrap().trim_end().to_string())
            .unwrap_or_default()
    };
    (get(tags::ACCESSION_NUMBER), get(tags::PATIENT_AGE))
}

#[test]
fn valid_values_by_default_and_the_rsna_tools_with_rsna_exact() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let file = input.join("one.dcm");
    common::synthetic::mr_file(&file, 4, "Exact^Or^Not", "003Y");
    let mut obj = dicom_object::open_file(&file).unwrap();
    obj.put(DataElement::new(
        tags::ACCESSION_NUMBER,
        VR::SH,
        PrimitiveValue::from("ACC-0003"),
    ));
    obj.write_to_file(&file).unwrap();

    let round_ages = dir.path().join("round_ages.script");
    std::fs::write(&round_ages, ROUND_AGES).unwrap();
    let round_ages = round_ages.to_str().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let mut got = Vec::new();
        for (level, script) in [("low", "low"), ("high", round_ages)] {
            let output = dir.path().join(format!("{name}-{level}"));
            let (code, log) = anonymize(script, &input, &output, extra);
            assert_eq!(code, Some(0), "{log}");
            got.push(written(&output));
        }
        // The low level's accession number, the rounded age.
        (got[0].0.clone(), got[1].1.clone())
    };
    let (accession, age) = run("valid", &[]);
    assert_eq!(accession.len(), 16, "{accession}");
    assert!(
        accession.chars().all(|c| c.is_ascii_hexdigit()),
        "{accession}"
    );
    assert_eq!(age, "005Y");

    let (exact_accession, exact_age) = run("exact", &["--rsna-exact"]);
    assert_eq!(exact_accession.len(), 18, "{exact_accession}");
    assert_eq!(
        exact_accession.replace('-', ""),
        accession,
        "the same digits"
    );
    assert_eq!(exact_age, "5Y");

    // The store keeps its form.
    let (code, log) = anonymize("low", &input, &dir.path().join("exact-low"), &[]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("rsna_exact"), "{log}");
    let (code, log) = anonymize(
        "low",
        &input,
        &dir.path().join("valid-low"),
        &["--rsna-exact"],
    );
    assert_eq!(code, Some(2), "{log}");
}
