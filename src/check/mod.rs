//! Validation of a parsed script for one dialect: everything a careful
//! reader of the script would want to know before running it on patients.
//!
//! See the README's table of diagnostic codes; `tests/check_diagnostics.rs`
//! shows each one on a broken script.

mod rsna_rules;
pub mod signatures;
pub mod validity;

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{Diagnostic, Severity};
use crate::dialect::Dialect;
use crate::functions::ctp::contents as regex_fn;
use crate::functions::ctp::put;
use crate::keywords;
use crate::script::Parsed;
use crate::script::ast::{
    Arg, ArgValue, Call, ElementRef, ElementRule, ElementSegment, Enabled, Expr, Item, Part,
    Script, TagSpec,
};
use crate::script::expr_parser::too_deep_message;
use crate::script::span::Span;
use crate::script::tag_forms::is_identifier;
use crate::spelling::closest;
use signatures::{IF_CONDITIONS_WITH_OPERAND, Role, Signature};

/// Every problem in `parsed` (its parse diagnostics included), sorted by position.
pub fn check(parsed: &Parsed, dialect: Dialect) -> Vec<Diagnostic> {
    check_with_params(parsed, dialect, &[])
}

/// [`check`], with parameters given on the command line (`--param`, CTP's
/// `-pNAME VALUE`): they define a parameter the script lacks and override
/// the value of one it has, as they do at run time.
pub fn check_with_params(
    parsed: &Parsed,
    dialect: Dialect,
    given: &[(String, String)],
) -> Vec<Diagnostic> {
    let mut out = parsed.diagnostics.clone();
    if dialect == Dialect::Ctp {
        for d in &mut out {
            ctp_runs_parse_mistake(d);
        }
    }
    if let Some(script) = &parsed.script {
        let mut checker = Checker::new(script, dialect, &mut out);
        for (name, value) in given {
            checker.params.insert(name);
            checker.param_values.insert(name, value);
            checker.given.insert(name);
        }
        checker.run(script);
        if dialect == Dialect::Ctp {
            checker.parameters(script);
        }
        validity::check_validity(script, dialect, &mut out);
    }
    out.sort_by_key(|d| d.span.start);
    out
}

/// A syntax mistake in a rule's expression, or a keep rule naming no group,
/// that CTP runs anyway: it stops reading the expression at the mistake
/// (the value is the text before it), or ignores the keep rule. Calls
/// nested too deep (`MAX_EXPR_DEPTH`) stay errors.
fn ctp_runs_parse_mistake(d: &mut Diagnostic) {
    let outcome = match d.code {
        "expression-syntax" if d.message != too_deep_message() => {
            "; CTP stops reading the rule there and writes the text before it"
        }
        "invalid-keep" => "; CTP ignores this keep rule",
        _ => return,
    };
    d.severity = Severity::Warning;
    d.message.push_str(outcome);
}

/// Codes of warnings that `check` shows and a run does not repeat: they
/// concern the RSNA tool (`rsna-extension`) or the validity of the objects
/// written (`removes-required`, `empties-required`), which a run cannot
/// change.
pub const CHECK_ONLY: [&str; 3] = ["rsna-extension", validity::CODES[0], validity::CODES[1]];

/// Whether any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}

struct Checker<'a> {
    dialect: Dialect,
    params: HashSet<&'a str>,
    /// Each parameter's value (the last definition wins, as in both tools;
    /// the command line wins over the script).
    param_values: HashMap<&'a str, &'a str>,
    /// Parameters given on the command line.
    given: HashSet<&'a str>,
    /// Parameters that applied rules read, in name order.
    used: std::collections::BTreeSet<String>,
    /// Names that the script gives to private elements (`n` of a private-group rule),
    /// which CTP accepts as element references.
    private_names: HashSet<&'a str>,
    out: &'a mut Vec<Diagnostic>,
}

/// The span from a call's `@` to the end of its name.
fn call_name_span(call: &Call) -> Span {
    Span {
        end: call.name.span.end,
        ..call.span
    }
}

