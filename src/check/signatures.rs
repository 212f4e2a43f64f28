//! What each script function accepts, in each dialect.
//!
//! CTP's functions and their argument lists are those dispatched by
//! `DICOMAnonymizer.makeReplacement` (plus `@keep()`, `@remove()`,
//! `@empty()` and `@blank(n)`, which CTP recognises in the value a rule
//! produces). The RSNA tool's are the substrings its controller tests for.

use crate::dialect::Dialect;
use crate::spelling::closest;

/// The role of one argument position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An element: `this`, a keyword, a tag, a private element or a path.
    Element,
    /// Elements joined by `|` (the key of `@lookup`).
    Elements,
    /// An integer, or a `@PARAM` holding one.
    Integer,
    /// One of a fixed set of words.
    Word(&'static [&'static str]),
    /// Anything (text, a parameter, a regular expression, …).
    Any,
}

/// The conditions `@if` tests (`DICOMAnonymizer.testCondition`).
pub const IF_CONDITIONS: &[&str] = &[
    "isblank",
    "contains",
    "equals",
    "matches",
    "exists",
    "greaterthan",
];
/// Conditions that compare with a third argument.
pub const IF_CONDITIONS_WITH_OPERAND: &[&str] = &["contains", "equals", "matches", "greaterthan"];
/// What `@lookup` does when the key is missing (`DICOMAnonymizer.lookup`).
pub const LOOKUP_ACTIONS: &[&str] = &["keep", "remove", "empty", "default", "ignore", "UC"];

/// One function of the script language.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    pub name: &'static str,
    /// Argument count accepted by CTP, if CTP has the function.
    pub ctp: Option<(usize, usize)>,
    /// Whether the RSNA tool recognises the function.
    pub rsna: bool,
    /// Whether the function is our own extension of the `rsna` dialect
    /// ([`crate::functions::extension`]): we apply it, the RSNA tool keeps
    /// the element's value.
    pub ours: bool,
    /// The roles of the arguments, by position (CTP's reading).
    pub roles: &'static [Role],
    pub summary: &'static str,
}

impl Signature {
    pub fn supported_in(&self, dialect: Dialect) -> bool {
        match dialect {
            Dialect::Ctp => self.ctp.is_some(),
            Dialect::Rsna => self.rsna || self.ours,
        }
    }

    /// The role of argument `i` (the last role repeats for variadic functions).
    pub fn role(&self, i: usize) -> Role {
        self.roles
            .get(i)
            .or(self.roles.last())
            .copied()
            .unwrap_or(Role::Any)
    }
}

const MANY: usize = usize::MAX;

use Role::{Any, Element, Elements, Integer, Word};

macro_rules! sig {
    ($name:literal, $ctp:expr, $rsna:expr, [$($role:expr),*], $summary:literal) => {
        Signature { name: $name, ctp: $ctp, rsna: $rsna, ours: false, roles: &[$($role),*], summary: $summary }
    };
}

/// One of our extensions: not CTP's, not the RSNA tool's.
macro_rules! ours {
    ($name:literal, [$($role:expr),*], $summary:literal) => {
        Signature { name: $name, ctp: None, rsna: false, ours: true, roles: &[$($role),*], summary: $summary }
    };
}

