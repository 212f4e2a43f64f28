//! Residual PHI: known identifiers are planted into copies of corpus files
//! (at the top level, inside nested sequences, in private elements, and in
//! Latin-1 and UTF-8 character sets), both bundled policies are run through
//! `anonymize`, and every byte of every output file is searched for them.
//! At the high level nothing planted may survive; at the low level only
//! the quasi-identifiers that policy keeps (age, weight, size, sex) may.

mod common;

use std::path::Path;
use std::process::Command;

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, open_file};

/// One planted value: where, and whether the low level keeps it.
struct Plant {
    value: &'static str,
    kept_at_low: bool,
}

const fn phi(value: &'static str) -> Plant {
    Plant {
        value,
        kept_at_low: false,
    }
}

fn text(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

/// The values planted in copy `n` of a file, in character set `charset`.
fn plants(charset: &str) -> Vec<(Tag, VR, Plant)> {
    let mut v = vec![
        (tags::PATIENT_ID, VR::LO, phi("PHI-MRN-4711")),
        (Tag(0x0010, 0x1000), VR::LO, phi("PHI-OTHER-0815")),
        (tags::PATIENT_BIRTH_DATE, VR::DA, phi("19530817")),
        (tags::STUDY_DATE, VR::DA, phi("19710203")),
        (tags::SERIES_DATE, VR::DA, phi("19710204")),
        (tags::STUDY_TIME, VR::TM, phi("131415.161718")),
        (tags::ACCESSION_NUMBER, VR::SH, phi("ACC-PHI-31337")),
        (tags::PATIENT_TELEPHONE_NUMBERS, VR::SH, phi("555-0199-77")),
        (tags::OPERATORS_NAME, VR::PN, phi("Operator^Plantedop")),
        (
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            phi("Doctor^Plantedref"),
        ),
        (
            tags::STUDY_DESCRIPTION,
            VR::LO,
            phi("Planted study of Alice"),
        ),
        (tags::STATION_NAME, VR::SH, phi("PLANTEDSTN7")),
        (tags::DEVICE_SERIAL_NUMBER, VR::LO, phi("SN-PLANTED-9")),
        (
            tags::PATIENT_AGE,
            VR::AS,
            Plant {
                value: "047Y",
                kept_at_low: true,
            },
        ),
        (
            tags::PATIENT_WEIGHT,
            VR::DS,
            Plant {
                value: "83.75",
                kept_at_low: true,
            },
        ),
        (
            tags::PATIENT_SIZE,
            VR::DS,
            Plant {
                value: "1.8325",
                kept_at_low: true,
            },
        ),
    ];
    let (name, institution, address) = match charset {
        "ISO_IR 192" => (
            "山田^太郎=やまだ^たろう",
            "Γενικό Νοσοκομείο Φυτεμένο",
            "서울특별시 강남구 심은로 7",
        ),
        "ISO_IR 100" => (
            "Müller^Jürgen",
            "Clínica Plantée Señora",
            "Große Straße 12, Zürich",
        ),
        _ => (
            "Plantedname^Alice",
            "Planted General Hospital",
            "42 Planted Street, Springfield",
        ),
    };
    v.push((tags::PATIENT_NAME, VR::PN, phi(name)));
    v.push((tags::INSTITUTION_NAME, VR::LO, phi(institution)));
    v.push((tags::PATIENT_ADDRESS, VR::LO, phi(address)));
    v
}

/// Values planted in sequences the policies keep (so the engine must
/// recurse into them), and in private elements.
const NESTED: [&str; 4] = [
    "Nested^Plantedname",
    "Nested Planted Clinic",
    "Deep^Plantedoperator",
    "PHI-NESTED-ID-5150",
];
const PRIVATE: [&str; 2] = ["Private Planted Value", "Private^Nested^Plantedname"];

/// Copy `source` to `dest` with the values planted and fresh UIDs.
fn plant(source: &Path, dest: &Path, n: usize, charset: &str) {
    let mut file = open_file(source).unwrap();
    let uid = |k: u32| format!("2.25.31337{n}{k}");
    file.put(text(tags::SPECIFIC_CHARACTER_SET, VR::CS, charset));
    for (tag, vr, p) in plants(charset) {
        file.put(text(tag, vr, p.value));
    }
    file.put(text(tags::PATIENT_ID, VR::LO, &format!("PHI-MRN-4711-{n}")));
    file.put(text(tags::STUDY_INSTANCE_UID, VR::UI, &uid(1)));
    file.put(text(tags::SERIES_INSTANCE_UID, VR::UI, &uid(2)));
    file.put(text(tags::SOP_INSTANCE_UID, VR::UI, &uid(3)));
    file.meta_mut().media_storage_sop_instance_uid = uid(3);
    file.meta_mut().update_information_group_length();
    // DerivationCodeSequence is kept by both policies: the rules apply
    // inside its items, two levels deep.
    let deep = InMemDicomObject::from_element_iter([
        text(tags::OPERATORS_NAME, VR::PN, NESTED[2]),
        text(tags::CODE_VALUE, VR::SH, "113076"),
    ]);
    let item = InMemDicomObject::from_element_iter([
        text(tags::PATIENT_NAME, VR::PN, NESTED[0]),
        text(tags::INSTITUTION_NAME, VR::LO, NESTED[1]),
        text(tags::PATIENT_ID, VR::LO, NESTED[3]),
        text(tags::CODE_VALUE, VR::SH, "113072"),
        sequence(tags::DERIVATION_CODE_SEQUENCE, vec![deep]),
    ]);
    file.put(sequence(tags::DERIVATION_CODE_SEQUENCE, vec![item]));
    file.put(text(Tag(0x0029, 0x0010), VR::LO, "PLANTED CREATOR"));
    file.put(text(Tag(0x0029, 0x1001), VR::LO, PRIVATE[0]));
    file.put(sequence(
        Tag(0x0029, 0x1002),
        vec![InMemDicomObject::from_element_iter([text(
            tags::PATIENT_NAME,
            VR::PN,
            PRIVATE[1],
        )])],
    ));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    file.write_to_file(dest).unwrap();
}

/// The byte forms a value can take in a file: UTF-8, and Latin-1 where it
/// has one.
fn encodings(value: &str) -> Vec<Vec<u8>> {
    let mut forms = vec![value.as_bytes().to_vec()];
    if !value.is_ascii() && value.chars().all(|c| (c as u32) < 256) {
        forms.push(value.chars().map(|c| c as u8).collect());
    }
    forms
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every planted value found in the output files, with the file.
fn survivors(output: &Path, values: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(output) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(output).unwrap();
        // The store holds the re-identification mapping by design, and the
        // quarantine holds originals; neither is output for sharing.
        if !entry.file_type().is_file()
            || rel.starts_with(".anonymizer")
            || rel.starts_with("quarantine")
        {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        for v in values {
            if encodings(v).iter().any(|e| contains(&bytes, e)) {
                found.push(format!("{v:?} in {}", rel.display()));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn no_planted_identifier_survives_either_policy() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    let sources = [
        "test_files/CT_small.dcm",
        "test_files/MR_small.dcm",
        "test_files/rtplan.dcm",
    ];
    let charsets = ["ISO_IR 6", "ISO_IR 100", "ISO_IR 192"];
    let mut n = 0;
    for source in sources {
        for charset in charsets {
            n += 1;
            plant(
                &corpus.join(source),
                &input.join(format!("s{n}/{}", source.replace('/', "_"))),
                n,
                charset,
            );
        }
    }
    // The planting itself must be visible in the inputs, or the search
    // below proves nothing.
    let mut all: Vec<(&str, bool)> = Vec::new();
    for charset in charsets {
        for (_, _, p) in plants(charset) {
            all.push((p.value, p.kept_at_low));
        }
    }
    all.extend(NESTED.iter().chain(&PRIVATE).map(|v| (*v, false)));
    all.sort();
    all.dedup();
    let values: Vec<&str> = all.iter().map(|(v, _)| *v).collect();
    let planted = survivors(&input, &values);
    for v in &values {
        assert!(
            planted.iter().any(|f| f.starts_with(&format!("{v:?} in"))),
            "{v:?} must be in some input file first"
        );
    }

    for level in ["low", "high"] {
        let output = dir.path().join(level);
        let out = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
            .args(["anonymize", "--script", level, "--site-id", "77", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&output)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report =
            std::fs::read_to_string(output.join("quarantine/report.csv")).unwrap_or_default();
        assert_eq!(out.status.code(), Some(0), "{level}: {stderr}\n{report}");
        assert!(
            stderr.contains(&format!("anonymized {n} files")),
            "{level}: {stderr}"
        );
        let expected: Vec<&str> = all
            .iter()
            .filter(|(_, kept)| level == "low" && *kept)
            .map(|(v, _)| *v)
            .collect();
        let found = survivors(&output, &values);
        let leaked: Vec<&String> = found
            .iter()
            .filter(|f| !expected.iter().any(|e| f.starts_with(&format!("{e:?} in"))))
            .collect();
        assert!(leaked.is_empty(), "{level} level leaks:\n{leaked:#?}");
        for e in &expected {
            assert!(
                found.iter().any(|f| f.starts_with(&format!("{e:?} in"))),
                "{level} level should keep {e:?}"
            );
        }
        println!(
            "{level} level: {} planted values in {n} files; {} survive as the policy keeps them",
            values.len(),
            expected.len()
        );
    }
}