impl<'a> Checker<'a> {
    fn new(script: &'a Script, dialect: Dialect, out: &'a mut Vec<Diagnostic>) -> Self {
        let mut params = HashSet::new();
        let mut param_values = HashMap::new();
        let mut private_names = HashSet::new();
        for item in &script.items {
            match item {
                Item::Param(p) => {
                    param_values.insert(p.name.value.as_str(), p.value.value.as_str());
                    if !params.insert(p.name.value.as_str()) {
                        out.push(Diagnostic::warning(
                            "duplicate-param",
                            p.name.span,
                            format!(
                                "parameter `{}` is defined twice: the later value wins",
                                p.name.value
                            ),
                        ));
                    }
                    if !is_identifier(&p.name.value) {
                        out.push(Diagnostic::error(
                            "invalid-param-name",
                            p.name.span,
                            format!("`{}` cannot be referenced as `@NAME`: a parameter name is letters, digits and `_`", p.name.value),
                        ));
                    }
                }
                Item::Element(e) => {
                    let private = match &e.tag {
                        Some(TagSpec::Tag { group, .. }) => group & 1 == 1,
                        Some(TagSpec::Private { .. }) => true,
                        None => false,
                    };
                    if let (true, Some(n)) = (private, &e.name)
                        && !n.value.trim().is_empty()
                    {
                        private_names.insert(n.value.trim());
                    }
                }
                _ => {}
            }
        }
        Checker {
            dialect,
            params,
            param_values,
            given: HashSet::new(),
            used: Default::default(),
            private_names,
            out,
        }
    }

    fn run(&mut self, script: &Script) {
        let mut seen: HashMap<&TagSpec, u32> = HashMap::new();
        for item in &script.items {
            match item {
                Item::Element(rule) => {
                    self.enabled(&rule.enabled, rule.span, "rule");
                    // CTP files a disabled rule under another key (`#set.…`),
                    // so only two applied rules for one tag compete.
                    if let Some(tag) = &rule.tag
                        && self.applied(rule)
                        && let Some(first) = seen.insert(tag, rule.span.line)
                    {
                        let tools = match self.dialect {
                            Dialect::Ctp => "CTP applies the later one",
                            Dialect::Rsna => {
                                "the RSNA tool, which ignores `en`, applies the later one"
                            }
                        };
                        self.out.push(Diagnostic::warning(
                            "duplicate-rule",
                            rule.tag_text.span,
                            format!(
                                "a second rule for {}: {tools} (the first is on line {first})",
                                describe_tag(tag)
                            ),
                        ));
                    }
                    self.element_rule(rule);
                }
                Item::Keep(k) => {
                    self.enabled(&k.enabled, k.span, "keep rule");
                    if self.dialect == Dialect::Rsna && k.enabled.is_enabled() {
                        self.out.push(Diagnostic::info(
                            "rsna-ignores-rule",
                            k.span,
                            "the RSNA tool ignores `<k>` rules: it keeps only elements that have an `<e>` rule",
                        ));
                    }
                }
                Item::Remove(r) => {
                    self.enabled(&r.enabled, r.span, "remove rule");
                    if self.dialect == Dialect::Rsna && !r.enabled.is_enabled() {
                        self.out.push(Diagnostic::info(
                            "rsna-ignores-rule",
                            r.span,
                            "the RSNA tool ignores `<r>` rules: it always removes private groups and every element without an `<e>` rule",
                        ));
                    }
                }
                _ => {}
            }
        }
    }

    /// The `en` attribute: present, `T` or `F`; disabled rules are noted.
    fn enabled(&mut self, en: &Enabled, span: Span, what: &str) {
        match &en.raw {
            None => self.out.push(Diagnostic::warning(
                "missing-en",
                span,
                format!("this {what} has no `en` attribute: CTP treats it as disabled, the RSNA tool applies it"),
            ).with_help("write `en=\"T\"` or `en=\"F\"`")),
            Some(v) if v.value == "T" => {}
            Some(v) if v.value == "F" => match self.dialect {
                Dialect::Ctp => self.out.push(Diagnostic::info(
                    "disabled-rule",
                    v.span,
                    format!("this {what} is disabled (`en=\"F\"`): CTP ignores it"),
                )),
                Dialect::Rsna => self.out.push(Diagnostic::warning(
                    "disabled-rule",
                    v.span,
                    format!("this {what} is disabled (`en=\"F\"`), but the RSNA tool ignores `en` and applies it"),
                )),
            },
            Some(v) => {
                let outcome = match self.dialect {
                    Dialect::Ctp => ": CTP takes anything but `T` as disabled, and ignores it",
                    Dialect::Rsna => "",
                };
                self.out.push(Diagnostic::new(
                    self.ctp_runs_it(),
                    "invalid-en",
                    v.span,
                    format!("`en` must be `T` or `F`, not `{}`{outcome}", v.value),
                ))
            }
        }
    }

