//! CTP's DicomAnonymizer, applied to one data set.
//!
//! Reference: johnperry/CTP, `DICOMAnonymizer.java` (`anonymize`,
//! `insertElements`, `processElements`, `makeReplacement` and the function
//! calls), `DICOMAnonymizerContext.java` (element values, parameters, the
//! global rules), `FnCall.java` (how a call's arguments are split) and
//! `DAScript.java` (how a script becomes commands). In order:
//!
//! 1. a missing or empty SpecificCharacterSet is set to `ISO_IR 100`; group lengths
//!    and trailing padding are dropped and UN elements the dictionary knows
//!    take its VR (as dcm4che reads and writes them);
//! 2. elements the script creates with `@always()` are inserted (top level
//!    only, not sequences);
//! 3. every element of the data set, in tag order, is removed by a global
//!    rule (`<r>` private groups, unspecified elements, overlays) unless
//!    kept (`<k>` groups, SOPClassUID, SOPInstanceUID, StudyInstanceUID,
//!    groups 0028 and 7FE0, curves and overlays not removed), or, when it
//!    has a rule, rewritten by the rule's expression: `@remove()` removes,
//!    `@keep()` keeps, `@blank(n)` writes n spaces, `@empty()` empties, and
//!    any other text is the new value (`\` separates values);
//! 4. `@process()` applies the same to each item of a sequence.
//!
//! Expressions are evaluated as CTP evaluates them: as text, left to right,
//! each `@name(args)` replaced by its result. Deliberate differences, all
//! listed in the README: a value that cannot be written in the element's VR
//! removes the element (CTP leaves the original value); `@empty()` on a
//! sequence empties it (CTP keeps its items as they were); no private
//! element is "safe" (CTP's private tag index is not shipped), so
//! `<k t="safeprivateelements">` keeps only private creators; `@call`
//! plugins do not exist, so they quarantine.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::values::{for_each_item, resolve_unknown_vrs, text_element};
use crate::functions::ctp::integer::{IntegerTable, format as format_integer};
use crate::functions::ctp::put::{dictionary_vr, typed_value};
use crate::functions::ctp::{
    contents as regex_fn, date as clock, dateinterval, encrypt, hash, hashdate, hashname, hashptid,
    hashuid, incrementdate, initials, lookup as lookup_fn, modifydate, pathelement, round,
    truncate,
};
use crate::script::ast::{Item, KeepTarget, RemoveTarget, Script, TagSpec};
use crate::script::expr_parser::MAX_EXPR_DEPTH;
use elements::{element_string, private_tag};
use fn_call::FnCall;

mod calls;
pub mod elements;
mod fn_call;

/// Why the object is not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `@skip()`: the object is dropped, not quarantined.
    Skip(String),
    /// `@quarantine()`, a lookup miss, or an error in an expression.
    Quarantine(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Skip(m) => write!(f, "skipped by the script: {m}"),
            Stop::Quarantine(m) => write!(f, "quarantined by the script: {m}"),
        }
    }
}

/// A rule whose `t` names a private element through its creator.
#[derive(Debug, Clone)]
struct PrivateRule {
    group: u16,
    creator: String,
    offset: u8,
    text: String,
    name: String,
}

/// A script, compiled as `DAScript.toProperties` and the context read it.
#[derive(Debug, Clone, Default)]
pub struct CtpScript {
    /// Enabled `<e>` rules by tag (the later rule for a tag wins); the
    /// text is trimmed as CTP trims it.
    scripts: HashMap<Tag, String>,
    private_rules: Vec<PrivateRule>,
    /// `n` of enabled rules for private tags: names usable as references.
    private_names: HashMap<String, Tag>,
    /// `<p>` parameters, values untrimmed.
    pub params: HashMap<String, String>,
    remove_private_groups: bool,
    remove_unspecified: bool,
    remove_overlays: bool,
    remove_curves: bool,
    keep_safe_private: bool,
    keep_groups: BTreeSet<u16>,
}

/// Java's `String.trim`: every character up to U+0020 at either end.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

