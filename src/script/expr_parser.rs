//! The parser of the expression language inside `<e>` rules.
//!
//! An expression is literal text and calls. A call is `@name`, optionally
//! followed by an argument list; `@if` and `@select` then take two `{…}`
//! blocks and `@append` one, as in CTP's `FnCall`. Arguments are split the
//! way CTP splits them (quotes, brackets and parentheses protect commas, and
//! `\` escapes one character), then classified by shape. See `grammar/GRAMMAR.md`.

use nom::branch::alt;
use nom::bytes::complete::{take_till1, take_while};
use nom::character::complete::{anychar, char, multispace0, satisfy};
use nom::combinator::recognize;
use nom::error::{ErrorKind, ParseError};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::ast::{Arg, ArgValue, Block, Call, Expr, Part};
use super::span::{Span, Spanned};
use super::tag_forms::{is_identifier, parse_element_ref};

/// Functions whose argument list is followed by two `{…}` blocks.
pub const TWO_BLOCK_FUNCTIONS: [&str; 2] = ["if", "select"];
/// Functions whose argument list is followed by one `{…}` block.
pub const ONE_BLOCK_FUNCTIONS: [&str; 1] = ["append"];

/// How many blocks a call to `name` takes.
pub fn block_count(name: &str) -> usize {
    if TWO_BLOCK_FUNCTIONS.contains(&name) {
        2
    } else if ONE_BLOCK_FUNCTIONS.contains(&name) {
        1
    } else {
        0
    }
}

/// A syntax error in an expression: where (a slice of the input) and what.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError<'a> {
    pub at: &'a str,
    pub len: usize,
    pub message: String,
}

impl<'a> ExprError<'a> {
    fn new(at: &'a str, len: usize, message: impl Into<String>) -> Self {
        ExprError {
            at,
            len,
            message: message.into(),
        }
    }
}

impl<'a> ParseError<&'a str> for ExprError<'a> {
    fn from_error_kind(input: &'a str, kind: ErrorKind) -> Self {
        ExprError::new(input, 1, format!("unexpected input ({kind:?})"))
    }

    fn append(_: &'a str, _: ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, ExprError<'a>>;

fn failure<'a, T>(at: &'a str, len: usize, message: impl Into<String>) -> Res<'a, T> {
    Err(nom::Err::Failure(ExprError::new(at, len, message)))
}

/// How deeply calls may nest inside one another (as arguments or in
/// `{…}` blocks). Real scripts nest a few levels; CTP evaluates nested
/// calls by recursion too, so a limit keeps a hostile script from
/// exhausting the stack of `check` or of a run.
pub const MAX_EXPR_DEPTH: usize = 64;

/// The syntax error of calls nested past [`MAX_EXPR_DEPTH`].
pub fn too_deep_message() -> String {
    format!("calls are nested more than {MAX_EXPR_DEPTH} levels deep")
}

/// Parses the expressions of one text, mapping offsets in that text to spans.
pub struct ExprParser<'a, F: Fn(usize, usize) -> Span> {
    full: &'a str,
    to_span: F,
    /// Calls open around the one being parsed.
    depth: std::cell::Cell<usize>,
}

impl<'a, F: Fn(usize, usize) -> Span> ExprParser<'a, F> {
    /// `to_span(start, end)` turns a byte range of `full` into a source span.
    pub fn new(full: &'a str, to_span: F) -> Self {
        ExprParser {
            full,
            to_span,
            depth: std::cell::Cell::new(0),
        }
    }

    fn offset(&self, s: &str) -> usize {
        s.as_ptr() as usize - self.full.as_ptr() as usize
    }

    fn span_between(&self, from: &str, rest: &str) -> Span {
        (self.to_span)(self.offset(from), self.offset(rest))
    }

    fn span_of(&self, s: &str) -> Span {
        let start = self.offset(s);
        (self.to_span)(start, start + s.len())
    }