    /// Whether the engine applies this rule (CTP honours `en`; the RSNA tool does not).
    fn applied(&self, rule: &ElementRule) -> bool {
        self.dialect == Dialect::Rsna || rule.enabled.is_enabled()
    }

    fn element_rule(&mut self, rule: &ElementRule) {
        if self.dialect == Dialect::Rsna {
            self.rsna_rule(rule);
        }
        let Some(expr) = &rule.expr else { return };
        let applied = self.applied(rule);
        if self.dialect == Dialect::Ctp {
            self.literal_value(rule, expr, applied);
        }
        for part in &expr.parts {
            if let crate::script::ast::Part::Call(call) = part {
                self.call(call, applied);
            }
        }
    }

    fn call(&mut self, call: &Call, applied: bool) {
        let name = call.name.value.as_str();
        let Some(sig) = signatures::lookup(name) else {
            let outcome = match self.dialect {
                Dialect::Ctp => ": CTP writes the call's text (`@name(…)`) into the element",
                Dialect::Rsna => "",
            };
            let mut d = Diagnostic::new(
                self.ctp_runs_it(),
                "unknown-function",
                call_name_span(call),
                format!("unknown function `@{name}`{outcome}"),
            );
            if let Some(s) = signatures::suggest(name) {
                d = d.with_help(format!("did you mean `@{s}`?"));
            }
            self.out.push(d);
            self.nested(call, applied);
            return;
        };
        if self.dialect == Dialect::Ctp {
            self.ctp_call(call, sig);
            self.regexes(call, applied);
        }
        if let Some(args) = &call.args {
            for (i, arg) in args.iter().enumerate() {
                self.arg(sig, i, arg, applied);
            }
            if name == "if"
                && let Some(ArgValue::Name(cond)) = args.get(1).map(|a| &a.value)
                && IF_CONDITIONS_WITH_OPERAND.contains(&cond.as_str())
                && args.len() < 3
            {
                let outcome = match self.dialect {
                    Dialect::Ctp => ": CTP takes the condition as false",
                    Dialect::Rsna => "",
                };
                self.out.push(Diagnostic::new(
                    self.ctp_runs_it(),
                    "argument-count",
                    call_name_span(call),
                    format!("`@if(…,{cond})` needs a third argument to compare with{outcome}"),
                ));
            }
        }
        self.nested(call, applied);
    }

    /// Calls inside blocks and argument calls.
    fn nested(&mut self, call: &Call, applied: bool) {
        for arg in call.args.iter().flatten() {
            if let ArgValue::Call(inner) = &arg.value {
                self.call(inner, applied);
            }
        }
        for block in &call.blocks {
            for part in &block.body.parts {
                if let crate::script::ast::Part::Call(inner) = part {
                    self.call(inner, applied);
                }
            }
        }
    }