impl CtpScript {
    pub fn compile(script: &Script) -> Self {
        let mut s = CtpScript::default();
        for item in &script.items {
            match item {
                Item::Param(p) => {
                    s.params.insert(p.name.value.clone(), p.value.value.clone());
                }
                Item::Element(rule) if rule.enabled.is_enabled() => {
                    let text = java_trim(&rule.text.value).to_string();
                    let name = rule.name.as_ref().map(|n| n.value.trim().to_string());
                    match &rule.tag {
                        Some(TagSpec::Tag { group, element }) => {
                            let tag = Tag(*group, *element);
                            s.scripts.insert(tag, text);
                            if group % 2 == 1
                                && let Some(n) = name.filter(|n| !n.is_empty())
                            {
                                s.private_names.insert(n, tag);
                            }
                        }
                        Some(TagSpec::Private {
                            group,
                            creator,
                            offset,
                        }) => s.private_rules.push(PrivateRule {
                            group: *group,
                            creator: creator.trim().to_string(),
                            offset: *offset,
                            text,
                            name: name.unwrap_or_default(),
                        }),
                        None => {}
                    }
                }
                Item::Keep(k) if k.enabled.is_enabled() => match k.target {
                    Some(KeepTarget::Group { group }) => {
                        s.keep_groups.insert(group);
                    }
                    Some(KeepTarget::SafePrivateElements) => s.keep_safe_private = true,
                    None => {}
                },
                Item::Remove(r) if r.enabled.is_enabled() => match r.target {
                    Some(RemoveTarget::PrivateGroups) => s.remove_private_groups = true,
                    Some(RemoveTarget::UnspecifiedElements) => s.remove_unspecified = true,
                    Some(RemoveTarget::Overlays) => s.remove_overlays = true,
                    Some(RemoveTarget::Curves) => s.remove_curves = true,
                    None => {}
                },
                _ => {}
            }
        }
        s
    }

    /// Override or add parameters (`--param NAME=VALUE`).
    pub fn set_param(&mut self, name: &str, value: &str) {
        self.params.insert(name.to_string(), value.to_string());
    }
}

/// What the functions read beyond the data set.
pub struct Tables<'a> {
    /// The local lookup table (`keyType/value = replacement`).
    pub lookup: &'a HashMap<String, String>,
    pub integers: &'a dyn IntegerTable,
}

/// File meta values, for references to group 0002.
pub type Meta = HashMap<Tag, String>;

/// Anonymize one data set in place. Returns the warnings (elements whose
/// new value could not be written, and were removed).
pub fn anonymize(
    obj: &mut InMemDicomObject,
    meta: &Meta,
    script: &CtpScript,
    tables: &Tables,
) -> Result<Vec<String>, Stop> {
    // dcm4che sees no character set in an empty value either.
    let declared = obj
        .get(tags::SPECIFIC_CHARACTER_SET)
        .and_then(element_string)
        .is_some_and(|v| !v.replace('\\', "").trim().is_empty());
    if !declared {
        obj.put(text_element(
            tags::SPECIFIC_CHARACTER_SET,
            VR::CS,
            "ISO_IR 100",
        ));
    }
    // dcm4che reads a UN element the dictionary knows with its VR, writes
    // no group lengths, and stops reading at trailing padding.
    resolve_unknown_vrs(obj);
    remove_group_lengths(obj);
    obj.remove_element(tags::DATA_SET_TRAILING_PADDING);
    let original = obj.clone();
    // Rules for private elements named by their creator join the script's
    // rules only in a data set that has that creator: the tables are copied
    // only then.
    let mut scripts = Cow::Borrowed(&script.scripts);
    let mut private_names = Cow::Borrowed(&script.private_names);
    for rule in &script.private_rules {
        if let Some(tag) = private_tag(&original, rule.group, &rule.creator, Some(rule.offset)) {
            scripts.to_mut().insert(tag, rule.text.clone());
            if !rule.name.is_empty() {
                private_names.to_mut().insert(rule.name.clone(), tag);
            }
        }
    }
    let engine = Engine {
        script,
        scripts,
        private_names,
        tables,
        meta,
        root: &original,
        warnings: std::cell::RefCell::new(Vec::new()),
    };
    engine.insert_elements(obj)?;
    engine.process_elements(&Frame::root(&original), obj)?;
    Ok(engine.warnings.into_inner())
}

