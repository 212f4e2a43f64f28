//! How the RSNA DICOM Anonymizer reads a rule.
//!
//! The RSNA tool (`anonymizer/model/anonymizer.py`, `_load_script`) keeps
//! only the `<e>` rules, ignores `en`, drops every rule whose text contains
//! `@remove`, and keys the rest by the `t` attribute exactly as written. Its
//! controller (`anonymizer/controller/anonymizer.py`, `_anonymize_element`)
//! deletes elements without a rule and picks an operation by testing the
//! rule's text for substrings, in a fixed order; text that matches none of
//! them leaves the element's value unchanged.

use serde::Serialize;

/// The operation the RSNA tool applies for one rule text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RsnaOperation {
    /// The text contains `@remove`: the rule is dropped, so the element is deleted.
    Remove,
    /// Empty text or exactly `@keep`: the value is kept.
    Keep,
    /// `@empty`: the value is set to empty.
    Empty,
    /// `@uid`: the UID is replaced by a generated one.
    Uid,
    /// `@ptid`: the anonymized patient ID.
    Ptid,
    /// `@acc`: the anonymized accession number.
    Acc,
    /// `@hashdate`: the date is shifted by a per-patient offset.
    HashDate,
    /// `@lookup` with `dateoffset`: the date is shifted by the looked-up offset.
    LookupDateOffset,
    /// Any other `@lookup`: the anonymized patient ID.
    Lookup,
    /// `@round`: the age is rounded.
    Round,
    /// Text that matches no operation: the value is kept unchanged.
    Unrecognised,
    /// Ours, not the RSNA tool's: `@agegroup(this,N)`, Safe Harbor age
    /// groups. [`classify`] never gives it (the RSNA tool keeps the value).
    AgeGroup,
    /// Ours, not the RSNA tool's: `@bin(this,W)`, a number to the nearest
    /// multiple of `W`. [`classify`] never gives it.
    Bin,
    /// Ours, not the RSNA tool's: `@dummy()`, a fixed value of the
    /// element's VR. [`classify`] never gives it.
    Dummy,
}

impl RsnaOperation {
    /// The name of our extension function the operation is, as written
    /// after `@`; `None` for the RSNA tool's own operations.
    pub fn extension_name(self) -> Option<&'static str> {
        match self {
            RsnaOperation::AgeGroup => Some("agegroup"),
            RsnaOperation::Bin => Some("bin"),
            RsnaOperation::Dummy => Some("dummy"),
            _ => None,
        }
    }

    /// What the operation does, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            RsnaOperation::Remove => "removes the element",
            RsnaOperation::Keep => "keeps the value",
            RsnaOperation::Empty => "empties the value",
            RsnaOperation::Uid => "replaces the UID (`@uid`)",
            RsnaOperation::Ptid => "writes the anonymized patient ID (`@ptid`)",
            RsnaOperation::Acc => "writes the anonymized accession number (`@acc`)",
            RsnaOperation::HashDate => "shifts the date (`@hashdate`)",
            RsnaOperation::LookupDateOffset => {
                "shifts the date by the looked-up offset (`@lookup`)"
            }
            RsnaOperation::Lookup => "writes the anonymized patient ID (`@lookup`)",
            RsnaOperation::Round => "rounds the age (`@round`)",
            RsnaOperation::Unrecognised => "keeps the original value unchanged",
            RsnaOperation::AgeGroup => "writes the age's Safe Harbor group (`@agegroup`)",
            RsnaOperation::Bin => "bins the number (`@bin`)",
            RsnaOperation::Dummy => "writes a dummy value (`@dummy`)",
        }
    }
}

/// The names the RSNA tool recognises (by substring) in a rule's text.
pub const FUNCTIONS: [&str; 9] = [
    "remove", "keep", "empty", "uid", "ptid", "acc", "hashdate", "lookup", "round",
];

/// Elements the RSNA tool writes itself after applying the script
/// (`AnonymizerController.anonymize`): PatientIdentityRemoved,
/// DeidentificationMethod and DeidentificationMethodCodeSequence.
pub const WRITTEN_AFTER_SCRIPT: [(u16, u16); 3] =
    [(0x0012, 0x0062), (0x0012, 0x0063), (0x0012, 0x0064)];

