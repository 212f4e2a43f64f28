//! What the RSNA tool, and our `rsna` dialect, make of each element rule:
//! tags it never matches, private rules, text it does not understand (a
//! leak), functions it ignores, our own extensions.

use super::signatures;
use super::{Checker, call_name_span, describe_tag, has_number};
use crate::diagnostic::Diagnostic;
use crate::dialect::rsna::{self, RsnaOperation};
use crate::script::ast::{Call, ElementRule, Expr, TagSpec};

impl Checker<'_> {
    /// What the RSNA tool makes of a rule that is valid CTP.
    pub(super) fn rsna_rule(&mut self, rule: &ElementRule) {
        let text = &rule.tag_text.value;
        if text.bytes().any(|b| b.is_ascii_lowercase()) && rule.tag.is_some() {
            self.out.push(
                Diagnostic::warning(
                    "rsna-tag-case",
                    rule.tag_text.span,
                    format!("the RSNA tool compares tags with upper-case hex, so `{text}` never matches: it removes the element instead"),
                )
                .with_help(format!("write `{}`", text.to_ascii_uppercase())),
            );
        }
        match &rule.tag {
            Some(TagSpec::Private { .. }) => self.out.push(Diagnostic::warning(
                "rsna-private-rule",
                rule.tag_text.span,
                "the RSNA tool has no private-creator tags and removes private groups first: this rule never applies",
            )),
            Some(TagSpec::Tag { group, .. }) if group & 1 == 1 => self.out.push(Diagnostic::info(
                "rsna-private-rule",
                rule.tag_text.span,
                "the RSNA tool removes every private element before it applies the script: this rule never applies",
            )),
            _ => {}
        }
        let Some(expr) = &rule.expr else { return };
        let op = rsna::classify(&rule.text.value);
        let foreign: Vec<&Call> = expr
            .calls()
            .into_iter()
            .filter(|c| signatures::lookup(&c.name.value).is_some_and(|s| !s.rsna))
            .collect();
        let trimmed = rule.text.value.trim();
        if let Some(TagSpec::Tag { group, element }) = rule.tag
            && rsna::WRITTEN_AFTER_SCRIPT.contains(&(group, element))
            && op != RsnaOperation::Remove
        {
            self.out.push(Diagnostic::info(
                    "rsna-writes-element",
                    rule.text.span,
                    format!(
                        "the RSNA tool writes {} itself after applying the script: this rule's value is replaced",
                        describe_tag(rule.tag.as_ref().expect("tag"))
                    ),
                ));
            return;
        }
        if op == RsnaOperation::Unrecognised
            && let Some(ext) = rsna::extension(&rule.text.value)
        {
            self.extension_rule(rule, expr, ext);
        } else if op == RsnaOperation::Unrecognised && !expr.is_blank() && trimmed != "@keep()" {
            let mut d = Diagnostic::warning(
                "rsna-keeps-value",
                rule.text.span,
                format!(
                    "the RSNA tool does not understand `{trimmed}`: it keeps the element's original value"
                ),
            );
            d = d.with_help(match foreign.first() {
                Some(c) => format!(
                    "`@{}` is a CTP function; use one the RSNA tool knows (`@remove()`, `@empty()`, `@uid`, `@ptid`, `@acc`, `@hashdate`, `@round(this,N)`, `@lookup`), or check with `--dialect ctp`",
                    c.name.value
                ),
                None => "the RSNA tool writes no literal text: use `@empty()` or `@remove()`, or check with `--dialect ctp`".into(),
            });
            self.out.push(d);
        } else if let Some(c) = foreign.first() {
            let message = if signatures::lookup(&c.name.value).is_some_and(|s| s.ours) {
                format!(
                    "`@{}` applies only in a rule that names no RSNA function; from the rule's text the RSNA tool {}, and so does this dialect",
                    c.name.value,
                    op.describe()
                )
            } else {
                format!(
                    "the RSNA tool does not evaluate `@{}`; from the rule's text it {}",
                    c.name.value,
                    op.describe()
                )
            };
            self.out.push(Diagnostic::info(
                "rsna-ignores-function",
                call_name_span(c),
                message,
            ));
        }
        if op == RsnaOperation::Round
            && !expr
                .calls()
                .iter()
                .any(|c| c.name.value == "round" && has_number(c))
        {
            self.out.push(Diagnostic::warning(
                "rsna-round-width",
                rule.text.span,
                "the RSNA tool needs a width, as in `@round(this,5)`: without one it keeps the value",
            ));
        }
    }

    /// A rule our `rsna` dialect applies with an extension: the RSNA tool
    /// keeps the value, and a width must be one the function can use.
    fn extension_rule(&mut self, rule: &ElementRule, expr: &Expr, ext: RsnaOperation) {
        let name = ext.extension_name().unwrap_or("bin");
        let call = expr.call_named(name);
        let span = call.map_or(rule.text.span, call_name_span);
        self.out.push(
            Diagnostic::warning(
                "rsna-extension",
                span,
                format!(
                    "`@{name}` is dicom-anonymizer's own: the RSNA tool does not know it and keeps the element's original value (a leak if this script runs there)"
                ),
            )
            .with_help("run this script with dicom-anonymizer only, or use a rule the RSNA tool knows (`@round(this,N)`, `@empty()`, `@remove()`)"),
        );
        let width = call.and_then(|c| c.number_arg(1));
        let valid = crate::functions::extension::usable_width(name, width);
        if !valid {
            let example = match ext {
                RsnaOperation::AgeGroup => "`@agegroup(this,5)` (a whole number of years)",
                _ => "`@bin(this,5)` or `@bin(this,0.05)` (a positive number)",
            };
            self.out.push(Diagnostic::error(
                "extension-width",
                span,
                format!("`@{name}` needs a width as its second argument, as in {example}"),
            ));
        }
    }
}
