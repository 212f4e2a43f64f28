//! The RSNA DICOM Anonymizer's engine, applied to one data set.
//!
//! Reference: `rsna-anonymizer` 19.0.10, `AnonymizerModel._load_script` (which
//! rules count) and `AnonymizerController.anonymize` / `_anonymize_element`
//! (what they do). In order:
//!
//! 1. every private element is removed, at every depth;
//! 2. a missing PatientID is added, empty, so that its rule applies;
//! 3. every element, in tag order and recursing into sequence items after
//!    the element itself, is deleted when no rule names its tag, kept when
//!    its rule is empty, `@keep` or unrecognised, and otherwise rewritten by
//!    the operation the rule's text selects ([`classify`]);
//! 4. PatientIdentityRemoved, DeidentificationMethod,
//!    DeidentificationMethodCodeSequence and the `RSNA` private block
//!    (site ID, project name) are written.
//!
//! Two deliberate differences from the reference, both listed in the README:
//! a multi-valued element under `@uid` or `@hashdate` has each value mapped
//! (the reference quarantines the whole file), and nothing else differs.

use std::collections::HashMap;

use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::values::{
    for_each_item, has_value, is_text_vr, multi_text_element, resolve_unknown_vrs, text_element,
    text_values,
};
use crate::dialect::rsna::{RsnaOperation, operation};
use crate::functions::extension::{age_group, bin, dummy};
use crate::functions::rsna::{hashdate, lookup, round, uid::UidGenerator};
use crate::script::ast::{ElementRule, Item, Script};

/// One rule as the RSNA engine keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub op: RsnaOperation,
    /// The rule's text, as written.
    pub text: String,
    /// The script line of the rule.
    pub line: u32,
    /// The width of an extension (`@agegroup(this,5)`, `@bin(this,0.05)`):
    /// its second argument, when that is a number.
    pub width: Option<String>,
}

/// The rules of a script, keyed as the RSNA engine keys them.
#[derive(Debug, Clone, Default)]
pub struct RsnaRules {
    rules: HashMap<Tag, Rule>,
    /// Whether any rule uses `@lookup`: then every patient must be in the
    /// lookup table.
    pub lookup_required: bool,
}

impl RsnaRules {
    /// Read the `<e>` rules of a script as `_load_script` does: `en` is
    /// ignored, a rule whose text contains `@remove` is dropped (it does not
    /// undo an earlier rule for the same tag), a later rule replaces an
    /// earlier one, and the `t` attribute must be exactly eight upper-case
    /// hexadecimal digits to ever match an element.
    pub fn compile(script: &Script) -> Self {
        let mut rules = HashMap::new();
        for item in &script.items {
            let Item::Element(rule) = item else { continue };
            let op = operation(&rule.text.value);
            if op == RsnaOperation::Remove {
                continue;
            }
            let Some(tag) = reference_key(&rule.tag_text.value) else {
                continue;
            };
            rules.insert(
                tag,
                Rule {
                    op,
                    text: rule.text.value.clone(),
                    line: rule.span.line,
                    width: extension_width(rule, op),
                },
            );
        }
        let lookup_required = rules
            .values()
            .any(|r| matches!(r.op, RsnaOperation::Lookup | RsnaOperation::LookupDateOffset))
            || script.items.iter().any(|i| {
                matches!(i, Item::Element(r) if r.text.value.contains("@lookup") && !r.text.value.contains("@remove"))
            });
        RsnaRules {
            rules,
            lookup_required,
        }
    }

    /// The rule for a tag, if the script has one.
    pub fn get(&self, tag: Tag) -> Option<&Rule> {
        self.rules.get(&tag)
    }
}

/// The second argument of the extension call an `@agegroup` or `@bin`
/// rule makes, when it is a number.
fn extension_width(rule: &ElementRule, op: RsnaOperation) -> Option<String> {
    let call = rule.expr.as_ref()?.call_named(op.extension_name()?)?;
    call.number_arg(1).map(String::from)
}

/// The tag a `t` attribute names, when the reference could ever match it:
/// the key is compared with `str(tag)` stripped of punctuation and
/// upper-cased, so only eight upper-case hex digits match.
fn reference_key(t: &str) -> Option<Tag> {
    if t.len() != 8
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return None;
    }
    let n = u32::from_str_radix(t, 16).ok()?;
    Some(Tag((n >> 16) as u16, (n & 0xFFFF) as u16))
}

