//! How the outcome of each tag changes between two scripts across a corpus
//! (`dicom-anonymizer diff`): the review of a policy migration before it
//! ships.

use std::collections::{BTreeMap, BTreeSet};

use dicom_object::InMemDicomObject;

use crate::explain::{ElementExplanation, Explainer, Outcome};

/// One tag whose outcome differs, and in how many files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The tag, with its enclosing sequences: `(0008,1115)/(0008,1155)`.
    pub tag: String,
    pub keyword: String,
    pub from: String,
    pub to: String,
    pub files: usize,
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
        )
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

/// The changes in one file, as (tag, keyword, from, to).
pub fn file_changes(
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

/// Sum the per-file changes into one line per (tag, from, to).
pub fn summarize(
    per_file: impl IntoIterator<Item = (String, String, String, String)>,
) -> Vec<Change> {
    let mut counts: BTreeMap<(String, String, String), (String, usize)> = BTreeMap::new();
    for (tag, keyword, from, to) in per_file {
        counts.entry((tag, from, to)).or_insert((keyword, 0)).1 += 1;
    }
    counts
        .into_iter()
        .map(|((tag, from, to), (keyword, files))| Change {
            tag,
            keyword,
            from,
            to,
            files,
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
        let row = |t: &str, f: &str, to: &str| (t.into(), "K".into(), f.into(), to.into());
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
}