/// The data set being processed and the ones enclosing it.
struct Frame<'a> {
    ds: &'a InMemDicomObject,
    /// Enclosing data sets, the root first.
    parents: Vec<&'a InMemDicomObject>,
}

impl<'a> Frame<'a> {
    fn root(ds: &'a InMemDicomObject) -> Self {
        Frame {
            ds,
            parents: Vec::new(),
        }
    }

    fn is_root(&self) -> bool {
        self.parents.is_empty()
    }

    /// What CTP's `getRootDataset` returns: the enclosing data set (the
    /// root for a first-level item), or the data set itself at the root.
    fn enclosing(&self) -> &'a InMemDicomObject {
        self.parents.last().copied().unwrap_or(self.ds)
    }

    fn true_root(&self) -> &'a InMemDicomObject {
        self.parents.first().copied().unwrap_or(self.ds)
    }
}

struct Engine<'a> {
    script: &'a CtpScript,
    scripts: Cow<'a, HashMap<Tag, String>>,
    private_names: Cow<'a, HashMap<String, Tag>>,
    tables: &'a Tables<'a>,
    meta: &'a Meta,
    root: &'a InMemDicomObject,
    warnings: std::cell::RefCell<Vec<String>>,
}

/// The result of one expression, and whether it asked for `@process()`.
struct Replacement {
    text: String,
    process: bool,
}

