//! CTP's boolean condition language: the text of a DicomFilter script and
//! of each `{…}` signature of a DicomPixelAnonymizer script.
//!
//! Reference: johnperry/CTP, `DicomObject.matches` and its `Tokenizer`,
//! `Operand` and `Operator` classes. A condition is operands joined by
//! `*` (and), `+` (or) and `!` (not), with parentheses; `!` binds tighter
//! than `*`, and `*` tighter than `+`. An operand is `true.` or `false.`,
//! or `element.method("value")`: the element is a keyword, a tag
//! (`[0008,0008]`), `gggg[creator]ee`, `A::B` (first item of a sequence)
//! or `root:…`, read as CTP reads it (values joined by `\`, a missing
//! element is the empty text). `//` starts a comment that runs to the end
//! of the line, between operands. See `grammar/GRAMMAR.md`.
//!
//! Where CTP logs an error and treats a condition as false (a syntax
//! error, an unknown method, a value not in double quotes), this parser
//! refuses the script instead, with the position: a filter that silently
//! passes nothing, or a signature that never matches, is a script bug.

use std::collections::HashMap;

use dicom_object::InMemDicomObject;
use nom::IResult;
use nom::Parser;
use nom::branch::alt;
use nom::character::complete::char;
use nom::combinator::map;
use nom::error::{ErrorKind, ParseError};
use nom::multi::many0;
use nom::sequence::preceded;

use crate::interpreter::ctp::Meta;
use crate::interpreter::ctp::elements;

/// A parsed condition.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `true.` or `false.`
    Const(bool),
    Test(Test),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

/// `element.method("value")`.
#[derive(Debug, Clone)]
pub struct Test {
    /// The element reference, trimmed, as written.
    pub element: String,
    pub method: Method,
    /// The text between the quotes.
    pub value: String,
    /// Byte range of the whole operand in the source.
    pub start: usize,
    pub end: usize,
    /// `matches`: the value compiled as a whole-text regular expression.
    regex: Option<regex::Regex>,
}

/// The methods CTP's `Operand` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Equals,
    EqualsIgnoreCase,
    Matches,
    Contains,
    ContainsIgnoreCase,
    StartsWith,
    StartsWithIgnoreCase,
    EndsWith,
    EndsWithIgnoreCase,
    IsLessThan,
    IsGreaterThan,
}

impl Method {
    pub const ALL: [(&'static str, Method); 11] = [
        ("equals", Method::Equals),
        ("equalsIgnoreCase", Method::EqualsIgnoreCase),
        ("matches", Method::Matches),
        ("contains", Method::Contains),
        ("containsIgnoreCase", Method::ContainsIgnoreCase),
        ("startsWith", Method::StartsWith),
        ("startsWithIgnoreCase", Method::StartsWithIgnoreCase),
        ("endsWith", Method::EndsWith),
        ("endsWithIgnoreCase", Method::EndsWithIgnoreCase),
        ("isLessThan", Method::IsLessThan),
        ("isGreaterThan", Method::IsGreaterThan),
    ];

    pub fn from_name(name: &str) -> Option<Method> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .expect("every method is listed")
    }

    /// The method applied to an element's text and the script's value,
    /// as Java's `String` methods do.
    pub fn apply(self, element: &str, value: &str, regex: Option<&regex::Regex>) -> bool {
        let lower = |s: &str| s.to_lowercase();
        match self {
            Method::Equals => element == value,
            Method::EqualsIgnoreCase => java_equals_ignore_case(element, value),
            Method::Matches => regex.is_some_and(|r| r.is_match(element)),
            Method::Contains => element.contains(value),
            Method::ContainsIgnoreCase => lower(element).contains(&lower(value)),
            Method::StartsWith => element.starts_with(value),
            Method::StartsWithIgnoreCase => lower(element).starts_with(&lower(value)),
            Method::EndsWith => element.ends_with(value),
            Method::EndsWithIgnoreCase => lower(element).ends_with(&lower(value)),
            Method::IsLessThan => numbers(element, value).is_some_and(|(a, b)| a < b),
            Method::IsGreaterThan => numbers(element, value).is_some_and(|(a, b)| a > b),
        }
    }
}

/// `isLessThan`/`isGreaterThan`: both texts with every character but
/// digits and `.` dropped, read as numbers (a text that is then not a
/// number makes the comparison false).
fn numbers(element: &str, value: &str) -> Option<(f64, f64)> {
    let digits = |s: &str| -> Option<f64> {
        let kept: String = s
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        kept.parse().ok()
    };
    Some((digits(element)?, digits(value)?))
}

