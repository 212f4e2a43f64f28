//! What a script does to each element of one data set: the rule that
//! applied (with its line), the outcome, and the value before and after.
//!
//! The explanation is read off a real run of the interpreter on a copy of
//! the data set, so it cannot drift from what `anonymize` writes. The
//! patient is taken to be the first of a new store (`<site>-000001`).

use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde::Serialize;

use crate::dialect::rsna::RsnaOperation;
use crate::functions::rsna::{acc, ptid};
use crate::interpreter::rsna::{self, ElementError, Project, RsnaRules, Subject};
use crate::interpreter::values::{Element, resolve_unknown_vrs, string_of, text_values};
use crate::keywords::keyword_of;

/// What happened to an element, in words a reviewer compares across
/// scripts (`kept → binned`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The value is unchanged (empty rule or `@keep`).
    Kept,
    /// The value is unchanged because the engine does not recognise the
    /// rule's text: a leak if the author meant to change it.
    KeptUnrecognised,
    /// Deleted: no rule names the tag, or its rule says `@remove`.
    Removed,
    /// Deleted with every private element, before the script runs.
    RemovedPrivate,
    /// Emptied (`@empty`); a sequence loses its items.
    Emptied,
    /// A new UID derived from the original (`@uid`).
    Remapped,
    /// A stable pseudonym (`@ptid`, `@acc`, `@lookup`).
    Pseudonymized,
    /// A date shifted by a per-patient offset (`@hashdate`, `@lookup` date offset).
    Shifted,
    /// An age rounded to a multiple of the rule's width (`@round`), an age
    /// put in its group (`@agegroup`), a number binned (`@bin`).
    Binned,
    /// Replaced by a fixed value of its VR (`@dummy`).
    Dummy,
    /// Not in the input: written by the engine after the script
    /// (PatientIdentityRemoved, the de-identification method, the RSNA block).
    Added,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Kept => "kept",
            Outcome::KeptUnrecognised => "kept (unrecognised rule)",
            Outcome::Removed => "removed",
            Outcome::RemovedPrivate => "removed (private)",
            Outcome::Emptied => "emptied",
            Outcome::Remapped => "remapped",
            Outcome::Pseudonymized => "pseudonymized",
            Outcome::Shifted => "shifted",
            Outcome::Binned => "binned",
            Outcome::Dummy => "dummy",
            Outcome::Added => "added",
        }
    }

    fn of(op: RsnaOperation) -> Self {
        match op {
            RsnaOperation::Keep => Outcome::Kept,
            RsnaOperation::Unrecognised => Outcome::KeptUnrecognised,
            RsnaOperation::Remove => Outcome::Removed,
            RsnaOperation::Empty => Outcome::Emptied,
            RsnaOperation::Uid => Outcome::Remapped,
            RsnaOperation::Ptid | RsnaOperation::Acc | RsnaOperation::Lookup => {
                Outcome::Pseudonymized
            }
            RsnaOperation::HashDate | RsnaOperation::LookupDateOffset => Outcome::Shifted,
            RsnaOperation::Round | RsnaOperation::AgeGroup | RsnaOperation::Bin => Outcome::Binned,
            RsnaOperation::Dummy => Outcome::Dummy,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One element of the input (or one the engine added), explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElementExplanation {
    /// Where the element is: `(0008,1115)[0]/(0008,1155)`.
    pub path: String,
    /// How many sequences deep (0 for the top level).
    pub depth: usize,
    /// `(gggg,eeee)`.
    pub tag: String,
    /// The standard keyword, or empty for a private or unknown tag.
    pub keyword: String,
    pub vr: String,
    /// The script line of the rule that applied, if one did.
    pub line: Option<u32>,
    /// The rule's text as written, if one applied.
    pub rule: Option<String>,
    pub outcome: Outcome,
    /// The original value; `None` unless asked for (it is PHI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The value written, or `None` when the element is gone.
    pub after: Option<String>,
}

/// How explanations are made.
#[derive(Debug, Clone)]
pub struct Explainer<'a> {
    pub rules: &'a RsnaRules,
    pub project: &'a Project,
    /// The salt of `@acc`.
    pub accession_salt: String,
    /// Whether to report original values.
    pub show_phi: bool,
}

impl Explainer<'_> {
    /// Explain what the script does to `obj` (which is not changed).
    pub fn explain(&self, obj: &InMemDicomObject) -> Result<Vec<ElementExplanation>, ElementError> {
        let mut before = obj.clone();
        resolve_unknown_vrs(&mut before);
        let mut after = before.clone();
        let subject = self.preview_subject(&before);
        rsna::anonymize(
            &mut after,
            self.rules,
            self.project,
            &subject,
            &mut Vec::new(),
        )?;
        let mut out = Vec::new();
        self.walk(&before, Some(&after), "", 0, &mut out);
        for element in after.iter() {
            if before.get(element.tag()).is_none() {
                out.push(self.entry("", 0, element, None, Outcome::Added, Some(render(element))));
            }
        }
        Ok(out)
    }

    /// The subject as a new store would capture it: the first patient,
    /// the accession number hashed with the project's salt.
    fn preview_subject(&self, obj: &InMemDicomObject) -> Subject {
        let accession = string_of(obj, tags::ACCESSION_NUMBER).filter(|a| !a.is_empty());
        Subject {
            phi_patient_id: string_of(obj, tags::PATIENT_ID).unwrap_or_default(),
            anon_patient_id: ptid::format(&self.project.site_id, 1),
            anon_accession: accession
                .map(|a| acc::hash_accession(&self.accession_salt, &a, self.project.rsna_exact)),
            date_offset: 0,
        }
    }

    fn walk(
        &self,
        before: &InMemDicomObject,
        after: Option<&InMemDicomObject>,
        prefix: &str,
        depth: usize,
        out: &mut Vec<ElementExplanation>,
    ) {
        for element in before.iter() {
            let tag = element.tag();
            let path = format!("{prefix}{}", tag_text(tag));
            let kept = after.and_then(|a| a.get(tag));
            let rule = self.rules.get(tag);
            let outcome = if tag.group() % 2 == 1 {
                Outcome::RemovedPrivate
            } else {
                match rule {
                    None => Outcome::Removed,
                    Some(r) => Outcome::of(r.op),
                }
            };
            let rule = rule.filter(|_| outcome != Outcome::RemovedPrivate);
            out.push(self.entry(
                prefix,
                depth,
                element,
                rule.map(|r| (r.line, r.text.clone())),
                outcome,
                kept.map(render),
            ));
            if let Value::Sequence(seq) = element.value() {
                let kept_items = kept.and_then(|k| k.items());
                for (i, item) in seq.items().iter().enumerate() {
                    let Some(kept_item) = kept_items.and_then(|items| items.get(i)) else {
                        continue;
                    };
                    self.walk(
                        item,
                        Some(kept_item),
                        &format!("{path}[{i}]/"),
                        depth + 1,
                        out,
                    );
                }
            }
        }
    }

    fn entry(
        &self,
        prefix: &str,
        depth: usize,
        element: &Element,
        rule: Option<(u32, String)>,
        outcome: Outcome,
        after: Option<String>,
    ) -> ElementExplanation {
        let tag = element.tag();
        let before = (self.show_phi && outcome != Outcome::Added).then(|| render(element));
        ElementExplanation {
            path: format!("{prefix}{}", tag_text(tag)),
            depth,
            tag: tag_text(tag),
            keyword: keyword_of(tag.group(), tag.element())
                .filter(|_| tag.group().is_multiple_of(2))
                .unwrap_or_default()
                .to_string(),
            vr: element.vr().to_string().to_string(),
            line: rule.as_ref().map(|r| r.0),
            rule: rule.map(|r| r.1),
            outcome,
            before,
            after,
        }
    }
}