    /// Parse the whole text as one expression.
    pub fn parse(&self) -> Result<Expr, (Span, String)> {
        match self.expr(self.full) {
            Ok((_, expr)) => Ok(expr),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                let start = self.offset(e.at);
                let end = (start + e.len).min(self.full.len());
                Err(((self.to_span)(start, end), e.message))
            }
            Err(nom::Err::Incomplete(_)) => {
                Err((self.span_of(self.full), "incomplete input".into()))
            }
        }
    }

    /// `expr := part*`, to the end of `input`; adjacent literal pieces merge
    /// into one text part.
    fn expr(&self, input: &'a str) -> Res<'a, Expr> {
        let mut parts: Vec<Part> = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            if rest.starts_with('@') {
                let (after, call) = self.call(rest)?;
                parts.push(Part::Call(call));
                rest = after;
            } else {
                let (after, literal) = self.literal(rest)?;
                let span = self.span_between(rest, after);
                match parts.last_mut() {
                    Some(Part::Text(t)) => {
                        t.value.push_str(&literal);
                        t.span.end = span.end;
                    }
                    _ => parts.push(Part::Text(Spanned {
                        value: literal,
                        span,
                    })),
                }
                rest = after;
            }
        }
        Ok((
            rest,
            Expr {
                parts,
                span: self.span_between(input, rest),
            },
        ))
    }

    /// `text := [^@\\]+ | '\' any-char`
    fn literal(&self, input: &'a str) -> Res<'a, String> {
        let run = take_till1(|c| c == '@' || c == '\\').map(str::to_string);
        let escape = preceded(char('\\'), anychar).map(String::from);
        let parsed: Res<'a, String> = alt((run, escape)).parse(input);
        match parsed {
            Ok(ok) => Ok(ok),
            Err(_) => failure(input, 1, "`\\` at the end of the text escapes nothing"),
        }
    }

    /// A call, at most [`MAX_EXPR_DEPTH`] deep.
    fn call(&self, input: &'a str) -> Res<'a, Call> {
        let depth = self.depth.get();
        if depth >= MAX_EXPR_DEPTH {
            return failure(input, 1, too_deep_message());
        }
        self.depth.set(depth + 1);
        let parsed = self.call_inner(input);
        self.depth.set(depth);
        parsed
    }

    /// `call := '@' name ( '(' args ')' blocks )?`
    fn call_inner(&self, input: &'a str) -> Res<'a, Call> {
        let name_parser = recognize((
            satisfy(|c| c.is_ascii_alphabetic() || c == '_'),
            take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
        ));
        let parsed: Res<'a, &'a str> = preceded(char('@'), name_parser).parse(input);
        let (rest, name) = match parsed {
            Ok(ok) => ok,
            Err(_) => {
                return failure(
                    input,
                    1,
                    "`@` must start a function call such as `@remove()`; write `\\@` for a literal `@`",
                );
            }
        };
        let name_spanned = Spanned {
            value: name.to_string(),
            span: self.span_of(name),
        };
        let (rest, args) = if rest.starts_with('(') {
            let (rest, args) = self.args(rest)?;
            (rest, Some(args))
        } else {
            (rest, None)
        };
        let wanted = block_count(name);
        if wanted > 0 && args.is_none() {
            let blocks = if wanted == 2 {
                "two `{…}` blocks"
            } else {
                "a `{…}` block"
            };
            return failure(
                input,
                input.len() - rest.len(),
                format!("`@{name}` needs an argument list and {blocks}, as in `@{name}(…){{…}}`"),
            );
        }
        let mut blocks = Vec::with_capacity(wanted);
        let mut rest = rest;
        for i in 0..wanted {
            let (after, block) = self.block(rest, name, i, wanted)?;
            blocks.push(block);
            rest = after;
        }
        Ok((
            rest,
            Call {
                name: name_spanned,
                args,
                blocks,
                span: self.span_between(input, rest),
            },
        ))
    }

    /// `block := ws '{' balanced-text '}'`; the text is an expression.
    fn block(&self, input: &'a str, name: &str, index: usize, wanted: usize) -> Res<'a, Block> {
        let (start, _) = multispace0::<&str, ExprError>.parse(input)?;
        if !start.starts_with('{') {
            let which = match (wanted, index) {
                (1, _) => "its `{…}` block",
                (_, 0) => "a first `{…}` block (used when the condition holds)",
                _ => "a second `{…}` block (used otherwise)",
            };
            return failure(
                start,
                start.chars().next().map_or(0, char::len_utf8),
                format!("`@{name}` needs {which} here"),
            );
        }
        // CTP counts braces without regard to escapes or quotes.
        let mut depth = 0usize;
        for (i, c) in start.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        let body_text = &start[1..i];
                        let (_, body) = self.expr(body_text)?;
                        let rest = &start[i + 1..];
                        return Ok((
                            rest,
                            Block {
                                body,
                                span: self.span_between(start, rest),
                            },
                        ));
                    }
                }
                _ => {}
            }
        }
        failure(
            start,
            1,
            format!("this `{{` of `@{name}` is never closed: expected `}}`"),
        )
    }

    /// `args := '(' ( arg ( ',' arg )* )? ')'`, split as CTP's `FnCall.getArg` does.
    fn args(&self, input: &'a str) -> Res<'a, Vec<Arg>> {
        let open = input;
        let mut rest = &input[1..];
        let mut args = Vec::new();
        loop {
            let trimmed = rest.trim_start();
            if trimmed.is_empty() {
                return failure(open, 1, "this argument list is never closed: expected `)`");
            }
            if let Some(after) = trimmed.strip_prefix(')') {
                return Ok((after, args));
            }
            let (raw, text, delimiter_at) = scan_arg(trimmed);
            let Some(delimiter) = delimiter_at else {
                return failure(open, 1, "this argument list is never closed: expected `)`");
            };
            let raw_trimmed = raw.trim_end();
            args.push(Arg {
                value: self.classify(text.trim(), raw_trimmed),
                span: self.span_of(raw_trimmed),
            });
            let after = &trimmed[delimiter..];
            if let Some(next) = after.strip_prefix(',') {
                rest = next;
            } else {
                return Ok((&after[1..], args));
            }
        }
    }

    /// Classify one argument by its shape (see `ArgValue`).
    fn classify(&self, text: &str, raw: &'a str) -> ArgValue {
        if text.is_empty() {
            return ArgValue::Empty;
        }
        if text == "this" {
            return ArgValue::This;
        }
        if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
            return ArgValue::Quoted(text[1..text.len() - 1].to_string());
        }
        if let Some(name) = text.strip_prefix('@').or_else(|| text.strip_prefix('$')) {
            if is_identifier(name) {
                return ArgValue::Param(name.to_string());
            }
            // A call given as an argument; only when written without escapes,
            // so that its spans are spans of the source.
            if text.starts_with('@')
                && text == raw
                && let Ok(("", call)) = self.call(raw)
            {
                return ArgValue::Call(Box::new(call));
            }
            return ArgValue::Text(text.to_string());
        }
        if text.len() == 8
            && text.bytes().all(|b| b.is_ascii_hexdigit())
            && let Some(r) = parse_element_ref(text)
        {
            return ArgValue::Element(r);
        }
        if is_number(text) {
            return ArgValue::Number(text.to_string());
        }
        if is_identifier(text) {
            return ArgValue::Name(text.to_string());
        }
        match parse_element_ref(text) {
            Some(r) => ArgValue::Element(r),
            None => ArgValue::Text(text.to_string()),
        }
    }
}

