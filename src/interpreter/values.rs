//! Element values as text, the way the reference engines see them.

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemFragment;

/// An element of an in-memory data set.
pub type Element = DataElement<InMemDicomObject, InMemFragment>;

/// Value representations whose values pydicom gives as text (`str` or a
/// list of `str`). DS and IS are numbers there, and so are not text here.
pub fn is_text_vr(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE
            | VR::AS
            | VR::CS
            | VR::DA
            | VR::DT
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::TM
            | VR::UC
            | VR::UI
            | VR::UR
            | VR::UT
    )
}

/// The values of a text element, each without its trailing padding (spaces
/// and NULs), or `None` when the element does not hold text.
pub fn text_values(value: &Value<InMemDicomObject, InMemFragment>, vr: VR) -> Option<Vec<String>> {
    if !is_text_vr(vr) {
        return None;
    }
    match value {
        Value::Primitive(PrimitiveValue::Empty) => Some(vec![String::new()]),
        Value::Primitive(PrimitiveValue::Str(s)) => Some(vec![trim_padding(s).to_string()]),
        Value::Primitive(PrimitiveValue::Strs(v)) => {
            Some(v.iter().map(|s| trim_padding(s).to_string()).collect())
        }
        Value::Primitive(p) => Some(vec![p.to_str().into_owned()]),
        _ => None,
    }
}

/// Whether a value holds anything but padding: a non-blank text, a
/// number, a sequence item, pixel fragments.
pub fn has_value(value: &Value<InMemDicomObject, InMemFragment>) -> bool {
    match value {
        Value::Primitive(PrimitiveValue::Empty) => false,
        Value::Primitive(p @ (PrimitiveValue::Str(_) | PrimitiveValue::Strs(_))) => p
            .to_multi_str()
            .iter()
            .any(|s| !trim_padding(s).trim_start_matches(' ').is_empty()),
        Value::Primitive(_) | Value::PixelSequence(_) => true,
        Value::Sequence(s) => !s.items().is_empty(),
    }
}

/// A text value without the padding DICOM adds to reach an even length.
pub fn trim_padding(s: &str) -> &str {
    s.trim_end_matches([' ', '\0'])
}

/// The single string of an element, as `str(ds.X).strip()` gives it for
/// the identifiers the engine keys on (PatientID, AccessionNumber, UIDs).
pub fn string_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag).map(|e| match e.value() {
        Value::Primitive(p) => p.to_str().trim().to_string(),
        _ => String::new(),
    })
}

/// A new text element with one value.
pub fn text_element(tag: Tag, vr: VR, value: impl Into<String>) -> Element {
    let value: String = value.into();
    if value.is_empty() {
        DataElement::new(tag, vr, PrimitiveValue::Empty)
    } else {
        DataElement::new(tag, vr, PrimitiveValue::from(value))
    }
}

/// A new text element with several values.
pub fn multi_text_element(tag: Tag, vr: VR, values: Vec<String>) -> Element {
    if values.len() == 1 {
        return text_element(tag, vr, values.into_iter().next().unwrap_or_default());
    }
    DataElement::new(tag, vr, PrimitiveValue::Strs(values.into()))
}

/// Give an element read as UN its dictionary VR, as pydicom does
/// (`config.replace_un_with_known_vr`): text values are decoded (they are
/// ASCII in the VRs the dictionary assigns), 16- and 32-bit integers and
/// floats are read little endian. Elements that cannot be converted stay UN.
pub fn resolve_unknown_vrs(obj: &mut InMemDicomObject) {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    use dicom_core::header::Header;
    use dicom_dictionary_std::StandardDataDictionary;

    let unknown: Vec<(Tag, VR)> = obj
        .iter()
        .filter(|e| e.vr() == VR::UN)
        .filter_map(|e| match StandardDataDictionary.by_tag(e.tag())?.vr() {
            VirtualVr::Exact(vr) if vr != VR::UN && vr != VR::SQ => Some((e.tag(), vr)),
            _ => None,
        })
        .collect();
    for (tag, vr) in unknown {
        let Some(bytes) = obj.get(tag).and_then(|e| match e.value() {
            Value::Primitive(PrimitiveValue::U8(b)) => Some(b.to_vec()),
            Value::Primitive(PrimitiveValue::Empty) => Some(Vec::new()),
            _ => None,
        }) else {
            continue;
        };
        let value = if is_text_vr(vr) || matches!(vr, VR::DS | VR::IS) {
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            let text = trim_padding(&text);
            if text.is_empty() {
                Some(PrimitiveValue::Empty)
            } else {
                Some(PrimitiveValue::Strs(
                    text.split('\\').map(str::to_string).collect(),
                ))
            }
        } else {
            numbers(vr, &bytes)
        };
        if let Some(value) = value {
            obj.put(DataElement::new(tag, vr, value));
        }
    }
    for_each_item(obj, resolve_unknown_vrs);
}

/// Apply `f` to every item of every sequence element of `obj` (one level
/// down; `f` recurses itself when it needs to).
pub fn for_each_item(obj: &mut InMemDicomObject, mut f: impl FnMut(&mut InMemDicomObject)) {
    use dicom_core::header::Header;
    let sequences: Vec<Tag> = obj
        .iter()
        .filter(|e| matches!(e.value(), Value::Sequence(_)))
        .map(|e| e.tag())
        .collect();
    for tag in sequences {
        obj.update_value(tag, |v| {
            if let Some(items) = v.items_mut() {
                items.iter_mut().for_each(&mut f);
            }
        });
    }
}

fn numbers(vr: VR, bytes: &[u8]) -> Option<PrimitiveValue> {
    macro_rules! read {
        ($t:ty, $n:expr, $variant:ident) => {{
            if bytes.len() % $n != 0 {
                return None;
            }
            Some(PrimitiveValue::$variant(
                bytes
                    .chunks_exact($n)
                    .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk size")))
                    .collect(),
            ))
        }};
    }
    match vr {
        VR::US => read!(u16, 2, U16),
        VR::SS => read!(i16, 2, I16),
        VR::UL => read!(u32, 4, U32),
        VR::SL => read!(i32, 4, I32),
        VR::FL => read!(f32, 4, F32),
        VR::FD => read!(f64, 8, F64),
        _ => None,
    }
}

/// A DCM code (`code`, `meaning`) added to DeidentificationMethodCodeSequence,
/// once: the sequence is made when missing, and an item with the same code
/// value is not repeated.
pub fn add_method_code(obj: &mut InMemDicomObject, code: &str, meaning: &str) {
    let mut items: Vec<InMemDicomObject> = obj
        .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
        .and_then(|e| e.items())
        .map(|i| i.to_vec())
        .unwrap_or_default();
    let has = items.iter().any(|i| {
        i.get(tags::CODE_VALUE)
            .and_then(|e| e.to_str().ok())
            .is_some_and(|v| v.trim() == code)
    });
    if !has {
        items.push(InMemDicomObject::from_element_iter([
            text_element(tags::CODE_VALUE, VR::SH, code),
            text_element(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "DCM"),
            text_element(tags::CODE_MEANING, VR::LO, meaning),
        ]));
    }
    obj.put(DataElement::new(
        tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        VR::SQ,
        dicom_core::value::DataSetSequence::from(items),
    ));
}
