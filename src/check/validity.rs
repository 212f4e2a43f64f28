//! Where a script makes valid objects invalid: a rule that removes an
//! attribute a common IOD requires (Type 1 or 2), or empties one it
//! requires with a value (Type 1). PS3.15 asks for an empty value (action
//! Z) for a Type 2 attribute and a dummy value (action D) for a Type 1
//! one; a validating reader rejects an object that lacks them.
//!
//! The types come from [`crate::validity`]. In the `rsna` dialect an
//! element without a rule is removed, so required attributes no rule
//! names are reported too, in one diagnostic.

use std::collections::BTreeSet;

use dicom_core::Tag;

use crate::diagnostic::Diagnostic;
use crate::dialect::Dialect;
use crate::dialect::rsna::{RsnaOperation, WRITTEN_AFTER_SCRIPT};
use crate::interpreter::rsna::RsnaRules;
use crate::keywords::keyword_of;
use crate::script::ast::{ElementRule, Item, Script, TagSpec};
use crate::validity::{Kind, Loss, first_of, table};

/// The codes of this module's diagnostics.
pub const CODES: [&str; 2] = ["removes-required", "empties-required"];

/// Push a diagnostic for every rule of `script` that removes or empties a
/// required attribute, and (rsna) one for the required attributes that no
/// rule names.
pub fn check_validity(script: &Script, dialect: Dialect, out: &mut Vec<Diagnostic>) {
    let rsna_rules = (dialect == Dialect::Rsna).then(|| RsnaRules::compile(script));
    let mut named = BTreeSet::new();
    let rules: Vec<(&ElementRule, Tag)> = script
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Element(rule) => match rule.tag {
                Some(TagSpec::Tag { group, element }) => Some((rule, Tag(group, element))),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for (i, (rule, tag)) in rules.iter().enumerate() {
        named.insert(*tag);
        let loss = match &rsna_rules {
            Some(compiled) => rsna_loss(compiled, rule, *tag),
            None => {
                // CTP: the last enabled rule for the tag applies.
                let last = !rules[i + 1..]
                    .iter()
                    .any(|(r, t)| t == tag && r.enabled.is_enabled());
                match rule.text.value.trim() {
                    _ if !rule.enabled.is_enabled() || !last => None,
                    "@remove()" => Some(Loss::Removed),
                    "@empty()" => Some(Loss::Emptied),
                    _ => None,
                }
            }
        };
        if let Some(loss) = loss {
            report(rule, *tag, loss, out);
        }
    }
    if dialect == Dialect::Rsna {
        unnamed(script, &named, out);
    }
}

/// What the rsna dialect does to a required attribute by this rule: only
/// the rule in force for the tag counts (a later rule replaces an earlier
/// one; a rule containing `@remove` is dropped, so the tag is removed
/// unless an earlier rule stays in force).
fn rsna_loss(compiled: &RsnaRules, rule: &ElementRule, tag: Tag) -> Option<Loss> {
    if WRITTEN_AFTER_SCRIPT.contains(&(tag.group(), tag.element())) {
        return None;
    }
    match compiled.get(tag) {
        None => Some(Loss::Removed),
        Some(r) if r.line != rule.span.line => None,
        Some(r) if r.op == RsnaOperation::Empty => Some(Loss::Emptied),
        Some(_) => None,
    }
}

fn name(tag: Tag) -> String {
    keyword_of(tag.group(), tag.element())
        .map(str::to_string)
        .unwrap_or_else(|| format!("({:04X},{:04X})", tag.group(), tag.element()))
}

fn report(rule: &ElementRule, tag: Tag, loss: Loss, out: &mut Vec<Diagnostic>) {
    let table = table();
    let Some(requirement) = table.requirement(tag) else {
        return;
    };
    let broken = requirement.broken_by(loss);
    if broken.is_empty() {
        return;
    }
    let (code, verb) = match loss {
        Loss::Removed => ("removes-required", "removes"),
        Loss::Emptied => ("empties-required", "empties"),
    };
    let type1 = broken.iter().any(|(_, k)| *k != Kind::Two);
    let help = match (loss, type1) {
        (Loss::Removed, false) => {
            "PS3.15 empties a Type 2 attribute rather than removing it (action Z): `@empty()`"
        }
        _ => {
            "PS3.15 gives a Type 1 attribute a dummy value (action D, `@dummy()`); where the value must go, the object cannot stay valid"
        }
    };
    out.push(
        Diagnostic::warning(
            code,
            rule.text.span,
            format!(
                "this rule {verb} {}, which is {}: a validating reader rejects such an object",
                name(tag),
                table.describe(&broken)
            ),
        )
        .with_help(help),
    );
}

/// Required attributes that no rule names: the rsna dialect removes them.
fn unnamed(script: &Script, named: &BTreeSet<Tag>, out: &mut Vec<Diagnostic>) {
    let missing: Vec<String> = table()
        .required_tags()
        .into_iter()
        .filter(|t| !named.contains(t))
        .filter(|t| !WRITTEN_AFTER_SCRIPT.contains(&(t.group(), t.element())))
        .map(name)
        .collect();
    if missing.is_empty() {
        return;
    }
    let list = first_of(&missing, 8);
    out.push(
        Diagnostic::warning(
            "removes-required",
            script.span,
            format!(
                "no rule names {} attribute{} that common IODs require (Type 1 or 2), so the engine removes {}: {list}",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                if missing.len() == 1 { "it" } else { "them" },
            ),
        )
        .with_help("keep each with an empty rule, or `@empty()` where it is Type 2 and identifying"),
    );
}