/// `(gggg,eeee)`.
pub fn tag_text(tag: Tag) -> String {
    format!("({:04X},{:04X})", tag.group(), tag.element())
}

/// An element's value for people: text as text (values joined by `\`),
/// numbers as numbers, and sizes for sequences and binary data.
pub fn render(element: &Element) -> String {
    const LONGEST: usize = 80;
    let text = match element.value() {
        Value::Sequence(seq) => return format!("<{} item(s)>", seq.items().len()),
        Value::PixelSequence(seq) => {
            return format!("<encapsulated, {} fragment(s)>", seq.fragments().len());
        }
        Value::Primitive(PrimitiveValue::Empty) => return String::new(),
        Value::Primitive(p) => match element.vr() {
            VR::OB | VR::OW | VR::OD | VR::OF | VR::OL | VR::OV | VR::UN => {
                return format!("<{} bytes>", p.calculate_byte_len());
            }
            vr => text_values(element.value(), vr)
                .map(|v| v.join("\\"))
                .unwrap_or_else(|| p.to_str().into_owned()),
        },
    };
    if text.chars().count() > LONGEST {
        let cut: String = text.chars().take(LONGEST).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Explanations as text, one line each, sequences indented:
/// `(0010,1010) PatientAge AS  line 172 @round(this,5)  binned  052Y → 050Y`.
pub fn render_text(entries: &[ElementExplanation]) -> String {
    let mut s = String::new();
    for e in entries {
        let indent = "  ".repeat(e.depth);
        let rule = match (&e.line, &e.rule) {
            (Some(line), Some(text)) if text.is_empty() => format!("line {line} (empty rule)"),
            (Some(line), Some(text)) => format!("line {line} {text}"),
            _ => "no rule".to_string(),
        };
        let before = match &e.before {
            Some(v) => format!("{v:?}"),
            None if e.outcome == Outcome::Added => "(absent)".to_string(),
            None => "(hidden)".to_string(),
        };
        let after = e
            .after
            .as_ref()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "(gone)".into());
        s.push_str(&format!(
            "{indent}{} {} {}  {rule}  {}  {before} → {after}\n",
            e.tag,
            if e.keyword.is_empty() {
                "-"
            } else {
                &e.keyword
            },
            e.vr,
            e.outcome
        ));
    }
    s
}
