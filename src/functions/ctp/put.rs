//! CTP's `putXX`: the text a rule produces, written as an element of a
//! given VR (`\\` separates values). Numbers must parse, tags must name
//! a tag, and bulk or sequence VRs take no text. The interpreter writes
//! rule values through it; `check` uses it to refuse a literal value its
//! element cannot hold before a run starts.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_object::InMemDicomObject;

use super::dcm4che_values::{self, java_parse_double, java_parse_int};
use crate::keywords::tag_of_dcm4che;

/// A text element with one value (none when `value` is empty).
fn text_element(tag: Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
    if value.is_empty() {
        DataElement::new(tag, vr, PrimitiveValue::Empty)
    } else {
        DataElement::new(tag, vr, PrimitiveValue::from(value))
    }
}

/// The element `putXX` writes: `value` split on `\` into values of `vr`,
/// or why dcm4che would refuse them ([`dcm4che_values`]).
pub fn typed_value(tag: Tag, vr: VR, value: &str) -> Result<DataElement<InMemDicomObject>, String> {
    if tag.group() % 2 == 1 {
        let vr = if tag.element() < 0x100 || value.chars().count() <= 64 {
            VR::LO
        } else {
            VR::LT
        };
        return Ok(text_element(tag, vr, value));
    }
    if value.is_empty() {
        return Ok(match vr {
            VR::PN => text_element(tag, vr, " "),
            VR::SQ => DataElement::new(tag, vr, DataSetSequence::<InMemDicomObject>::empty()),
            _ => DataElement::new(tag, vr, PrimitiveValue::Empty),
        });
    }
    let values = super::hashname::java_split(value, '\\');
    let bad = |v: &str| format!("{v:?} is not a valid {vr:?} value");
    // Integers as Java parses them (no spaces), within the VR's range.
    macro_rules! integers {
        ($t:ty, $variant:ident) => {{
            let parsed: Result<Vec<$t>, String> = values
                .iter()
                .map(|v| {
                    let chars: Vec<char> = v.chars().collect();
                    // 64-bit VRs: Java's Long, which takes what Rust takes.
                    match java_parse_int(&chars) {
                        Some(n) => <$t>::try_from(n).ok(),
                        None => v
                            .parse::<$t>()
                            .ok()
                            .filter(|_| std::mem::size_of::<$t>() == 8 && !v.starts_with(' ')),
                    }
                    .ok_or_else(|| bad(v))
                })
                .collect();
            PrimitiveValue::$variant(parsed?.into())
        }};
    }
    let dates = |ok: fn(&[char]) -> bool| -> Result<PrimitiveValue, String> {
        for v in &values {
            if !ok(&v.chars().collect::<Vec<_>>()) {
                return Err(bad(v));
            }
        }
        Ok(PrimitiveValue::Strs(
            values.iter().map(|s| s.to_string()).collect(),
        ))
    };
    let floats = || -> Result<Vec<f64>, String> {
        values
            .iter()
            .map(|v| java_parse_double(&v.chars().collect::<Vec<_>>()).ok_or_else(|| bad(v)))
            .collect()
    };
    let primitive = match vr {
        VR::US => integers!(u16, U16),
        VR::SS => integers!(i16, I16),
        VR::UL => integers!(u32, U32),
        VR::SL => integers!(i32, I32),
        VR::UV => integers!(u64, U64),
        VR::SV => integers!(i64, I64),
        VR::FL => PrimitiveValue::F32(floats()?.into_iter().map(|v| v as f32).collect()),
        VR::FD => PrimitiveValue::F64(floats()?.into()),
        VR::DA => dates(dcm4che_values::da)?,
        VR::TM => dates(dcm4che_values::tm)?,
        VR::DT => dates(dcm4che_values::dt)?,
        VR::AT => {
            let parsed: Result<Vec<Tag>, String> = values
                .iter()
                .map(|v| {
                    dcm4che_values::at(v)
                        .map(|n| Tag((n >> 16) as u16, n as u16))
                        .ok_or_else(|| bad(v))
                })
                .collect();
            PrimitiveValue::Tags(parsed?.into())
        }
        VR::SQ | VR::OB | VR::OW | VR::OD | VR::OF | VR::OL | VR::OV | VR::UN => {
            return Err(format!("text cannot be written as {vr:?}"));
        }
        _ => PrimitiveValue::Strs(values.iter().map(|s| s.to_string()).collect()),
    };
    Ok(DataElement::new(tag, vr, primitive))
}

/// `DicomObject.getElementTag`: a dcm4che keyword, `ggggeeee` (1–8 hex
/// digits) or `gggg,eeee`, optionally in `{}`, `[]` or `()`.
pub fn standard_tag(name: &str) -> Option<Tag> {
    let mut name = name.trim();
    for (open, close) in [('{', '}'), ('[', ']'), ('(', ')')] {
        if name.starts_with(open) && name.ends_with(close) && name.len() >= 2 {
            name = name[1..name.len() - 1].trim();
            break;
        }
    }
    if let Some(tag) = tag_of_dcm4che(name) {
        return Some(tag);
    }
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    if (1..=8).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        let n = hex(name)?;
        return (n != 0).then_some(Tag((n >> 16) as u16, n as u16));
    }
    let (g, e) = name.split_once(',')?;
    if g.len() <= 4
        && (1..=4).contains(&e.len())
        && g.bytes().all(|b| b.is_ascii_hexdigit())
        && e.bytes().all(|b| b.is_ascii_hexdigit())
    {
        let n = (hex(g).unwrap_or(0) << 16) | hex(e)?;
        return (n != 0).then_some(Tag((n >> 16) as u16, n as u16));
    }
    None
}

/// The VR the standard dictionary gives a tag, when it gives exactly one.
pub fn dictionary_vr(tag: Tag) -> Option<VR> {
    match StandardDataDictionary.by_tag(tag)?.vr() {
        VirtualVr::Exact(vr) => Some(vr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_in_every_ctp_form() {
        assert_eq!(standard_tag("PatientID"), Some(Tag(0x0010, 0x0020)));
        assert_eq!(standard_tag("[0010,0020]"), Some(Tag(0x0010, 0x0020)));
        assert_eq!(standard_tag("(00100020)"), Some(Tag(0x0010, 0x0020)));
        assert_eq!(standard_tag("RefStudySeq"), Some(Tag(0x0008, 0x1110)));
        assert_eq!(standard_tag("nonsense"), None);
    }
}