/// The project settings the engine needs.
#[derive(Debug, Clone)]
pub struct Project {
    pub site_id: String,
    pub project_name: String,
    pub uids: UidGenerator,
    /// Write what the RSNA tool writes where it writes invalid values
    /// (`@acc`, `@round`); by default those are valid.
    pub rsna_exact: bool,
}

/// What the store knows of the file's patient and study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The original PatientID, stripped.
    pub phi_patient_id: String,
    pub anon_patient_id: String,
    /// The study's anonymized accession number, when the study has one.
    pub anon_accession: Option<String>,
    /// Days `@lookup(…dateoffset)` shifts dates by.
    pub date_offset: i64,
}

/// An element the engine could not rewrite; the reference quarantines the
/// file (`Storage_Error`) in each of these cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementError {
    /// Where: `(0008,1115)[0]/(0008,1155)`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ElementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What the RSNA tool writes in DeidentificationMethod (0012,0063).
pub const DEIDENTIFICATION_METHOD: &str = "RSNA DICOM ANONYMIZER";
/// The codes it writes in DeidentificationMethodCodeSequence (0012,0064).
pub const DEIDENTIFICATION_METHODS: [(&str, &str); 3] = [
    ("113100", "Basic Application Confidentiality Profile"),
    (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    ("113108", "Retain Patient Characteristics Option"),
];
/// The private creator of the block it adds in group 0013.
pub const PRIVATE_BLOCK_NAME: &str = "RSNA";

/// Every original → anonymized UID pair the engine wrote, for the store.
pub type UidLog = Vec<(String, String)>;

/// Anonymize one data set in place.
pub fn anonymize(
    obj: &mut InMemDicomObject,
    rules: &RsnaRules,
    project: &Project,
    subject: &Subject,
    uid_log: &mut UidLog,
) -> Result<(), ElementError> {
    remove_private(obj);
    resolve_unknown_vrs(obj);
    if obj.get(tags::PATIENT_ID).is_none() {
        obj.put(DataElement::new(
            tags::PATIENT_ID,
            VR::LO,
            PrimitiveValue::Empty,
        ));
    }
    let walker = Walker {
        rules,
        project,
        subject,
    };
    walker.walk(obj, None, uid_log)?;
    for element in deidentification_elements(project) {
        obj.put(element);
    }
    Ok(())
}

/// What [`anonymize`] does to one top-level element, `tag` of `obj`, for a
/// reader that meets the data set's elements one at a time: the private
/// elements inside it removed, a UN VR the dictionary knows resolved,
/// then its rule applied (it is removed when it has none) and its items
/// walked. `obj` holds the element and what decoding it needs (the
/// character set); nothing else in it is touched. A missing PatientID
/// is added before its rule applies, as [`anonymize`] adds it, when `tag`
/// is PatientID and `obj` has none.
pub fn anonymize_element(
    obj: &mut InMemDicomObject,
    tag: Tag,
    rules: &RsnaRules,
    project: &Project,
    subject: &Subject,
    uid_log: &mut UidLog,
) -> Result<(), ElementError> {
    if tag.group() % 2 == 1 {
        obj.remove_element(tag);
        return Ok(());
    }
    if let Ok(element) = obj.take_element(tag) {
        let mut single = InMemDicomObject::from_element_iter([element]);
        remove_private(&mut single);
        resolve_unknown_vrs(&mut single);
        if let Ok(element) = single.take_element(tag) {
            obj.put(element);
        }
    } else if tag == tags::PATIENT_ID {
        obj.put(DataElement::new(
            tags::PATIENT_ID,
            VR::LO,
            PrimitiveValue::Empty,
        ));
    } else {
        return Ok(());
    }
    let walker = Walker {
        rules,
        project,
        subject,
    };
    walker.walk_one(obj, tag, None, uid_log)
}

/// `Dataset.remove_private_tags()`: every odd group, at every depth.
fn remove_private(obj: &mut InMemDicomObject) {
    let private: Vec<Tag> = obj.tags().filter(|t| t.group() % 2 == 1).collect();
    for tag in private {
        obj.remove_element(tag);
    }
    for_each_item(obj, remove_private);
}

/// Where an element sits: its tag, under the item of the sequence that
/// holds it. Spelled out (`(0008,1115)[0]/(0020,000E)`) only for an error.
struct ElementPath<'a> {
    parent: Option<(&'a ElementPath<'a>, usize)>,
    tag: Tag,
}

impl std::fmt::Display for ElementPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((parent, item)) = self.parent {
            write!(f, "{parent}[{item}]/")?;
        }
        write!(f, "({:04X},{:04X})", self.tag.group(), self.tag.element())
    }
}

struct Walker<'a> {
    rules: &'a RsnaRules,
    project: &'a Project,
    subject: &'a Subject,
}

