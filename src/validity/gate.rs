//! The gate a run with `QUARANTINE_INVALID` (the bundled policies) passes
//! each object through: an object the script would make invalid is
//! quarantined with the reason, never released broken.
//!
//! "Invalid" is judged against the input, so that only new errors count:
//! an attribute the object's IOD requires (Type 1 or 2) that the input had
//! and the output lacks, or one that must have a value (Type 1, or 1C when
//! present) that the input had with a value and the output has empty.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::{Kind, Loss, table};
use crate::interpreter::values::{self, string_of};
use crate::keywords::keyword_of;

/// What the input held of the attributes its IOD requires.
#[derive(Debug, Clone)]
pub struct Before {
    iod: usize,
    /// Each required attribute the input has: its tag, type, and whether
    /// it has a value.
    had: Vec<(Tag, Kind, bool)>,
}

/// Whether an element is present, and if so whether it has a value.
fn has_value(obj: &InMemDicomObject, tag: Tag) -> Option<bool> {
    obj.get(tag).map(|e| values::has_value(e.value()))
}

/// Note the required attributes of `obj` before the script; `None` when
/// its SOP class is not one of the table's IODs (it is not judged).
pub fn before(obj: &InMemDicomObject) -> Option<Before> {
    let table = table();
    let iod = table.iod_of(&string_of(obj, tags::SOP_CLASS_UID)?)?;
    let had = table
        .required_in(iod)
        .iter()
        .filter_map(|&(tag, kind)| has_value(obj, tag).map(|v| (tag, kind, v)))
        .collect();
    Some(Before { iod, had })
}

impl Before {
    /// What the script did to the object that makes it invalid, one
    /// phrase each (`RTPlanLabel (Type 1 in RT Plan) emptied`).
    pub fn violations(&self, after: &InMemDicomObject) -> Vec<String> {
        let name = table().iods[self.iod].name;
        self.had
            .iter()
            .filter_map(|&(tag, kind, had_value)| {
                let loss = match has_value(after, tag) {
                    None => Loss::Removed,
                    Some(false) if had_value => Loss::Emptied,
                    Some(_) => return None,
                };
                loss.breaks(kind).then(|| {
                    let keyword = keyword_of(tag.group(), tag.element())
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("({:04X},{:04X})", tag.group(), tag.element()));
                    let verb = match loss {
                        Loss::Removed => "removed",
                        Loss::Emptied => "emptied",
                    };
                    format!("{keyword} (Type {kind} in {name}) {verb}")
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::{DataSetSequence, PrimitiveValue};
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::uids;

    fn text(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
        DataElement::new(tag, vr, PrimitiveValue::from(v))
    }

    fn report() -> InMemDicomObject {
        let item = InMemDicomObject::from_element_iter([text(tags::VALUE_TYPE, VR::CS, "TEXT")]);
        InMemDicomObject::from_element_iter([
            text(tags::SOP_CLASS_UID, VR::UI, uids::BASIC_TEXT_SR_STORAGE),
            text(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
            text(tags::CONTENT_DATE, VR::DA, "20200101"),
            text(tags::OPERATORS_NAME, VR::PN, "Op"),
            DataElement::new(
                tags::CONTENT_SEQUENCE,
                VR::SQ,
                DataSetSequence::from(vec![item]),
            ),
        ])
    }

    #[test]
    fn only_new_errors_count() {
        let input = report();
        let before = before(&input).unwrap();
        let mut out = input.clone();
        assert!(before.violations(&out).is_empty());
        // Type 2 emptied, Type 3 removed: still valid.
        out.put(DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            PrimitiveValue::Empty,
        ));
        out.remove_element(tags::OPERATORS_NAME);
        assert!(before.violations(&out).is_empty());
        // Type 2 removed, Type 1 emptied, Type 1C emptied: each named.
        out.remove_element(tags::PATIENT_NAME);
        out.put(DataElement::new(
            tags::CONTENT_DATE,
            VR::DA,
            PrimitiveValue::Empty,
        ));
        out.put(DataElement::new(
            tags::CONTENT_SEQUENCE,
            VR::SQ,
            DataSetSequence::<InMemDicomObject>::empty(),
        ));
        assert_eq!(
            before.violations(&out),
            [
                "ContentDate (Type 1 in Basic Text SR) emptied",
                "PatientName (Type 2 in Basic Text SR) removed",
                "ContentSequence (Type 1C in Basic Text SR) emptied",
            ]
        );
    }

    #[test]
    fn what_the_input_lacked_is_not_held_against_the_output() {
        let mut input = report();
        input.remove_element(tags::CONTENT_DATE);
        let before = before(&input).unwrap();
        let mut out = input.clone();
        out.remove_element(tags::CONTENT_DATE);
        assert!(before.violations(&out).is_empty());
        // An object of a class the table does not know is not judged.
        let mut other = report();
        other.put(text(tags::SOP_CLASS_UID, VR::UI, "1.2.3.4"));
        assert!(super::before(&other).is_none());
    }
}