    fn ctp_call(&mut self, call: &Call, sig: &Signature) {
        let name = sig.name;
        let Some((min, max)) = sig.ctp else {
            let help = if sig.ours {
                format!(
                    "`@{name}` is dicom-anonymizer's own, in the rsna dialect only: check with `--dialect rsna`"
                )
            } else {
                let instead = match name {
                    "uid" => "`@hashuid(@UIDROOT,this)`",
                    "ptid" => "`@hashptid(@SITEID,PatientID)` or `@lookup(this,ptid)`",
                    _ => "`@hash(this,16)`",
                };
                format!(
                    "`@{name}` is an RSNA DICOM Anonymizer function; in CTP use {instead}, or check with `--dialect rsna`"
                )
            };
            self.out.push(
                Diagnostic::warning(
                    "unsupported-function",
                    call_name_span(call),
                    format!(
                        "CTP has no `@{name}`: it would write the call's text into the element"
                    ),
                )
                .with_help(help),
            );
            return;
        };
        let Some(args) = &call.args else {
            self.out.push(
                Diagnostic::warning(
                    "bare-call",
                    call_name_span(call),
                    format!("CTP needs an argument list after `@{name}`: it stops reading the rule at a bare call"),
                )
                .with_help(format!("write `@{name}()`")),
            );
            return;
        };
        if args.len() < min || args.len() > max {
            let wanted = match (min, max) {
                (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
                (a, usize::MAX) => {
                    format!("at least {a} argument{}", if a == 1 { "" } else { "s" })
                }
                (a, b) => format!("{a} to {b} arguments"),
            };
            self.out.push(Diagnostic::warning(
                "argument-count",
                call_name_span(call),
                format!(
                    "`@{name}` takes {wanted}, but {} {} given: CTP calls it anyway, and the function does what it does with arguments missing or extra (often, writes the call's arguments as text)",
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" }
                ),
            ));
        }
    }

    /// A mistake that CTP runs anyway, with a result that adds nothing
    /// identifying (README, "Mistakes CTP runs anyway"): a warning in the
    /// ctp dialect, where the run reproduces CTP's result; an error in the
    /// rsna dialect, where the RSNA tool would keep the element's value.
    fn ctp_runs_it(&self) -> Severity {
        match self.dialect {
            Dialect::Ctp => Severity::Warning,
            Dialect::Rsna => Severity::Error,
        }
    }

    /// An error that stops a run when the rule is applied, a warning when
    /// it is not.
    fn severity(&self, applied: bool) -> Severity {
        if applied {
            Severity::Error
        } else {
            Severity::Warning
        }
    }

    /// The text CTP hands a function for this argument (`FnCall.getArg`,
    /// with a `@PARAM` resolved), when it does not depend on the object.
    fn arg_text(&self, arg: Option<&Arg>) -> Option<String> {
        match &arg?.value {
            ArgValue::Empty => Some(String::new()),
            ArgValue::Quoted(t) | ArgValue::Number(t) | ArgValue::Name(t) | ArgValue::Text(t) => {
                Some(t.clone())
            }
            ArgValue::Param(p) => self.param_values.get(p.as_str()).map(|v| v.to_string()),
            _ => None,
        }
    }

    /// Regular expressions (`@contents`, `@if(…,matches,…)`, `@lookup(…,ignore,…)`)
    /// that would stop every object at run time: a syntax error, a
    /// replacement naming no group, or an expression over the size limit
    /// of the regex engine.
    fn regexes(&mut self, call: &Call, applied: bool) {
        let Some(args) = &call.args else { return };
        let word = |k: usize| match args.get(k).map(|a| &a.value) {
            Some(ArgValue::Name(w) | ArgValue::Text(w)) => w.trim().to_string(),
            _ => String::new(),
        };
        let (at, result) = match call.name.value.as_str() {
            "contents" if args.len() >= 2 => {
                let (Some(pattern), Some(replacement)) = (
                    self.arg_text(args.get(1)),
                    self.arg_text(args.get(2)).or(Some(String::new())),
                ) else {
                    return;
                };
                let at = if regex_fn::check_replace(&pattern, "").is_err() {
                    1
                } else {
                    2
                };
                (at, regex_fn::check_replace(&pattern, &replacement))
            }
            "if" if word(1).eq_ignore_ascii_case("matches") => {
                let Some(pattern) = self.arg_text(args.get(2)) else {
                    return;
                };
                (2, regex_fn::check_matches(pattern.trim()))
            }
            "lookup" if word(2) == "ignore" && args.len() > 3 => {
                let Some(pattern) = self.arg_text(args.get(3)) else {
                    return;
                };
                (3, regex_fn::check_matches(&pattern))
            }
            _ => return,
        };
        if let Err(e) = result {
            self.out.push(
                Diagnostic::new(
                    self.severity(applied),
                    "invalid-regex",
                    args[at].span,
                    format!("`@{}` cannot use this: {e}", call.name.value),
                )
                .with_help(
                    "CTP would quarantine every object this rule reaches; so does this engine",
                ),
            );
        }
    }

    /// A rule whose value is fixed text (no call depends on the object)
    /// that its element's VR cannot hold: a word in a number, a name that
    /// is no tag in an AT, any text in a sequence or bulk data element.
    fn literal_value(&mut self, rule: &ElementRule, expr: &Expr, applied: bool) {
        let Some(TagSpec::Tag { group, element }) = rule.tag else {
            return;
        };
        let tag = dicom_core::Tag(group, element);
        // CTP reads this one's text as a list of method codes.
        if tag == dicom_dictionary_std::tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE {
            return;
        }
        let Some(vr) = put::dictionary_vr(tag) else {
            return;
        };
        // The text the expression evaluates to (escapes resolved), with
        // `@always()` contributing nothing; a call that reads the object
        // makes the value unknown until run time.
        let mut value = String::new();
        for part in &expr.parts {
            match part {
                Part::Text(t) => value.push_str(&t.value),
                Part::Call(c)
                    if c.name.value == "always" && c.args.as_ref().is_some_and(Vec::is_empty) => {}
                Part::Call(_) => return,
            }
        }
        let value = value.trim_matches(|c: char| c <= ' ');
        if value.is_empty() {
            return;
        }
        if let Err(e) = put::typed_value(tag, vr, value) {
            self.out.push(
                Diagnostic::new(
                    self.severity(applied),
                    "value-vr",
                    rule.text.span,
                    format!(
                        "{} has VR {vr:?}, which cannot hold this value: {e}",
                        describe_tag(rule.tag.as_ref().expect("tag"))
                    ),
                )
                .with_help("CTP keeps the original value when it cannot write the new one; this engine removes the element"),
            );
        }
    }

    fn arg(&mut self, sig: &Signature, i: usize, arg: &Arg, applied: bool) {
        if let ArgValue::Param(p) = &arg.value {
            if applied {
                self.used.insert(p.clone());
            }
            if !self.params.contains(p.as_str()) {
                self.undefined_param(sig, i, p, arg.span, applied);
            }
            return;
        }
        match sig.role(i) {
            Role::Element => self.element_arg(arg),
            Role::Elements => match &arg.value {
                ArgValue::Text(t) if t.contains('|') => {
                    for name in t.split('|').map(str::trim) {
                        if is_identifier(name) {
                            self.keyword(name, arg.span);
                        }
                    }
                }
                _ => self.element_arg(arg),
            },
            Role::Word(words) => {
                let word = match &arg.value {
                    ArgValue::Name(w) | ArgValue::Text(w) => Some(w.as_str()),
                    _ => None,
                };
                if !word.is_some_and(|w| words.contains(&w)) {
                    let code = if sig.name == "if" {
                        "unknown-condition"
                    } else {
                        "unknown-action"
                    };
                    let outcome = match (self.dialect, sig.name) {
                        (Dialect::Ctp, "if") => "; CTP takes the condition as false",
                        (Dialect::Ctp, _) => "; CTP quarantines the object when the key is missing",
                        (Dialect::Rsna, _) => "",
                    };
                    let mut d = Diagnostic::new(
                        self.ctp_runs_it(),
                        code,
                        arg.span,
                        format!(
                            "`@{}` does not know `{}`: expected one of {}{outcome}",
                            sig.name,
                            word.unwrap_or("this argument"),
                            words.join(", ")
                        ),
                    );
                    if let Some(s) = word.and_then(|w| closest(w, words.iter().copied())) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.out.push(d);
                }
            }
            Role::Integer => {
                if matches!(
                    arg.value,
                    ArgValue::Name(_) | ArgValue::Text(_) | ArgValue::Quoted(_)
                ) {
                    self.out.push(Diagnostic::warning(
                        "not-an-integer",
                        arg.span,
                        format!("`@{}` expects a whole number or a `@PARAM` here", sig.name),
                    ));
                }
            }
            Role::Any => {}
        }
    }

    /// One line on the parameters the applied rules read and where each
    /// comes from, when the command line matters: a warning when some are
    /// missing, a note when `--param` gives some.
    fn parameters(&mut self, script: &Script) {
        let needs_command_line = self
            .used
            .iter()
            .any(|p| self.given.contains(p.as_str()) || !self.params.contains(p.as_str()));
        if !needs_command_line {
            return;
        }
        let mut missing = Vec::new();
        let listed: Vec<String> = self
            .used
            .iter()
            .map(|p| {
                let from = if self.given.contains(p.as_str()) {
                    "--param"
                } else if self.params.contains(p.as_str()) {
                    "script"
                } else {
                    missing.push(p.as_str());
                    "missing"
                };
                format!("{p} ({from})")
            })
            .collect();
        let at = Span {
            end: script.span.start + "<script".len().min(script.span.end - script.span.start),
            ..script.span
        };
        let text = format!("the rules read the parameters {}", listed.join(", "));
        let d = if missing.is_empty() {
            Diagnostic::info("parameters", at, text)
        } else {
            Diagnostic::warning("parameters", at, text).with_help(format!(
                "give {} (CTP's DicomAnonymizerTool: -pNAME VALUE)",
                missing
                    .iter()
                    .map(|p| format!("`--param {p}=VALUE`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
        self.out.push(d);
    }

    /// A `@NAME` that neither the script nor the command line defines. CTP
    /// runs such a rule (its `getParam` gives `null`), and so do we, with
    /// the same result: a warning that says what that result is.
    fn undefined_param(&mut self, sig: &Signature, i: usize, p: &str, span: Span, applied: bool) {
        let outcome = if self.dialect == Dialect::Rsna {
            "the RSNA tool ignores arguments".to_string()
        } else if !applied {
            "the rule is disabled".to_string()
        } else {
            match undefined_outcome(sig.name, i) {
                Some(o) => format!("CTP runs the rule without it: {o}"),
                None => format!(
                    "`@{}` does not read a parameter there, but the text `@{p}` itself",
                    sig.name
                ),
            }
        };
        // An encryption key nobody set is the empty key: anyone can
        // decrypt what it writes. CTP runs it; we refuse.
        let severity =
            if applied && self.dialect == Dialect::Ctp && matches!((sig.name, i), ("encrypt", 1)) {
                Severity::Error
            } else {
                Severity::Warning
            };
        let mut d = Diagnostic::new(
            severity,
            "undefined-param",
            span,
            format!("no parameter `{p}` is defined, in the script or by `--param`; {outcome}"),
        );
        let defined = self.params.iter().copied();
        d = d.with_help(match closest(p, defined) {
            Some(s) => format!(
                "did you mean `@{s}`? Otherwise give `--param {p}=VALUE` or add `<p t=\"{p}\">…</p>`"
            ),
            None => format!("give `--param {p}=VALUE` or add `<p t=\"{p}\">…</p>` to the script"),
        });
        self.out.push(d);
    }

    fn element_arg(&mut self, arg: &Arg) {
        match &arg.value {
            ArgValue::Name(name) => self.keyword(name, arg.span),
            ArgValue::Element(ElementRef { segments, .. }) => {
                for seg in segments {
                    if let ElementSegment::Keyword { keyword } = seg {
                        self.keyword(keyword, arg.span);
                    }
                }
            }
            _ => {}
        }
    }

    fn keyword(&mut self, name: &str, span: Span) {
        if self.private_names.contains(name) || keywords::tag_of(name).is_some() {
            return;
        }
        let outcome = match self.dialect {
            Dialect::Ctp => ": CTP reads it as an element that is absent",
            Dialect::Rsna => "",
        };
        let mut d = Diagnostic::new(
            self.ctp_runs_it(),
            "unknown-keyword",
            span,
            format!(
                "`{name}` is not a keyword of the DICOM dictionary, nor a private element named by this script{outcome}"
            ),
        );
        if let Some(s) = keywords::suggest(name) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.out.push(d);
    }
}

/// What CTP makes of a call to `name` whose argument `i` names an
/// undefined parameter (its `getParam` gives `null`; `DICOMAnonymizer.java`
/// and `AnonymizerFunctions.java`), which our interpreter reproduces
/// (`tests/ctp_reference_outputs.rs`, script `ctp_params`); `None` where CTP
/// does not read a parameter at all.
fn undefined_outcome(name: &str, i: usize) -> Option<&'static str> {
    Some(match (name, i) {
        ("param", 0) => "`@param` writes the text `null`",
        ("hash", 1) | ("round", 1) | ("hashuid", 0) => {
            "the function fails, and CTP writes the call's arguments, as text, as the value"
        }
        ("hashname", 1) => "`@hashname` keeps 4 characters",
        ("hashname", 2) => "`@hashname` hashes every word",
        ("hashptid", 0) => "`@hashptid` hashes with an empty site ID",
        ("hashptid", 2) => "`@hashptid` keeps the whole hash",
        ("modifydate", 1..=3) => "`@modifydate` empties the date",
        ("incrementdate", 1 | 2) => "`@incrementdate` empties the date",
        ("dateinterval", 3) => "`@dateinterval` quarantines the object",
        ("encrypt", 1) => "`@encrypt` uses an empty key, so anyone can decrypt the value",
        ("decrypt", 1) => "`@decrypt` uses an empty key",
        ("if", 2) => "`@if` compares with the text of the argument itself",
        _ => return None,
    })
}

fn has_number(call: &Call) -> bool {
    call.args
        .iter()
        .flatten()
        .any(|a| matches!(&a.value, ArgValue::Number(n) if n.bytes().any(|b| b.is_ascii_digit())))
}

fn describe_tag(tag: &TagSpec) -> String {
    match tag {
        TagSpec::Tag { group, element } => {
            let name = keywords::keyword_of(*group, *element)
                .map(|k| format!(" {k}"))
                .unwrap_or_default();
            format!("({group:04X},{element:04X}){name}")
        }
        TagSpec::Private {
            group,
            creator,
            offset,
        } => format!("({group:04X},[{creator}]{offset:02X})"),
    }
}