/// Every function either reference engine knows, and our extensions,
/// sorted by name.
pub const SIGNATURES: &[Signature] = &[
    sig!(
        "acc",
        None,
        true,
        [],
        "RSNA: the anonymized accession number"
    ),
    ours!(
        "agegroup",
        [Element, Integer],
        "ours: an age as its Safe Harbor group (N-year groups, 90 or more as one)"
    ),
    sig!(
        "always",
        Some((0, 0)),
        false,
        [],
        "CTP: create the element even when the object lacks it"
    ),
    sig!(
        "append",
        Some((0, 0)),
        false,
        [],
        "CTP: append the block's value to the element's values"
    ),
    ours!(
        "bin",
        [Element, Any],
        "ours: a number to the nearest multiple of a width"
    ),
    sig!(
        "blank",
        Some((0, 1)),
        false,
        [Integer],
        "CTP: a value of n spaces"
    ),
    sig!(
        "call",
        Some((1, MANY)),
        false,
        [Any],
        "CTP: call an anonymizer extension plugin"
    ),
    sig!(
        "contents",
        Some((1, 3)),
        false,
        [Element, Any, Any],
        "CTP: an element's value, optionally rewritten by a regular expression"
    ),
    sig!("date", Some((0, 1)), false, [Any], "CTP: today's date"),
    sig!(
        "dateinterval",
        Some((3, 4)),
        false,
        [Element, Any, Element, Any],
        "CTP: days between a date and a looked-up base date"
    ),
    sig!(
        "decrypt",
        Some((2, 2)),
        false,
        [Element, Any],
        "CTP: decrypt an element's value"
    ),
    ours!(
        "dummy",
        [],
        "ours: a fixed value of the element's VR (a Type 1 attribute that must go)"
    ),
    sig!("empty", Some((0, 0)), true, [], "an empty value"),
    sig!(
        "encrypt",
        Some((2, 2)),
        false,
        [Element, Any],
        "CTP: encrypt an element's value"
    ),
    sig!(
        "hash",
        Some((1, 2)),
        false,
        [Element, Integer],
        "CTP: MD5 of an element's value as decimal digits"
    ),
    sig!(
        "hashdate",
        Some((2, 2)),
        true,
        [Element, Element],
        "shift a date by an offset hashed from another element"
    ),
    sig!(
        "hashname",
        Some((2, 3)),
        false,
        [Element, Integer, Integer],
        "CTP: a numeric hash of a person name"
    ),
    sig!(
        "hashptid",
        Some((2, 3)),
        false,
        [Any, Element, Integer],
        "CTP: a hash of a site ID and patient ID"
    ),
    sig!(
        "hashuid",
        Some((2, 3)),
        false,
        [Any, Element, Element],
        "CTP: a UID hashed from a prefix and an element's UID"
    ),
    sig!(
        "if",
        Some((2, 3)),
        false,
        [Element, Word(IF_CONDITIONS), Any],
        "CTP: choose a block by testing an element"
    ),
    sig!(
        "incrementdate",
        Some((2, 3)),
        false,
        [Element, Any, Any],
        "CTP: add days to a date"
    ),
    sig!(
        "initials",
        Some((1, 2)),
        false,
        [Element, Integer],
        "CTP: the initials of a person name"
    ),
    sig!(
        "integer",
        Some((2, 3)),
        false,
        [Element, Any, Integer],
        "CTP: a sequential integer for each distinct value"
    ),
    sig!("keep", Some((0, 0)), true, [], "keep the element unchanged"),
    sig!(
        "lookup",
        Some((2, 4)),
        true,
        [Elements, Any, Word(LOOKUP_ACTIONS), Any],
        "replace a value from a lookup table"
    ),
    sig!(
        "lowercase",
        Some((1, 1)),
        false,
        [Element],
        "CTP: an element's value in lower case"
    ),
    sig!(
        "modifydate",
        Some((4, 4)),
        false,
        [Element, Any, Any, Any],
        "CTP: set parts of a date"
    ),
    sig!(
        "param",
        Some((1, 1)),
        false,
        [Any],
        "CTP: the value of a script parameter"
    ),
    sig!(
        "pathelement",
        Some((2, 2)),
        false,
        [Element, Integer],
        "CTP: one component of a path-valued element"
    ),
    sig!(
        "process",
        Some((0, 0)),
        false,
        [],
        "CTP: apply the script to the items of a sequence"
    ),
    sig!("ptid", None, true, [], "RSNA: the anonymized patient ID"),
    sig!(
        "quarantine",
        Some((0, 0)),
        false,
        [],
        "CTP: quarantine the object"
    ),
    sig!("remove", Some((0, 0)), true, [], "remove the element"),
    sig!(
        "require",
        Some((0, 2)),
        false,
        [Element, Any],
        "CTP: create the element if missing"
    ),
    sig!(
        "round",
        Some((2, 2)),
        true,
        [Element, Integer],
        "round an age into groups of a given size"
    ),
    sig!(
        "select",
        Some((0, 0)),
        false,
        [],
        "CTP: choose a block by whether the element is in the root data set"
    ),
    sig!("skip", Some((0, 0)), false, [], "CTP: skip the object"),
    sig!("time", Some((0, 1)), false, [Any], "CTP: the current time"),
    sig!(
        "truncate",
        Some((1, 2)),
        false,
        [Element, Integer],
        "CTP: the first or last n characters of a value"
    ),
    sig!(
        "uid",
        None,
        true,
        [],
        "RSNA: a new UID derived from the original"
    ),
    sig!(
        "uppercase",
        Some((1, 1)),
        false,
        [Element],
        "CTP: an element's value in upper case"
    ),
    sig!(
        "value",
        Some((1, 2)),
        false,
        [Element, Any],
        "CTP: an element's value, or a default"
    ),
];

/// The signature of `name`, if any engine knows it.
pub fn lookup(name: &str) -> Option<&'static Signature> {
    SIGNATURES
        .binary_search_by(|s| s.name.cmp(name))
        .ok()
        .map(|i| &SIGNATURES[i])
}

/// The known name closest to `name`, if it is close enough to be a typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    closest(name, SIGNATURES.iter().map(|s| s.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_so_lookup_finds_every_entry() {
        for w in SIGNATURES.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for s in SIGNATURES {
            assert_eq!(lookup(s.name).map(|f| f.name), Some(s.name));
        }
        assert!(lookup("nosuch").is_none());
    }

    #[test]
    fn every_rsna_function_is_in_the_table() {
        for name in crate::dialect::rsna::FUNCTIONS {
            assert!(lookup(name).is_some_and(|s| s.rsna), "{name}");
        }
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(suggest("hsah"), Some("hash"));
        assert_eq!(suggest("hashuuid"), Some("hashuid"));
        assert_eq!(suggest("incrementdat"), Some("incrementdate"));
        assert_eq!(suggest("frobnicate"), None);
    }
}