impl Engine<'_> {
    fn script_for(&self, tag: Tag) -> Option<&str> {
        self.scripts.get(&tag).map(String::as_str)
    }

    /// `insertElements`: create the elements `@always()` asks for.
    fn insert_elements(&self, out: &mut InMemDicomObject) -> Result<(), Stop> {
        let mut scripted: Vec<(&Tag, &String)> = self.scripts.iter().collect();
        scripted.sort();
        let frame = Frame::root(self.root);
        for (&tag, script) in scripted {
            if self.root.get(tag).is_some() {
                continue;
            }
            let script = java_trim(script);
            let vr = dictionary_vr(tag).unwrap_or(VR::SH);
            if script.starts_with("@always()") && vr != VR::SQ {
                let value = self.make_replacement(script, &frame, tag)?.text;
                if value == "@keep()" || value == "@remove()" {
                } else if value.starts_with("@blank(") || value == "@empty()" {
                    self.put(out, tag, vr, "");
                } else {
                    self.put(out, tag, vr, &value);
                }
            } else if script.starts_with("@always()@require()") && vr == VR::SQ {
                self.put(out, tag, vr, "");
            } else if script.starts_with("@always()@call") && vr == VR::SQ {
                self.make_replacement(script, &frame, tag)?;
            } else if tag == tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE {
                self.update_method_codes(script, &frame, out)?;
            }
        }
        Ok(())
    }

    /// `processElements` over one data set (`input` is the original, `out`
    /// the one being written).
    fn process_elements(&self, frame: &Frame, out: &mut InMemDicomObject) -> Result<(), Stop> {
        let s = self.script;
        for element in frame.ds.iter() {
            let tag = element.tag();
            let group = tag.group();
            let is_overlay = group & 0xFF00 == 0x6000;
            let is_curve = group & 0xFF00 == 0x5000;
            let is_private = group % 2 == 1;
            let is_creator = is_private && tag.element() & 0xFF00 == 0;
            let script = self.script_for(tag);
            let keep = s.keep_groups.contains(&group)
                || (is_creator && s.keep_safe_private)
                || tag == tags::SOP_CLASS_UID
                || tag == tags::SOP_INSTANCE_UID
                || tag == tags::STUDY_INSTANCE_UID
                || group == 0x0002
                || group == 0x0028
                || group == 0x7FE0
                || (is_overlay && !s.remove_overlays && !(is_private && s.remove_private_groups))
                || (is_curve && !s.remove_curves && !(is_private && s.remove_private_groups));
            if (s.remove_private_groups && is_private && script.is_none() && !keep)
                || (s.remove_unspecified && script.is_none() && !keep)
                || (s.remove_overlays && is_overlay)
            {
                out.remove_element(tag);
                continue;
            }
            let Some(script) = script else { continue };
            if tag == tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE {
                self.update_method_codes(script, frame, out)?;
                continue;
            }
            let replacement = self.make_replacement(script, frame, tag)?;
            let value = java_trim(&replacement.text);
            let vr = element.vr();
            if value.contains("@remove()") {
                out.remove_element(tag);
                continue;
            }
            if value == "@keep()" {
            } else if let Some(rest) = value.strip_prefix("@blank(") {
                let n = rest
                    .find(')')
                    .map(|p| {
                        let digits: String =
                            rest[..p].chars().filter(char::is_ascii_digit).collect();
                        format!("0{digits}").parse::<usize>().unwrap_or(usize::MAX)
                    })
                    .unwrap_or(0)
                    .min(55);
                self.put(out, tag, vr, &" ".repeat(n));
            } else {
                let value = if value == "@empty()" { "" } else { value };
                if vr == VR::SQ && !value.is_empty() {
                    // CTP cannot write text into a sequence and leaves it;
                    // we keep it only if its items were processed.
                    if !replacement.process {
                        self.warn(tag, "text cannot replace a sequence: removed");
                        out.remove_element(tag);
                        continue;
                    }
                } else {
                    self.put(out, tag, vr, value);
                }
            }
            if replacement.process && out.get(tag).is_some() {
                self.process_items(frame, element, out)?;
            }
        }
        Ok(())
    }

    /// `@process()`: apply the script to each item of a sequence.
    fn process_items(
        &self,
        frame: &Frame,
        element: &DataElement<InMemDicomObject>,
        out: &mut InMemDicomObject,
    ) -> Result<(), Stop> {
        let Value::Sequence(seq) = element.value() else {
            return Ok(());
        };
        let tag = element.tag();
        let mut result = Ok(());
        out.update_value(tag, |v| {
            let Some(out_items) = v.items_mut() else {
                return;
            };
            for (in_item, out_item) in seq.items().iter().zip(out_items.iter_mut()) {
                let mut parents = frame.parents.clone();
                parents.push(frame.ds);
                let child = Frame {
                    ds: in_item,
                    parents,
                };
                if result.is_ok() {
                    result = self.process_elements(&child, out_item);
                }
            }
        });
        result
    }

    /// `updateDeIdentificationMethodCodeSeq`.
    fn update_method_codes(
        &self,
        script: &str,
        frame: &Frame,
        out: &mut InMemDicomObject,
    ) -> Result<(), Stop> {
        let tag = tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE;
        let script = java_trim(script);
        if script.is_empty() || script == "@keep()" {
            return Ok(());
        }
        if script == "@remove()" {
            out.remove_element(tag);
            return Ok(());
        }
        let value = self.make_replacement(script, frame, tag)?.text;
        let mut items: Vec<InMemDicomObject> = out
            .get(tag)
            .and_then(|e| e.items())
            .map(|i| i.to_vec())
            .unwrap_or_default();
        for code in java_trim(&value).split('/') {
            let code = java_trim(code);
            if code.eq_ignore_ascii_case("reset") {
                items.clear();
                continue;
            }
            let (scheme, meaning) = match method_code_meaning(code) {
                Some(m) => ("DCM", m),
                None => ("UNKNOWN", "UNKNOWN"),
            };
            items.push(InMemDicomObject::from_element_iter([
                text_element(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
                text_element(tags::CODE_VALUE, VR::SH, code),
                text_element(tags::CODE_MEANING, VR::LO, meaning),
            ]));
        }
        out.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
        Ok(())
    }

    fn warn(&self, tag: Tag, message: &str) {
        self.warnings.borrow_mut().push(format!(
            "({:04X},{:04X}): {message}",
            tag.group(),
            tag.element()
        ));
    }

    /// `putXX`: write a value in the element's VR; a value the VR cannot
    /// hold removes the element (a deliberate difference: CTP keeps the
    /// original value).
    fn put(&self, out: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
        match typed_value(tag, vr, value) {
            Ok(element) => {
                out.put(element);
            }
            Err(e) => {
                self.warn(tag, &format!("{e}: removed"));
                out.remove_element(tag);
            }
        }
    }

    /// `makeReplacement`, at most [`MAX_EXPR_DEPTH`] evaluations deep
    /// (`check` refuses deeper scripts; this keeps the stack safe even so).
    fn make_replacement(&self, cmd: &str, frame: &Frame, this: Tag) -> Result<Replacement, Stop> {
        thread_local! {
            static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        }
        let depth = DEPTH.get();
        if depth >= MAX_EXPR_DEPTH {
            return Err(Stop::Quarantine(format!(
                "the script's calls are nested more than {MAX_EXPR_DEPTH} levels deep"
            )));
        }
        DEPTH.set(depth + 1);
        let result = self.evaluate(cmd, frame, this);
        DEPTH.set(depth);
        result
    }

    /// `makeReplacement`: evaluate an expression as text, left to right.
    fn evaluate(&self, cmd: &str, frame: &Frame, this: Tag) -> Result<Replacement, Stop> {
        let chars: Vec<char> = cmd.chars().collect();
        let mut out = String::new();
        let mut process = false;
        let mut i = 0;
        let mut escape = false;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            if escape {
                out.push(c);
                escape = false;
            } else if c == '\\' {
                escape = true;
            } else if c == '@' {
                let Some(call) = FnCall::parse(&chars[i..]) else {
                    break;
                };
                i += call.length;
                let result = self.call(&call, frame, this)?;
                process |= result.process;
                out.push_str(&result.text);
            } else {
                out.push(c);
            }
        }
        Ok(Replacement { text: out, process })
    }

    /// `getParam`: `@NAME` or `$NAME` is a parameter (`None` when
    /// undefined); anything else is itself.
    fn param(&self, name: &str) -> Option<String> {
        let name = java_trim(name);
        match name.strip_prefix('@').or_else(|| name.strip_prefix('$')) {
            Some(p) => self.script.params.get(p).cloned(),
            None => Some(name.to_string()),
        }
    }

    /// `contentsNull`: the value of `this` or of an element reference,
    /// `None` when there is no such element.
    fn contents(&self, name: &str, frame: &Frame, this: Tag) -> Option<String> {
        if name.trim() == "this" {
            return elements::value_of(frame.ds, self.meta, this);
        }
        elements::contents(
            name,
            frame.ds,
            frame.true_root(),
            self.meta,
            &self.private_names,
        )
    }

    fn element_tag(&self, name: &str, ds: &InMemDicomObject) -> Option<Tag> {
        elements::element_tag(name, ds, &self.private_names)
    }
}