impl Walker<'_> {
    fn walk(
        &self,
        obj: &mut InMemDicomObject,
        parent: Option<(&ElementPath, usize)>,
        uid_log: &mut UidLog,
    ) -> Result<(), ElementError> {
        let tags: Vec<Tag> = obj.tags().collect();
        for tag in tags {
            self.walk_one(obj, tag, parent, uid_log)?;
        }
        Ok(())
    }

    /// One element of `obj`: its rule applied (removed when it has none),
    /// then its items walked.
    fn walk_one(
        &self,
        obj: &mut InMemDicomObject,
        tag: Tag,
        parent: Option<(&ElementPath, usize)>,
        uid_log: &mut UidLog,
    ) -> Result<(), ElementError> {
        let path = ElementPath { parent, tag };
        let Some(rule) = self.rules.get(tag) else {
            obj.remove_element(tag);
            return Ok(());
        };
        self.apply(obj, tag, rule, &path, uid_log)?;
        let mut result = Ok(());
        obj.update_value(tag, |v| {
            if let Some(items) = v.items_mut() {
                for (i, item) in items.iter_mut().enumerate() {
                    if result.is_ok() {
                        result = self.walk(item, Some((&path, i)), uid_log);
                    }
                }
            }
        });
        result
    }

    /// `_anonymize_element` for one element that has a rule.
    fn apply(
        &self,
        obj: &mut InMemDicomObject,
        tag: Tag,
        rule: &Rule,
        path: &ElementPath,
        uid_log: &mut UidLog,
    ) -> Result<(), ElementError> {
        let Some(element) = obj.get(tag) else {
            return Ok(());
        };
        let vr = element.vr();
        let error = |message: String| ElementError {
            path: path.to_string(),
            message,
        };
        let texts = || {
            text_values(element.value(), vr).ok_or_else(|| {
                error(format!(
                    "`{}` needs a text value, but the element is {vr:?}",
                    rule.text
                ))
            })
        };
        let replacement: Option<Vec<String>> = match rule.op {
            RsnaOperation::Keep | RsnaOperation::Unrecognised | RsnaOperation::Remove => None,
            RsnaOperation::Empty => {
                let emptied = match element.value() {
                    Value::Sequence(_) => {
                        DataElement::new(tag, VR::SQ, DataSetSequence::<InMemDicomObject>::empty())
                    }
                    _ => DataElement::new(tag, vr, PrimitiveValue::Empty),
                };
                obj.put(emptied);
                return Ok(());
            }
            RsnaOperation::Uid => {
                let mut out = Vec::new();
                for phi in texts()? {
                    let anon = self.project.uids.anon_uid(&phi);
                    uid_log.push((phi, anon.clone()));
                    out.push(anon);
                }
                Some(out)
            }
            RsnaOperation::Ptid | RsnaOperation::Lookup => {
                Some(vec![self.subject.anon_patient_id.clone()])
            }
            RsnaOperation::Acc => {
                let value = texts()?.join("\\");
                if value.is_empty() {
                    Some(vec![String::new()])
                } else {
                    self.subject.anon_accession.clone().map(|a| vec![a])
                }
            }
            RsnaOperation::HashDate => {
                let mut out = Vec::new();
                for value in texts()? {
                    let (_, date) = hashdate::hash_date(&value, &self.subject.phi_patient_id)
                        .map_err(|e| error(format!("date {:?} shifted past year 9999", e.0)))?;
                    out.push(date);
                }
                Some(out)
            }
            RsnaOperation::LookupDateOffset => {
                let value = texts()?.join("\\");
                Some(vec![lookup::apply_date_offset(
                    &value,
                    self.subject.date_offset,
                )])
            }
            RsnaOperation::Round => match element.value() {
                // pydicom gives None for an empty non-text element: kept.
                Value::Primitive(PrimitiveValue::Empty) if !is_text_vr(vr) => None,
                _ => {
                    let Some(width) = round::width(&rule.text) else {
                        return Ok(());
                    };
                    let age = texts()?.join("\\");
                    let round = if self.project.rsna_exact {
                        round::round_age
                    } else {
                        round::round_age_valid
                    };
                    let rounded = round(&age, width)
                        .map_err(|_| error("`@round` with width 0 divides by zero".into()))?;
                    Some(vec![rounded])
                }
            },
            RsnaOperation::AgeGroup | RsnaOperation::Bin => {
                return self.apply_extension(obj, tag, rule, vr, error);
            }
            RsnaOperation::Dummy => {
                // An empty value stays empty: nothing to hide, nothing made up.
                if !has_value(element.value()) {
                    return Ok(());
                }
                let value = dummy::dummy(vr)
                    .ok_or_else(|| error(format!("`@dummy()` has no dummy value for VR {vr:?}")))?;
                obj.put(text_element(tag, vr, value));
                return Ok(());
            }
        };
        if let Some(values) = replacement {
            if !is_text_vr(vr) {
                return Err(error(format!(
                    "`{}` writes text, but the element is {vr:?}",
                    rule.text
                )));
            }
            obj.put(multi_text_element(tag, vr, values));
        }
        Ok(())
    }
}