/// Java's `String.equalsIgnoreCase`: the same length, and each pair of
/// characters equal, or equal upper-cased, or equal lower-cased.
fn java_equals_ignore_case(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            x == y || x.to_uppercase().eq(y.to_uppercase()) || x.to_lowercase().eq(y.to_lowercase())
        })
}

/// Where the values of elements come from: the data set and its file meta.
pub struct Values<'a> {
    pub ds: &'a InMemDicomObject,
    pub meta: &'a Meta,
}

impl Condition {
    /// The condition's value for one data set.
    pub fn eval(&self, values: &Values) -> bool {
        match self {
            Condition::Const(b) => *b,
            Condition::Test(t) => t.eval(values),
            Condition::Not(c) => !c.eval(values),
            Condition::And(cs) => cs.iter().all(|c| c.eval(values)),
            Condition::Or(cs) => cs.iter().any(|c| c.eval(values)),
        }
    }

    /// Every test in the condition, in source order.
    pub fn tests(&self) -> Vec<&Test> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Test>) {
        match self {
            Condition::Const(_) => {}
            Condition::Test(t) => out.push(t),
            Condition::Not(c) => c.collect(out),
            Condition::And(cs) | Condition::Or(cs) => cs.iter().for_each(|c| c.collect(out)),
        }
    }
}

impl Test {
    /// The element's text as CTP reads it (empty when missing).
    pub fn element_text(&self, values: &Values) -> String {
        elements::contents(
            &self.element,
            values.ds,
            values.ds,
            values.meta,
            &HashMap::new(),
        )
        .unwrap_or_default()
    }

    pub fn eval(&self, values: &Values) -> bool {
        self.method
            .apply(&self.element_text(values), &self.value, self.regex.as_ref())
    }
}

/// A syntax error: a byte range of the source and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub start: usize,
    pub end: usize,
    pub message: String,
}

/// Parser state threaded through nom: the whole source, to turn the
/// remaining input into offsets.
#[derive(Debug)]
struct Error<'a> {
    at: &'a str,
    len: usize,
    message: String,
}

impl<'a> ParseError<&'a str> for Error<'a> {
    fn from_error_kind(input: &'a str, kind: ErrorKind) -> Self {
        Error {
            at: input,
            len: 1,
            message: format!("unexpected input ({kind:?})"),
        }
    }

    fn append(_: &'a str, _: ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, Error<'a>>;

fn fail<'a, T>(at: &'a str, len: usize, message: impl Into<String>) -> Res<'a, T> {
    Err(nom::Err::Failure(Error {
        at,
        len,
        message: message.into(),
    }))
}

/// Java's `Character.isWhitespace` (no non-breaking spaces).
fn java_space(c: char) -> bool {
    (c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}'))
        || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Whitespace and `//` comments, as the tokenizer skips them.
fn space(mut input: &str) -> Res<'_, ()> {
    loop {
        let trimmed = input.trim_start_matches(java_space);
        if let Some(comment) = trimmed.strip_prefix("//") {
            input = comment.find('\n').map_or("", |n| &comment[n + 1..]);
        } else {
            return Ok((trimmed, ()));
        }
    }
}

/// CTP's `getField`: text up to `delim` outside double quotes (a `"`
/// toggles quoting), the delimiter consumed; or up to the end.
fn field(delim: char) -> impl Fn(&str) -> Res<'_, (&str, bool)> {
    move |input: &str| {
        let mut quoted = false;
        for (i, c) in input.char_indices() {
            if c == '"' {
                quoted = !quoted;
            }
            if !quoted && c == delim {
                return Ok((&input[i + c.len_utf8()..], (&input[..i], true)));
            }
        }
        Ok(("", (input, false)))
    }
}

struct ConditionParser<'s> {
    source: &'s str,
    /// Offset of `source` in the file (a signature's text starts inside it).
    base: usize,
}

impl<'s> ConditionParser<'s> {
    /// The file offset of `part`, a slice of the source.
    fn offset(&self, part: &str) -> usize {
        self.base + (part.as_ptr() as usize - self.source.as_ptr() as usize)
    }

