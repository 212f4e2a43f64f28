//! The bundled high level generalises patient characteristics with our own
//! functions: ages as HIPAA Safe Harbor groups (`@agegroup(this,5)`), and
//! weight, size and body part thickness binned (`@bin`), each written as a
//! valid value. The low level keeps them as they are.

mod common;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;

/// One synthetic file with these characteristics, anonymized with the
/// bundled `level`; the written values of the four characteristics (`None`
/// where the element is gone).
fn written(
    level: &str,
    age: &str,
    weight: &str,
    size: &str,
    thickness: &str,
) -> Vec<Option<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in/one.dcm");
    common::synthetic::mr_file(&file, 1, "Grouped^Patient", age);
    let mut obj = dicom_object::open_file(&file).unwrap();
    for (tag, value) in [
        (tags::PATIENT_WEIGHT, weight),
        (tags::PATIENT_SIZE, size),
        (tags::BODY_PART_THICKNESS, thickness),
    ] {
        obj.put(DataElement::new(tag, VR::DS, PrimitiveValue::from(value)));
    }
    obj.write_to_file(&file).unwrap();
    let output = dir.path().join("out");
    let out = common::cli::anonymize_headers(level, "8", &dir.path().join("in"), &output, &[]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        !log.contains("rsna-extension"),
        "a run does not repeat check's warning: {log}"
    );
    let (rel, _) = common::trees::outputs(&output).into_iter().next().unwrap();
    let obj = dicom_object::open_file(output.join(rel)).unwrap();
    let get = |tag: Tag| {
        obj.element(tag).ok().map(|e| {
            e.to_str()
                .unwrap()
                .trim_end_matches([' ', '\0'])
                .to_string()
        })
    };
    [
        tags::PATIENT_AGE,
        tags::PATIENT_WEIGHT,
        tags::PATIENT_SIZE,
        tags::BODY_PART_THICKNESS,
    ]
    .into_iter()
    .map(get)
    .collect()
}

fn high_age(age: &str) -> String {
    written("high", age, "70", "1.7", "200")[0].clone().unwrap()
}

#[test]
fn the_high_level_writes_safe_harbor_age_groups() {
    for (age, group) in [
        ("089Y", "085Y"),
        ("090Y", "090Y"),
        ("093Y", "090Y"),
        ("101Y", "090Y"),
        ("047Y", "045Y"),
        ("003Y", "000Y"),
        ("006M", "006M"),
        ("002W", "000M"),
        ("012D", "000M"),
    ] {
        assert_eq!(high_age(age), group, "{age}");
    }
    // Not an age: emptied, not guessed at.
    assert_eq!(high_age("45"), "");
}

#[test]
fn the_high_level_bins_weight_size_and_thickness_as_valid_ds() {
    let got = written("high", "047Y", "61.5", "1.73", "184");
    assert_eq!(
        got[1..],
        [Some("60".into()), Some("1.75".into()), Some("180".into())]
    );
    let got = written("high", "047Y", "62.5", "1.824", "5");
    assert_eq!(
        got[1..],
        [Some("65".into()), Some("1.8".into()), Some("10".into())]
    );
    // Not a number: emptied.
    let got = written("high", "047Y", "heavy", "1.7", "200");
    assert_eq!(got[1], Some(String::new()));
}

#[test]
fn the_low_level_keeps_them() {
    let got = written("low", "093Y", "61.5", "1.73", "184");
    assert_eq!(
        got,
        [
            Some("093Y".into()),
            Some("61.5".into()),
            Some("1.73".into()),
            Some("184".into())
        ]
    );
}