/// Classify a rule's text exactly as the RSNA tool does.
pub fn classify(text: &str) -> RsnaOperation {
    if text.contains("@remove") {
        RsnaOperation::Remove
    } else if text.is_empty() || text == "@keep" {
        RsnaOperation::Keep
    } else if text.contains("@empty") {
        RsnaOperation::Empty
    } else if text.contains("@uid") {
        RsnaOperation::Uid
    } else if text.contains("@ptid") {
        RsnaOperation::Ptid
    } else if text.contains("@acc") {
        RsnaOperation::Acc
    } else if text.contains("@hashdate") {
        RsnaOperation::HashDate
    } else if text.contains("@lookup") {
        if text.contains("dateoffset") {
            RsnaOperation::LookupDateOffset
        } else {
            RsnaOperation::Lookup
        }
    } else if text.contains("@round") {
        RsnaOperation::Round
    } else {
        RsnaOperation::Unrecognised
    }
}

/// The operation our `rsna` dialect applies for a rule's text: the RSNA
/// tool's ([`classify`]), except where the RSNA tool would keep the value
/// because it knows no function in the text and the text names one of our
/// extensions ([`crate::functions::extension`]).
pub fn operation(text: &str) -> RsnaOperation {
    match classify(text) {
        RsnaOperation::Unrecognised => extension(text).unwrap_or(RsnaOperation::Unrecognised),
        op => op,
    }
}

/// The extension a rule's text names, found by substring as the RSNA tool
/// finds its own functions.
pub fn extension(text: &str) -> Option<RsnaOperation> {
    if text.contains("@agegroup") {
        Some(RsnaOperation::AgeGroup)
    } else if text.contains("@bin") {
        Some(RsnaOperation::Bin)
    } else if text.contains("@dummy") {
        Some(RsnaOperation::Dummy)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_is_by_substring_in_the_reference_order() {
        assert_eq!(classify(""), RsnaOperation::Keep);
        assert_eq!(classify("@keep"), RsnaOperation::Keep);
        // `@keep()` is not the exact text `@keep`, and matches nothing else:
        // the value is kept all the same.
        assert_eq!(classify("@keep()"), RsnaOperation::Unrecognised);
        assert_eq!(
            classify("@if(this,isblank){@remove()}{x}"),
            RsnaOperation::Remove
        );
        assert_eq!(classify("@empty()@uid"), RsnaOperation::Empty);
        assert_eq!(
            classify("@hashuid(@UIDROOT,this)"),
            RsnaOperation::Unrecognised
        );
        assert_eq!(
            classify("@hashptid(@SITEID,PatientID)"),
            RsnaOperation::Unrecognised
        );
        assert_eq!(
            classify("@hashdate(this,PatientID)"),
            RsnaOperation::HashDate
        );
        assert_eq!(
            classify("@lookup(this,dateoffset)"),
            RsnaOperation::LookupDateOffset
        );
        assert_eq!(classify("@round(this,5)"), RsnaOperation::Round);
        assert_eq!(classify("@hash(this,10)"), RsnaOperation::Unrecognised);
        assert_eq!(classify("YES"), RsnaOperation::Unrecognised);
    }

    #[test]
    fn our_extensions_apply_only_where_the_reference_keeps_the_value() {
        assert_eq!(classify("@agegroup(this,5)"), RsnaOperation::Unrecognised);
        assert_eq!(operation("@agegroup(this,5)"), RsnaOperation::AgeGroup);
        assert_eq!(operation("@bin(this,0.05)"), RsnaOperation::Bin);
        assert_eq!(operation("@dummy()"), RsnaOperation::Dummy);
        // The reference's own functions come first.
        assert_eq!(
            operation("@round(this,5)@bin(this,5)"),
            RsnaOperation::Round
        );
        assert_eq!(operation("@remove()@bin(this,5)"), RsnaOperation::Remove);
        assert_eq!(operation("@hash(this,10)"), RsnaOperation::Unrecognised);
    }
}