    fn expression(&self, input: &'s str) -> Res<'s, Condition> {
        let (input, first) = self.term(input)?;
        let (input, rest) = many0(preceded((space, char('+')), |i| self.term(i))).parse(input)?;
        Ok((input, join(first, rest, Condition::Or)))
    }

    fn term(&self, input: &'s str) -> Res<'s, Condition> {
        let (input, first) = self.factor(input)?;
        let (input, rest) = many0(preceded((space, char('*')), |i| self.factor(i))).parse(input)?;
        Ok((input, join(first, rest, Condition::And)))
    }

    fn factor(&self, input: &'s str) -> Res<'s, Condition> {
        let (input, ()) = space(input)?;
        alt((
            map(preceded(char('!'), |i| self.factor(i)), |c| {
                Condition::Not(Box::new(c))
            }),
            |i| self.group(i),
            |i| self.operand(i),
        ))
        .parse(input)
    }

    fn group(&self, input: &'s str) -> Res<'s, Condition> {
        let (inner, _) = char('(').parse(input)?;
        let (rest, condition) = self.expression(inner)?;
        let (rest, ()) = space(rest)?;
        match char::<&str, Error>(')').parse(rest) {
            Ok((rest, _)) => Ok((rest, condition)),
            Err(_) => fail(rest, 1, "expected `)` to close the `(`"),
        }
    }

    fn operand(&self, input: &'s str) -> Res<'s, Condition> {
        let starts = input
            .chars()
            .next()
            .is_some_and(|c| c == '[' || c.is_alphabetic());
        if !starts {
            let len = input.chars().next().map_or(0, char::len_utf8);
            let what = if input.is_empty() {
                "the condition ends where a test was expected".to_string()
            } else {
                "expected a test such as `Modality.equals(\"US\")`, `true.`, `!` or `(`".to_string()
            };
            return fail(input, len.max(1), what);
        }
        let start = input;
        let (rest, (identifier, dot)) = field('.')(input)?;
        let element = identifier.trim();
        if element == "true" || element == "false" {
            return Ok((rest, Condition::Const(element == "true")));
        }
        if !dot {
            return fail(
                start,
                identifier.len(),
                format!("expected `.method(\"value\")` after `{element}`"),
            );
        }
        let (rest, (method_text, open)) = field('(')(rest)?;
        let method_name = method_text.trim();
        let (after, (value_text, close)) = field(')')(rest)?;
        let Some(method) = Method::from_name(method_name) else {
            let help = crate::spelling::closest(method_name, Method::ALL.iter().map(|(n, _)| *n))
                .map(|m| format!(" (did you mean `{m}`?)"))
                .unwrap_or_default();
            return fail(
                method_text,
                method_text.len().max(1),
                format!(
                    "unknown method `{method_name}`{help}; CTP knows {}",
                    method_list()
                ),
            );
        };
        if !open || !close {
            return fail(
                method_text,
                method_text.len().max(1),
                format!("expected `{method_name}(\"value\")`"),
            );
        }
        let value = value_text.trim();
        if value.len() < 2 || !value.starts_with('"') || !value.ends_with('"') {
            return fail(
                value_text,
                value_text.len().max(1),
                format!("the value of `{method_name}` must be in double quotes"),
            );
        }
        let value = &value[1..value.len() - 1];
        let regex = match method {
            Method::Matches => match regex::Regex::new(&format!("^(?:{value})$")) {
                Ok(r) => Some(r),
                Err(e) => {
                    return fail(
                        value_text,
                        value_text.len(),
                        format!("the regular expression does not compile: {e}"),
                    );
                }
            },
            _ => None,
        };
        Ok((
            after,
            Condition::Test(Test {
                element: element.to_string(),
                method,
                value: value.to_string(),
                start: self.offset(start),
                end: self.offset(after),
                regex,
            }),
        ))
    }
}

fn method_list() -> String {
    Method::ALL
        .iter()
        .map(|(n, _)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn join(
    first: Condition,
    rest: Vec<Condition>,
    make: fn(Vec<Condition>) -> Condition,
) -> Condition {
    if rest.is_empty() {
        first
    } else {
        let mut all = vec![first];
        all.extend(rest);
        make(all)
    }
}

/// Parse one condition. `base` is the offset of `source` in its file, so
/// that positions in errors and tests are offsets in the file.
pub fn parse(source: &str, base: usize) -> Result<Condition, SyntaxError> {
    let parser = ConditionParser { source, base };
    let error = |e: Error| SyntaxError {
        start: parser.offset(e.at),
        end: parser.offset(e.at) + e.len,
        message: e.message,
    };
    match parser.expression(source) {
        Ok((rest, condition)) => {
            let (rest, ()) = space(rest).map_err(|_| SyntaxError {
                start: parser.offset(rest),
                end: parser.offset(rest),
                message: "unreadable text".into(),
            })?;
            if rest.is_empty() {
                Ok(condition)
            } else {
                let len = rest.chars().next().map_or(1, char::len_utf8);
                let message = match rest.chars().next() {
                    Some(')') => "`)` without a matching `(`".to_string(),
                    _ => "expected `*` (and), `+` (or) or the end of the condition".to_string(),
                };
                Err(SyntaxError {
                    start: parser.offset(rest),
                    end: parser.offset(rest) + len,
                    message,
                })
            }
        }
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(error(e)),
        Err(nom::Err::Incomplete(_)) => Err(SyntaxError {
            start: base + source.len(),
            end: base + source.len(),
            message: "the condition is incomplete".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;

    fn obj() -> InMemDicomObject {
        InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::IMAGE_TYPE,
                VR::CS,
                PrimitiveValue::Strs(
                    vec!["ORIGINAL".into(), "PRIMARY".into(), "AXIAL".into()].into(),
                ),
            ),
            DataElement::new(tags::MODALITY, VR::CS, PrimitiveValue::from("US")),
            DataElement::new(
                tags::MANUFACTURER,
                VR::LO,
                PrimitiveValue::from("GE MEDICAL "),
            ),
            DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(512u16)),
            DataElement::new(tags::SLICE_THICKNESS, VR::DS, PrimitiveValue::from("2.5")),
        ])
    }

    fn eval(text: &str) -> bool {
        let o = obj();
        let meta = Meta::new();
        parse(text, 0)
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
            .eval(&Values {
                ds: &o,
                meta: &meta,
            })
    }

    #[test]
    fn methods_read_elements_as_ctp_does() {
        assert!(eval(r#"Modality.equals("US")"#));
        assert!(eval(r#"[0008,0060].equals("US")"#));
        assert!(eval(r#"ImageType.equals("ORIGINAL\PRIMARY\AXIAL")"#));
        assert!(eval(r#"ImageType.contains("PRIMARY")"#));
        assert!(eval(r#"Manufacturer.equals("GE MEDICAL")"#));
        assert!(eval(r#"Manufacturer.containsIgnoreCase("ge med")"#));
        assert!(eval(r#"Rows.equals("512")"#));
        assert!(eval(r#"SliceThickness.isGreaterThan("2")"#));
        assert!(!eval(r#"SliceThickness.isLessThan("2")"#));
        assert!(eval(r#"Modality.matches("U.")"#));
        assert!(
            !eval(r#"Modality.matches("U")"#),
            "matches is a whole-text match"
        );
        assert!(
            eval(r#"PatientName.equals("")"#),
            "a missing element is empty"
        );
        assert!(!eval(r#"PatientName.isLessThan("3")"#));
        assert!(eval(
            r#"Modality.startsWithIgnoreCase("u") * Modality.endsWith("S")"#
        ));
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        assert!(eval(r#"false. * true. + true."#));
        assert!(!eval(r#"false. * (true. + true.)"#));
        assert!(eval(r#"!false. * true."#));
        assert!(!eval(r#"!(false. + true.)"#));
        assert!(eval(r#"true. + false. * false."#));
        assert!(eval(
            "// a comment\n  !Modality.equals(\"CT\") // trailing\n"
        ));
        assert!(eval("true"), "the last `true` needs no dot");
    }

    #[test]
    fn errors_name_the_place() {
        let e = parse(r#"Modality.equal("US")"#, 10).unwrap_err();
        assert_eq!((e.start, e.end), (19, 24));
        assert!(e.message.contains("did you mean `equals`"), "{e:?}");
        let e = parse(r#"Modality.equals(US)"#, 0).unwrap_err();
        assert!(e.message.contains("double quotes"), "{e:?}");
        let e = parse(r#"Modality.equals("US") Rows.equals("1")"#, 0).unwrap_err();
        assert_eq!(e.start, 22);
        let e = parse(r#"(Modality.equals("US")"#, 0).unwrap_err();
        assert!(e.message.contains("`)`"), "{e:?}");
        let e = parse("", 0).unwrap_err();
        assert!(e.message.contains("ends"), "{e:?}");
        let e = parse(r#"1.equals("x")"#, 0).unwrap_err();
        assert_eq!(e.start, 0);
        assert!(parse(r#"Modality.matches("(")"#, 0).is_err());
    }
}