/// Remove every group length element (gggg,0000), at every depth.
fn remove_group_lengths(obj: &mut InMemDicomObject) {
    let lengths: Vec<Tag> = obj.tags().filter(|t| t.element() == 0).collect();
    for tag in lengths {
        obj.remove_element(tag);
    }
    for_each_item(obj, remove_group_lengths);
}

/// `StringUtil.getInt`: an integer, or 0.
fn java_get_int(s: &str) -> i64 {
    s.trim().parse().unwrap_or(0)
}

/// The meanings CTP writes for de-identification method codes.
fn method_code_meaning(code: &str) -> Option<&'static str> {
    Some(match code {
        "113100" => "Basic Application Confidentiality Profile",
        "113101" => "Clean Pixel Data Option",
        "113102" => "Clean Recognizable Visual Features Option",
        "113103" => "Clean Graphics Option",
        "113104" => "Clean Structured Content Option",
        "113105" => "Clean Descriptors Option",
        "113106" => "Retain Longitudinal Temporal Information Full Dates Option",
        "113107" => "Retain Longitudinal Temporal Information Modified Dates Option",
        "113108" => "Retain Patient Characteristics Option",
        "113109" => "Retain Device Identity Option",
        "113110" => "Retain UIDs",
        "113111" => "Retain Safe Private Option",
        "113112" => "Retain Institution Identity Option",
        _ => return None,
    })
}