impl Walker<'_> {
    /// `@agegroup` and `@bin`: each value of a text, DS or IS element
    /// rewritten; a value that is not an age (a number) empties the element. A rule
    /// without a valid width, or a binary element, is an error: the file is
    /// quarantined rather than released with the value kept.
    fn apply_extension(
        &self,
        obj: &mut InMemDicomObject,
        tag: Tag,
        rule: &Rule,
        vr: VR,
        error: impl Fn(String) -> ElementError,
    ) -> Result<(), ElementError> {
        let Some(element) = obj.get(tag) else {
            return Ok(());
        };
        let values = match (vr, element.value()) {
            (_, Value::Primitive(PrimitiveValue::Empty)) => return Ok(()),
            (VR::DS | VR::IS, Value::Primitive(p)) => Some(
                p.to_multi_str()
                    .iter()
                    .map(|v| v.trim().to_string())
                    .collect::<Vec<_>>(),
            ),
            _ => text_values(element.value(), vr),
        };
        let Some(values) = values else {
            return Err(error(format!(
                "`{}` needs a text value, but the element is {vr:?}",
                rule.text
            )));
        };
        let width = rule.width.as_deref().unwrap_or("");
        let mut out = Vec::with_capacity(values.len());
        for value in &values {
            let new = if rule.op == RsnaOperation::AgeGroup {
                let years = width
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        error(format!(
                            "`{}` needs a whole number of years, as in `@agegroup(this,5)`",
                            rule.text
                        ))
                    })?;
                age_group::age_group(value, years)
            } else {
                let width = bin::Width::parse(width).ok_or_else(|| {
                    error(format!(
                        "`{}` needs a positive width, as in `@bin(this,5)`",
                        rule.text
                    ))
                })?;
                bin::bin(value, width)
            };
            match new {
                Some(v) => out.push(v),
                None => {
                    obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
                    return Ok(());
                }
            }
        }
        if values.is_empty() {
            return Ok(());
        }
        if vr == VR::IS && out.iter().any(|v| v.contains('.')) {
            // A decimal width made a fraction that IS cannot hold.
            obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
            return Ok(());
        }
        obj.put(multi_text_element(tag, vr, out));
        Ok(())
    }
}

/// The elements the RSNA tool writes after applying the script (each
/// replaces an element of the same tag).
pub fn deidentification_elements(project: &Project) -> Vec<DataElement<InMemDicomObject>> {
    let items: Vec<InMemDicomObject> = DEIDENTIFICATION_METHODS
        .iter()
        .map(|(code, meaning)| {
            InMemDicomObject::from_element_iter([
                text_element(tags::CODE_VALUE, VR::SH, *code),
                text_element(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "DCM"),
                text_element(tags::CODE_MEANING, VR::LO, *meaning),
            ])
        })
        .collect();
    vec![
        text_element(tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES"),
        text_element(
            tags::DEIDENTIFICATION_METHOD,
            VR::LO,
            DEIDENTIFICATION_METHOD,
        ),
        DataElement::new(
            tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(items),
        ),
        text_element(Tag(0x0013, 0x0010), VR::LO, PRIVATE_BLOCK_NAME),
        text_element(Tag(0x0013, 0x1001), VR::SH, project.site_id.clone()),
        text_element(Tag(0x0013, 0x1003), VR::SH, project.project_name.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_paths_name_each_sequence_item_on_the_way() {
        let top = ElementPath {
            parent: None,
            tag: Tag(0x0008, 0x1115),
        };
        let mid = ElementPath {
            parent: Some((&top, 2)),
            tag: Tag(0x0008, 0x114A),
        };
        let leaf = ElementPath {
            parent: Some((&mid, 0)),
            tag: Tag(0x0008, 0x1155),
        };
        assert_eq!(top.to_string(), "(0008,1115)");
        assert_eq!(
            leaf.to_string(),
            "(0008,1115)[2]/(0008,114A)[0]/(0008,1155)"
        );
    }
}
