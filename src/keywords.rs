//! DICOM keywords, from the standard data dictionary (`dicom-dictionary-std`).

use std::sync::OnceLock;

use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::StandardDataDictionary;

use crate::spelling::closest;

/// The tag a standard keyword names.
pub fn tag_of(keyword: &str) -> Option<Tag> {
    StandardDataDictionary
        .by_name(keyword)
        .map(|e| e.tag_range().inner())
}

/// The standard keyword of a tag.
pub fn keyword_of(group: u16, element: u16) -> Option<&'static str> {
    StandardDataDictionary
        .by_tag(Tag(group, element))
        .map(|e| e.alias())
}

/// The tag a keyword names as CTP reads it (dcm4che's names): the
/// standard keyword, or one written with dcm4che's `Ref…`/`…Seq`
/// abbreviations.
pub fn tag_of_dcm4che(name: &str) -> Option<Tag> {
    tag_of(name).or_else(|| tag_of(&expand_abbreviations(name)))
}

/// A standard keyword close to `name`: first CTP's dcm4che-style
/// abbreviations spelled out (`RefStudySeq` → `ReferencedStudySequence`),
/// then a near spelling.
pub fn suggest(name: &str) -> Option<String> {
    let expanded = expand_abbreviations(name);
    if expanded != name && tag_of(&expanded).is_some() {
        return Some(expanded);
    }
    closest(name, all_keywords()).map(str::to_string)
}

fn expand_abbreviations(name: &str) -> String {
    let mut s = name.to_string();
    if let Some(rest) = s.strip_prefix("Ref")
        && !rest.starts_with("erenced")
    {
        s = format!("Referenced{rest}");
    }
    if let Some(stem) = s.strip_suffix("Seq") {
        s = format!("{stem}Sequence");
    }
    s
}

/// Every keyword of the standard dictionary. The dictionary crate cannot
/// list its entries, so this probes every element of each group the standard
/// defines, once, on the first call (only needed to suggest a spelling).
fn all_keywords() -> impl Iterator<Item = &'static str> {
    static KEYWORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let keywords = KEYWORDS.get_or_init(|| {
        const OTHER_GROUPS: [u16; 35] = [
            0x0400, 0x1000, 0x1010, 0x2000, 0x2010, 0x2020, 0x2030, 0x2040, 0x2050, 0x2100, 0x2110,
            0x2120, 0x2130, 0x2200, 0x3002, 0x3004, 0x3006, 0x3008, 0x300A, 0x300C, 0x300E, 0x3010,
            0x4000, 0x4008, 0x4010, 0x4FFE, 0x5000, 0x5200, 0x5400, 0x5600, 0x6000, 0x7FE0, 0xFFFA,
            0xFFFC, 0xFFFE,
        ];
        let groups = (0x0000..=0x0100u16).step_by(2).chain(OTHER_GROUPS);
        let mut out: Vec<&'static str> = groups
            .flat_map(|g| (0..=0xFFFFu16).filter_map(move |e| keyword_of(g, e)))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    });
    keywords.iter().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_resolve_both_ways() {
        assert_eq!(tag_of("PatientID"), Some(Tag(0x0010, 0x0020)));
        assert_eq!(keyword_of(0x0010, 0x0010), Some("PatientName"));
        assert_eq!(tag_of("PatientId"), None);
    }

    #[test]
    fn dcm4che_abbreviations_are_suggested() {
        assert_eq!(
            suggest("RefStudySeq").as_deref(),
            Some("ReferencedStudySequence")
        );
        assert_eq!(suggest("PatientNme").as_deref(), Some("PatientName"));
    }
}
