//! Which series are heads: from BodyPartExamined, the descriptions, and the
//! volume's own extent.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::canonical::Modality;
use super::volume::Volume;

/// Words of BodyPartExamined and descriptions that mean a head.
const HEAD_WORDS: [&str; 16] = [
    "HEAD", "BRAIN", "SKULL", "CRAN", "NEURO", "ORBIT", "SINUS", "FACE", "FACIAL", "IAC", "PITUIT",
    "CEREB", "WILLIS", "STROKE", "HIPPOC", "SELLA",
];
/// Words that mean another part of the body.
const OTHER_WORDS: [&str; 22] = [
    "CHEST", "THORAX", "LUNG", "ABDOMEN", "ABD", "PELVIS", "SPINE", "LSPINE", "TSPINE", "KNEE",
    "SHOULDER", "HIP", "ANKLE", "WRIST", "HAND", "FOOT", "BREAST", "HEART", "CARDIAC", "LIVER",
    "PROSTATE", "ELBOW",
];

fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_uppercase())
        .unwrap_or_default()
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
}

fn mentions(s: &str, list: &[&str]) -> bool {
    words(s).any(|w| list.iter().any(|h| w.starts_with(h)))
}

/// The modality the deface stage treats a series as, or why it does not.
pub fn modality(obj: &InMemDicomObject) -> Result<Modality, String> {
    match text(obj, tags::MODALITY).as_str() {
        "CT" => Ok(Modality::Ct),
        "MR" => Ok(Modality::Mr),
        "" => Err("no Modality".into()),
        other => Err(format!("modality {other} is neither CT nor MR")),
    }
}

/// What the headers say: `Some(true)` a head, `Some(false)` another part of
/// the body, `None` nothing either way.
pub fn header_says_head(obj: &InMemDicomObject) -> Option<bool> {
    let body = text(obj, tags::BODY_PART_EXAMINED);
    if !body.is_empty() {
        if mentions(&body, &HEAD_WORDS) {
            return Some(true);
        }
        if mentions(&body, &OTHER_WORDS) {
            return Some(false);
        }
    }
    let descriptions = [
        text(obj, tags::SERIES_DESCRIPTION),
        text(obj, tags::STUDY_DESCRIPTION),
        text(obj, tags::PROTOCOL_NAME),
    ]
    .join(" ");
    if mentions(&descriptions, &HEAD_WORDS) {
        Some(true)
    } else if mentions(&descriptions, &OTHER_WORDS) {
        Some(false)
    } else {
        None
    }
}

/// Whether a volume is big enough to hold a face and small enough to be a
/// head: at least 60 mm along each axis, at most 350 mm across its
/// slices (body scans are wider).
pub fn geometry_fits_a_head(volume: &Volume) -> Result<(), String> {
    let spacing = volume.spacing();
    let extent: Vec<f64> = (0..3).map(|d| volume.dims[d] as f64 * spacing[d]).collect();
    if extent.iter().any(|&e| e < 60.0) {
        return Err(format!(
            "covers {:.0} × {:.0} × {:.0} mm: too small to hold a face",
            extent[0], extent[1], extent[2]
        ));
    }
    if extent[0] > 350.0 && extent[1] > 350.0 {
        return Err(format!(
            "a field of view of {:.0} × {:.0} mm is a body, not a head",
            extent[0], extent[1]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};

    fn obj(body: &str, description: &str) -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        if !body.is_empty() {
            o.put(DataElement::new(
                tags::BODY_PART_EXAMINED,
                VR::CS,
                PrimitiveValue::from(body),
            ));
        }
        o.put(DataElement::new(
            tags::SERIES_DESCRIPTION,
            VR::LO,
            PrimitiveValue::from(description),
        ));
        o
    }

    #[test]
    fn headers_name_heads_and_other_parts() {
        assert_eq!(header_says_head(&obj("HEAD", "")), Some(true));
        assert_eq!(header_says_head(&obj("BRAIN", "")), Some(true));
        assert_eq!(header_says_head(&obj("CHEST", "Head first")), Some(false));
        assert_eq!(header_says_head(&obj("", "T1 MPRAGE brain")), Some(true));
        assert_eq!(header_says_head(&obj("", "CT ABD/PELVIS")), Some(false));
        assert_eq!(header_says_head(&obj("", "Series 3")), None);
        // Words match from their start.
        assert_eq!(header_says_head(&obj("", "SHEAD")), None);
    }
}
