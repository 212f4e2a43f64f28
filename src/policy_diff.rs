//! How the outcome of each tag changes between two scripts across a corpus
//! (`dicom-anonymizer diff`): the review of a policy migration before it
//! ships.

use std::collections::{BTreeMap, BTreeSet};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::explain::{ElementExplanation, Explainer, Outcome};
use crate::validity::{self, Loss};

/// One tag whose outcome differs, and in how many files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The tag, with its enclosing sequences: `(0008,1115)/(0008,1155)`.
    pub tag: String,
    pub keyword: String,
    pub from: String,
    pub to: String,
    pub files: usize,
    /// How the change affects the object's validity, when it does:
    /// `invalid in RT Plan (Type 1)` or `valid again in CT Image (Type 2)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<String>,
}

/// One tag whose outcome differs in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub tag: String,
    pub keyword: String,
    pub from: String,
    pub to: String,
    pub validity: Option<String>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keyword = if self.keyword.is_empty() {
            String::new()
        } else {
            format!(" {}", self.keyword)
        };
        write!(
            f,
            "{}{keyword}: {} → {}, {} file{}",
            self.tag,
            self.from,
            self.to,
            self.files,
            if self.files == 1 { "" } else { "s" }
        )?;
        if let Some(v) = &self.validity {
            write!(f, "; {v}")?;
        }
        Ok(())
    }
}

/// What one file's elements become under one script, keyed by the tag
/// path without item numbers; `Err` when the script cannot be applied.
type FileOutcomes = Result<BTreeMap<String, (String, BTreeSet<String>)>, String>;

/// The pseudo-tag under which a file the script cannot be applied to is
/// counted.
pub const WHOLE_FILE: &str = "(file)";

/// An outcome in words; a binned or unrecognised rule names its text, since
/// two such rules can differ in what they do.
fn label(e: &ElementExplanation) -> String {
    match (&e.outcome, &e.rule) {
        (Outcome::Binned | Outcome::KeptUnrecognised, Some(rule)) => {
            format!("{} {rule}", e.outcome)
        }
        _ => e.outcome.to_string(),
    }
}

/// `(0008,1115)[0]/(0008,1155)` → `(0008,1115)/(0008,1155)`.
fn without_items(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

fn outcomes(explainer: &Explainer, obj: &InMemDicomObject) -> FileOutcomes {
    let entries = explainer.explain(obj).map_err(|e| e.to_string())?;
    let mut map: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for e in &entries {
        map.entry(without_items(&e.path))
            .or_insert_with(|| (e.keyword.clone(), BTreeSet::new()))
            .1
            .insert(label(e));
    }
    Ok(map)
}

/// What an outcome label does to a required attribute.
fn loss(label: &str) -> Option<Loss> {
    if label.starts_with("removed") || label.starts_with("gone") {
        Some(Loss::Removed)
    } else if label.starts_with("emptied") {
        Some(Loss::Emptied)
    } else {
        None
    }
}

/// How changing a top-level tag's outcome from `from` to `to` changes the
/// validity of an object of SOP class `sop_class`, if it does.
fn validity_change(sop_class: Option<&str>, path: &str, from: &str, to: &str) -> Option<String> {
    let table = validity::table();
    let iod = table.iod_of(sop_class?)?;
    let tag = parse_tag(path)?;
    let requirement = table.requirement(tag)?;
    let kind = |label: &str| {
        let loss = loss(label)?;
        requirement
            .broken_by(loss)
            .into_iter()
            .find(|(i, _)| *i == iod)
            .map(|(_, k)| k)
    };
    let name = table.iods[iod].name;
    match (kind(from), kind(to)) {
        (None, Some(k)) => Some(format!("invalid in {name} (Type {k})")),
        (Some(k), None) => Some(format!("valid again in {name} (Type {k})")),
        _ => None,
    }
}

/// `(gggg,eeee)` → the tag; `None` for a path into a sequence.
fn parse_tag(path: &str) -> Option<Tag> {
    let inner = path.strip_prefix('(')?.strip_suffix(')')?;
    let (g, e) = inner.split_once(',')?;
    Some(Tag(
        u16::from_str_radix(g, 16).ok()?,
        u16::from_str_radix(e, 16).ok()?,
    ))
}

/// The changes in one file.
pub fn file_changes(from: &Explainer, to: &Explainer, obj: &InMemDicomObject) -> Vec<FileChange> {
    let sop_class = obj
        .get(tags::SOP_CLASS_UID)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string());
    plain_changes(from, to, obj)
        .into_iter()
        .map(|(tag, keyword, from, to)| {
            let validity = validity_change(sop_class.as_deref(), &tag, &from, &to);
            FileChange {
                tag,
                keyword,
                from,
                to,
                validity,
            }
        })
        .collect()
}