/// `-?[0-9]+(\.[0-9]+)?`
fn is_number(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let s = s.strip_prefix('-').unwrap_or(s);
    match s.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(s),
    }
}

/// Scan one argument from `s` (which starts at the argument's first
/// non-blank character) as CTP's `FnCall.getArg` does. Returns the raw slice,
/// the text with escapes resolved, and the offset of the delimiter (`,` or
/// `)`) that ends it, or `None` when the input ends first.
pub fn scan_arg(s: &str) -> (&str, String, Option<usize>) {
    let mut text = String::new();
    let (mut escape, mut quote) = (false, false);
    let (mut brackets, mut parens) = (0usize, 0usize);
    for (i, c) in s.char_indices() {
        if !escape && !quote && brackets == 0 && parens == 0 && (c == ',' || c == ')') {
            return (&s[..i], text, Some(i));
        }
        if !escape && c == '\\' {
            escape = true;
            continue;
        }
        // An escaped character is taken literally and never ends the
        // argument, but CTP still counts it as a quote or bracket.
        text.push(c);
        if c == '"' {
            quote = !quote;
        }
        if !quote {
            match c {
                '[' => brackets += 1,
                ']' if brackets > 0 => brackets -= 1,
                '(' => parens += 1,
                ')' if parens > 0 => parens -= 1,
                _ => {}
            }
        }
        escape = false;
    }
    (s, text, None)
}
