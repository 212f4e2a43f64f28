//! What `check` refuses in a CTP script is exactly what the run would
//! stop or drop: each enabled rule of the `invalid-regex` and `value-vr`
//! examples is applied alone to an object that has its element, and the
//! rules `check` flags are the ones that quarantine the object (a regular
//! expression) or lose the element (a value its VR cannot hold).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use dicom_anonymizer::check::check;
use dicom_anonymizer::dialect::Dialect;
use dicom_anonymizer::functions::ctp::integer::MemoryIntegerTable;
use dicom_anonymizer::functions::ctp::put::dictionary_vr;
use dicom_anonymizer::interpreter::ctp::{self, CtpScript, Meta, Stop, Tables};
use dicom_anonymizer::script::ast::{Item, TagSpec};
use dicom_anonymizer::script::parse;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::InMemDicomObject;

/// An element of `tag` with an ordinary value of its dictionary VR.
fn present(tag: Tag) -> DataElement<InMemDicomObject> {
    let vr = dictionary_vr(tag).unwrap_or(VR::LO);
    let value = match vr {
        VR::US | VR::OW => PrimitiveValue::from(1u16),
        VR::SS => PrimitiveValue::from(1i16),
        VR::UL => PrimitiveValue::from(1u32),
        VR::SL => PrimitiveValue::from(1i32),
        VR::FL => PrimitiveValue::from(1f32),
        VR::FD => PrimitiveValue::from(1f64),
        VR::AT => PrimitiveValue::Tags(vec![Tag(0x0010, 0x0010)].into()),
        VR::SQ => {
            return DataElement::new(
                tag,
                vr,
                DataSetSequence::from(vec![InMemDicomObject::new_empty()]),
            );
        }
        _ => PrimitiveValue::from("Doe^John"),
    };
    DataElement::new(tag, vr, value)
}

enum Outcome {
    Written,
    /// The element was removed with a warning.
    Dropped,
    Quarantined,
}

/// Apply one rule (with the script's parameters) to an object holding its element.
fn apply_alone(params: &str, rule_line: &str, tag: Tag) -> Outcome {
    let source = format!("<script>\n{params}\n{rule_line}\n</script>");
    let parsed = parse(&source).script.expect("one rule parses");
    let compiled = CtpScript::compile(&parsed);
    let lookup = HashMap::from([("acc/X1".to_string(), "Y1".to_string())]);
    let integers = MemoryIntegerTable::default();
    let tables = Tables {
        lookup: &lookup,
        integers: &integers,
    };
    let mut obj = InMemDicomObject::from_element_iter([present(tag)]);
    match ctp::anonymize(&mut obj, &Meta::new(), &compiled, &tables) {
        Err(Stop::Quarantine(_)) => Outcome::Quarantined,
        Err(Stop::Skip(_)) => panic!("no rule here skips"),
        Ok(warnings) if warnings.is_empty() => Outcome::Written,
        Ok(_) => {
            assert!(obj.get(tag).is_none(), "a warning means the element went");
            Outcome::Dropped
        }
    }
}

fn agree(example: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts/broken/ctp")
        .join(format!("{example}.script"));
    let source = std::fs::read_to_string(&path).unwrap();
    let parsed = parse(&source);
    let flagged: BTreeSet<u32> = check(&parsed, Dialect::Ctp)
        .iter()
        .filter(|d| d.code == example)
        .filter(|d| d.severity == dicom_anonymizer::diagnostic::Severity::Error)
        .map(|d| d.span.line)
        .collect();
    let params: Vec<&str> = source
        .lines()
        .filter(|l| l.trim_start().starts_with("<p "))
        .collect();
    let params = params.join("\n");
    let mut lost = BTreeSet::new();
    let mut applied = 0;
    for item in &parsed.script.as_ref().unwrap().items {
        let Item::Element(rule) = item else { continue };
        if !rule.enabled.is_enabled() {
            continue;
        }
        let Some(TagSpec::Tag { group, element }) = rule.tag else {
            continue;
        };
        let line = rule.span.line;
        let text = source.lines().nth(line as usize - 1).unwrap();
        applied += 1;
        match apply_alone(&params, text, Tag(group, element)) {
            Outcome::Written => {}
            Outcome::Dropped | Outcome::Quarantined => {
                lost.insert(line);
            }
        }
    }
    assert!(applied >= 6, "{example}: only {applied} rules");
    assert!(!flagged.is_empty(), "{example}: nothing flagged");
    assert_eq!(
        flagged, lost,
        "{example}: lines check refuses vs lines whose run loses the object or element"
    );
}

#[test]
fn check_refuses_exactly_the_regular_expressions_that_quarantine() {
    agree("invalid-regex");
}

#[test]
fn check_refuses_exactly_the_literal_values_the_vr_cannot_hold() {
    agree("value-vr");
}