/// The changes in one file, as (tag, keyword, from, to).
fn plain_changes(
    from: &Explainer,
    to: &Explainer,
    obj: &InMemDicomObject,
) -> Vec<(String, String, String, String)> {
    let (a, b) = match (outcomes(from, obj), outcomes(to, obj)) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            let describe = |r: &FileOutcomes| match r {
                Ok(_) => "anonymized".to_string(),
                Err(e) => format!("not anonymized ({e})"),
            };
            let (a, b) = (describe(&a), describe(&b));
            return if a == b {
                Vec::new()
            } else {
                vec![(WHOLE_FILE.to_string(), String::new(), a, b)]
            };
        }
    };
    let gone = || "gone with its sequence".to_string();
    let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(" | ");
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut changes = Vec::new();
    for key in keys {
        let (ka, la) = a
            .get(key)
            .map(|(k, l)| (k.clone(), join(l)))
            .unwrap_or_else(|| (String::new(), gone()));
        let (kb, lb) = b
            .get(key)
            .map(|(k, l)| (k.clone(), join(l)))
            .unwrap_or_else(|| (String::new(), gone()));
        if la != lb {
            let keyword = if ka.is_empty() { kb } else { ka };
            changes.push((key.clone(), keyword, la, lb));
        }
    }
    changes
}

/// Sum the per-file changes into one line per (tag, from, to, validity).
pub fn summarize(per_file: impl IntoIterator<Item = FileChange>) -> Vec<Change> {
    type Key = (String, String, String, Option<String>);
    let mut counts: BTreeMap<Key, (String, usize)> = BTreeMap::new();
    for c in per_file {
        counts
            .entry((c.tag, c.from, c.to, c.validity))
            .or_insert((c.keyword, 0))
            .1 += 1;
    }
    counts
        .into_iter()
        .map(|((tag, from, to, validity), (keyword, files))| Change {
            tag,
            keyword,
            from,
            to,
            files,
            validity,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_numbers_are_dropped_from_paths() {
        assert_eq!(
            without_items("(0008,1115)[12]/(0008,1140)[0]/(0008,1155)"),
            "(0008,1115)/(0008,1140)/(0008,1155)"
        );
    }

    #[test]
    fn changes_are_counted_per_tag_and_transition() {
        let row = |t: &str, f: &str, to: &str| FileChange {
            tag: t.into(),
            keyword: "K".into(),
            from: f.into(),
            to: to.into(),
            validity: None,
        };
        let s = summarize([
            row("(0010,1010)", "kept", "binned @round(this,5)"),
            row("(0010,1010)", "kept", "binned @round(this,5)"),
            row("(0010,1010)", "kept", "removed"),
        ]);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].to_string(),
            "(0010,1010) K: kept → binned @round(this,5), 2 files"
        );
        assert_eq!(s[1].to_string(), "(0010,1010) K: kept → removed, 1 file");
    }

    #[test]
    fn validity_changes_name_the_iod_and_type() {
        let plan = dicom_dictionary_std::uids::RT_PLAN_STORAGE;
        let ct = dicom_dictionary_std::uids::CT_IMAGE_STORAGE;
        // RTPlanLabel is Type 1 in RT Plan: emptying it breaks the object.
        assert_eq!(
            validity_change(Some(plan), "(300A,0002)", "kept", "emptied").as_deref(),
            Some("invalid in RT Plan (Type 1)")
        );
        // PatientName is Type 2: emptied is valid, removed is not.
        assert_eq!(
            validity_change(Some(ct), "(0010,0010)", "emptied", "removed").as_deref(),
            Some("invalid in CT Image (Type 2)")
        );
        assert_eq!(
            validity_change(Some(ct), "(0010,0010)", "removed", "emptied").as_deref(),
            Some("valid again in CT Image (Type 2)")
        );
        assert_eq!(
            validity_change(Some(ct), "(0010,0010)", "kept", "emptied"),
            None
        );
        // Not required in that IOD, a path into a sequence, an unknown class.
        assert_eq!(
            validity_change(Some(ct), "(300A,0002)", "kept", "removed"),
            None
        );
        assert_eq!(
            validity_change(Some(ct), "(0008,1115)/(0010,0010)", "kept", "removed"),
            None
        );
        assert_eq!(
            validity_change(Some("1.2.3"), "(0010,0010)", "kept", "removed"),
            None
        );
    }
}
