//! The parser of `.script` files: the XML envelope, then each rule's expression.
//!
//! The envelope is the small XML dialect CTP's `DAScript` and the RSNA tool's
//! `AnonymizerModel._load_script` read: a `<script>` root holding `<p>`,
//! `<e>`, `<k>` and `<r>` children, comments, character references and CDATA.
//! A malformed envelope stops the parse at the first error, as an XML parser
//! would; a malformed expression is reported and the parse goes on, so one
//! run reports every broken rule.

use nom::bytes::complete::{tag, take_until, take_while, take_while1};
use nom::character::complete::{char, multispace0};
use nom::sequence::delimited;
use nom::{IResult, Parser};

use super::ast::{
    Comment, ElementRule, Enabled, Expr, Item, KeepRule, Param, RemoveRule, Script, UnknownElement,
};
use super::expr_parser::ExprParser;
use super::span::{LineIndex, Span, Spanned};
use super::tag_forms::{parse_keep_target, parse_remove_target, parse_rule_tag};
use super::xml_text::Decoded;
use crate::diagnostic::Diagnostic;

/// The most rules (and comments) room is made for before a script's
/// children are read: seven times the `<` of the largest script seen
/// (the RSNA tool's, about 9,300); a longer list grows as it is read.
const MOST_RESERVED_ITEMS: usize = 1 << 16;

/// The result of parsing one script: the AST when the envelope is well
/// formed, and every problem found on the way.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub script: Option<Script>,
    pub diagnostics: Vec<Diagnostic>,
    pub lines: LineIndex,
}

/// Parse a script's source text.
pub fn parse(source: &str) -> Parsed {
    let mut p = EnvelopeParser {
        src: source,
        lines: LineIndex::new(source),
        diagnostics: Vec::new(),
    };
    let script = p.script().ok();
    Parsed {
        script,
        diagnostics: p.diagnostics,
        lines: p.lines,
    }
}

/// A fatal envelope error has been recorded in the diagnostics.
struct Fatal;

type Res<'a, T> = IResult<&'a str, T, nom::error::Error<&'a str>>;

struct EnvelopeParser<'a> {
    src: &'a str,
    lines: LineIndex,
    diagnostics: Vec<Diagnostic>,
}

/// An attribute as written: name, decoded value, and the value's source range.
struct Attribute<'a> {
    name: &'a str,
    name_start: usize,
    value: String,
    value_start: usize,
    value_end: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | ':' | '.' | '-')
}

fn xml_name(input: &str) -> Res<'_, &str> {
    nom::combinator::recognize((
        nom::character::complete::satisfy(is_name_start),
        take_while(is_name_char),
    ))
    .parse(input)
}

impl<'a> EnvelopeParser<'a> {
    fn offset(&self, rest: &str) -> usize {
        self.src.len() - rest.len()
    }

    fn span(&self, start: usize, end: usize) -> Span {
        self.lines.span(self.src, start, end)
    }

    fn fatal<T>(&mut self, at: usize, len: usize, message: impl Into<String>) -> Result<T, Fatal> {
        let span = self.span(at, at + len);
        self.diagnostics
            .push(Diagnostic::error("xml-syntax", span, message));
        Err(Fatal)
    }

    /// `document := BOM? misc* ('<?xml' … '?>')? misc* root misc*`
    fn script(&mut self) -> Result<Script, Fatal> {
        let mut rest = self.src.strip_prefix('\u{feff}').unwrap_or(self.src);
        let mut declaration = None;
        rest = rest.trim_start();
        if rest.starts_with("<?xml") {
            let Some(end) = rest.find("?>") else {
                return self.fatal(
                    self.offset(rest),
                    5,
                    "the XML declaration is never closed: expected `?>`",
                );
            };
            declaration = Some(rest[..end + 2].to_string());
            rest = &rest[end + 2..];
        }
        // Comments and processing instructions before the root.
        let mut leading = Vec::new();
        rest = self.misc(rest, &mut leading)?;
        let root_start = self.offset(rest);
        if rest.starts_with("<!DOCTYPE") {
            return self.fatal(root_start, 9, "a DOCTYPE is not allowed in a script");
        }
        let Ok((after_name, name)) = delimited(char('<'), xml_name, multispace0).parse(rest) else {
            let what = if rest.is_empty() {
                "the file is empty"
            } else {
                "expected `<script>`"
            };
            return self.fatal(
                root_start,
                1,
                format!("{what}: a script is an XML document whose root is `<script>`"),
            );
        };
        if name != "script" {
            return self.fatal(
                root_start + 1,
                name.len(),
                format!("the root element is `<{name}>`, but a script's root must be `<script>`"),
            );
        }
        let (after_attrs, _, self_closing) = self.attributes(after_name, "script")?;
        let mut items = leading;
        // Room for every child at once (each begins with `<`): a script of
        // thousands of rules no longer copies its list as it grows. Capped,
        // so that a file of nothing but `<` asks for about 20 MB at most.
        let children = memchr::memchr_iter(b'<', after_attrs.as_bytes()).count();
        items.reserve(children.min(MOST_RESERVED_ITEMS));
        rest = after_attrs;
        if !self_closing {
            rest = self.children(rest, &mut items)?;
        }
        let root_end = self.offset(rest);
        rest = self.misc(rest, &mut items)?;
        if !rest.trim().is_empty() {
            let at = self.offset(rest.trim_start());
            return self.fatal(at, 1, "nothing but comments may follow `</script>`");
        }
        Ok(Script {
            declaration,
            items,
            span: self.span(root_start, root_end),
        })
    }

    /// Whitespace, comments and processing instructions outside the root.
    fn misc(&mut self, mut rest: &'a str, items: &mut Vec<Item>) -> Result<&'a str, Fatal> {
        loop {
            rest = rest.trim_start();
            if rest.starts_with("<!--") {
                let (after, comment) = self.comment(rest)?;
                items.push(Item::Comment(comment));
                rest = after;
            } else if rest.starts_with("<?") {
                let Some(end) = rest.find("?>") else {
                    return self.fatal(
                        self.offset(rest),
                        2,
                        "this processing instruction is never closed: expected `?>`",
                    );
                };
                rest = &rest[end + 2..];
            } else {
                return Ok(rest);
            }
        }
    }

    /// `comment := '<!--' text '-->'`
    fn comment(&mut self, input: &'a str) -> Result<(&'a str, Comment), Fatal> {
        let start = self.offset(input);
        let parsed: Res<&str> = delimited(tag("<!--"), take_until("-->"), tag("-->")).parse(input);
        match parsed {
            Ok((rest, text)) => {
                if text.contains("--") {
                    let at = start + 4 + text.find("--").unwrap_or(0);
                    return self.fatal(at, 2, "`--` is not allowed inside a comment");
                }
                let comment = Comment {
                    text: text.to_string(),
                    span: self.span(start, self.offset(rest)),
                };
                Ok((rest, comment))
            }
            Err(_) => self.fatal(start, 4, "this comment is never closed: expected `-->`"),
        }
    }

    /// The attributes of a start tag, up to and including `>` or `/>`.
    /// Returns the rest, the attributes, and whether the tag closed itself.
    fn attributes(
        &mut self,
        mut rest: &'a str,
        element: &str,
    ) -> Result<(&'a str, Vec<Attribute<'a>>, bool), Fatal> {
        let mut attrs: Vec<Attribute<'a>> = Vec::new();
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix("/>") {
                return Ok((after, attrs, true));
            }
            if let Some(after) = rest.strip_prefix('>') {
                return Ok((after, attrs, false));
            }
            let at = self.offset(rest);
            let Ok((after_name, name)) = xml_name(rest) else {
                if rest.is_empty() {
                    return self.fatal(
                        at,
                        0,
                        format!("the `<{element}>` tag is never closed: expected `>`"),
                    );
                }
                return self.fatal(
                    at,
                    1,
                    format!("expected an attribute name, `>` or `/>` in `<{element}>`"),
                );
            };
            let eq: Res<char> = delimited(multispace0, char('='), multispace0).parse(after_name);
            let Ok((after_eq, _)) = eq else {
                return self.fatal(
                    at,
                    name.len(),
                    format!(
                        "attribute `{name}` of `<{element}>` needs a value, as in `{name}=\"…\"`"
                    ),
                );
            };
            let quote = after_eq.chars().next();
            let Some(q @ ('"' | '\'')) = quote else {
                return self.fatal(
                    self.offset(after_eq),
                    1,
                    format!("the value of `{name}` must be quoted"),
                );
            };
            let body = &after_eq[1..];
            let Some(close) = body.find(q) else {
                return self.fatal(
                    self.offset(after_eq),
                    1,
                    format!("the value of `{name}` is never closed: expected `{q}`"),
                );
            };
            let raw = &body[..close];
            let value_start = self.offset(body);
            if let Some(lt) = raw.find('<') {
                return self.fatal(
                    value_start + lt,
                    1,
                    "`<` is not allowed in an attribute value: write `&lt;`",
                );
            }
            let mut decoded = Decoded::new(value_start);
            if let Err((pos, message)) = decoded.push_char_data(raw, value_start) {
                return self.fatal(pos, 1, message);
            }
            if attrs.iter().any(|a| a.name == name) {
                return self.fatal(at, name.len(), format!("attribute `{name}` is given twice"));
            }
            attrs.push(Attribute {
                name,
                name_start: at,
                value: decoded.text,
                value_start,
                value_end: value_start + raw.len(),
            });
            rest = &body[close + 1..];
        }
    }

    /// The children of `<script>`, through `</script>`.
    fn children(&mut self, mut rest: &'a str, items: &mut Vec<Item>) -> Result<&'a str, Fatal> {
        loop {
            let text_len = rest.find('<').unwrap_or(rest.len());
            let stray = rest[..text_len].trim();
            if !stray.is_empty() {
                let at = self.offset(rest) + rest[..text_len].find(stray).unwrap_or(0);
                let span = self.span(at, at + stray.len());
                self.diagnostics.push(Diagnostic::warning(
                    "stray-text",
                    span,
                    "text directly inside `<script>` is ignored by both reference tools",
                ));
            }
            rest = &rest[text_len..];
            if rest.is_empty() {
                return self.fatal(
                    self.offset(rest),
                    0,
                    "`<script>` is never closed: expected `</script>`",
                );
            }
            if rest.starts_with("<!--") {
                let (after, comment) = self.comment(rest)?;
                items.push(Item::Comment(comment));
                rest = after;
                continue;
            }
            if let Some(after) = rest.strip_prefix("</") {
                let at = self.offset(rest);
                let close: Res<&str> =
                    nom::sequence::terminated(xml_name, (multispace0, char('>'))).parse(after);
                return match close {
                    Ok((after, "script")) => Ok(after),
                    Ok((_, other)) => self.fatal(
                        at,
                        other.len() + 3,
                        format!("`</{other}>` closes nothing: expected `</script>`"),
                    ),
                    Err(_) => self.fatal(at, 2, "expected `</script>`"),
                };
            }
            if rest.starts_with("<![CDATA[") || rest.starts_with("<?") || rest.starts_with("<!") {
                let at = self.offset(rest);
                return self.fatal(
                    at,
                    2,
                    "only elements and comments may appear inside `<script>`",
                );
            }
            let (after, item) = self.child(rest)?;
            items.push(item);
            rest = after;
        }
    }

    /// One child element: `<p>`, `<e>`, `<k>`, `<r>`, or any other element (kept verbatim).
    fn child(&mut self, input: &'a str) -> Result<(&'a str, Item), Fatal> {
        let start = self.offset(input);
        let Ok((after_name, name)) = nom::sequence::preceded(char('<'), xml_name).parse(input)
        else {
            return self.fatal(
                start,
                1,
                "`<` must start an element or a comment; write `&lt;` for a literal `<`",
            );
        };
        let (after_tag, attrs, self_closing) = self.attributes(after_name, name)?;
        if !matches!(name, "p" | "e" | "k" | "r") {
            let rest = if self_closing {
                after_tag
            } else {
                self.skip_element(after_tag, name, start)?
            };
            let end = self.offset(rest);
            let span = self.span(start, end);
            self.diagnostics.push(Diagnostic::warning(
                "unknown-element",
                self.span(start + 1, start + 1 + name.len()),
                format!("`<{name}>` is not a script element (`p`, `e`, `k` or `r`): both reference tools ignore it"),
            ));
            let item = Item::Unknown(UnknownElement {
                name: name.to_string(),
                source: self.src[start..end].to_string(),
                span,
            });
            return Ok((rest, item));
        }
        let (rest, text) = if self_closing {
            (after_tag, Decoded::new(self.offset(after_tag)))
        } else {
            self.content(after_tag, name, start)?
        };
        let end = self.offset(rest);
        let span = self.span(start, end);
        let item = self.build_item(name, attrs, text, span, start)?;
        Ok((rest, item))
    }

    /// Skip an element no tool reads, nested elements included.
    fn skip_element(
        &mut self,
        mut rest: &'a str,
        name: &str,
        start: usize,
    ) -> Result<&'a str, Fatal> {
        let mut depth = 1usize;
        while depth > 0 {
            let Some(lt) = rest.find('<') else {
                return self.fatal(
                    start,
                    name.len() + 1,
                    format!("`<{name}>` is never closed: expected `</{name}>`"),
                );
            };
            rest = &rest[lt..];
            if rest.starts_with("<!--") {
                rest = self.comment(rest)?.0;
            } else if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
                let Some(end) = cdata.find("]]>") else {
                    return self.fatal(
                        self.offset(rest),
                        9,
                        "this CDATA section is never closed: expected `]]>`",
                    );
                };
                rest = &cdata[end + 3..];
            } else if let Some(after) = rest.strip_prefix("</") {
                depth -= 1;
                rest = &after[after.find('>').map_or(after.len(), |i| i + 1)..];
            } else {
                let inner_name = xml_name(&rest[1..]).map(|(_, n)| n).unwrap_or("");
                let (after, _, self_closing) =
                    self.attributes(&rest[1 + inner_name.len()..], inner_name)?;
                if !self_closing {
                    depth += 1;
                }
                rest = after;
            }
        }
        Ok(rest)
    }

    /// The text content of a rule element, through its end tag: character
    /// data, references and CDATA sections; comments are skipped with a warning.
    fn content(
        &mut self,
        mut rest: &'a str,
        name: &str,
        start: usize,
    ) -> Result<(&'a str, Decoded), Fatal> {
        let mut text = Decoded::new(self.offset(rest));
        loop {
            let run_len = rest.find('<').unwrap_or(rest.len());
            let run_start = self.offset(rest);
            if let Err((pos, message)) = text.push_char_data(&rest[..run_len], run_start) {
                return self.fatal(pos, 1, message);
            }
            rest = &rest[run_len..];
            if rest.is_empty() {
                return self.fatal(
                    run_start,
                    0,
                    format!("`<{name}>` is never closed: expected `</{name}>`"),
                );
            }
            let at = self.offset(rest);
            if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
                let Some(end) = cdata.find("]]>") else {
                    return self.fatal(at, 9, "this CDATA section is never closed: expected `]]>`");
                };
                text.push_literal(&cdata[..end], self.offset(cdata));
                rest = &cdata[end + 3..];
                text.set_end(self.offset(rest));
            } else if rest.starts_with("<!--") {
                let (after, comment) = self.comment(rest)?;
                self.diagnostics.push(Diagnostic::warning(
                    "comment-in-rule",
                    comment.span,
                    format!("a comment inside `<{name}>`: CTP reads the text around it, but the RSNA tool reads only the text before it"),
                ));
                rest = after;
                text.set_end(self.offset(rest));
            } else if let Some(after) = rest.strip_prefix("</") {
                let close: Res<&str> =
                    nom::sequence::terminated(take_while1(is_name_char), (multispace0, char('>')))
                        .parse(after);
                return match close {
                    Ok((after, closing)) if closing == name => Ok((after, text)),
                    Ok((_, closing)) => self.fatal(
                        at,
                        closing.len() + 3,
                        format!("`</{closing}>` does not close `<{name}>`: expected `</{name}>`"),
                    ),
                    Err(_) => self.fatal(at, 2, format!("expected `</{name}>`")),
                };
            } else if rest[1..].starts_with(is_name_start) {
                let line = self.span(start, start).line;
                return self.fatal(at, 1, format!("the `<{name}>` opened on line {line} is never closed: expected `</{name}>` before this element"));
            } else {
                return self.fatal(
                    at,
                    1,
                    format!("`<{name}>` may hold only text: write `&lt;` for a literal `<`"),
                );
            }
        }
    }

    /// Parse the text of an element rule as an expression, reporting a syntax error.
    fn expression(&mut self, text: &Decoded) -> Option<Expr> {
        let (lines, src) = (&self.lines, self.src);
        let to_span =
            |s: usize, e: usize| lines.span(src, text.source_offset(s), text.source_offset(e));
        match ExprParser::new(&text.text, to_span).parse() {
            Ok(expr) => Some(expr),
            Err((span, message)) => {
                self.diagnostics
                    .push(Diagnostic::error("expression-syntax", span, message));
                None
            }
        }
    }

    fn attr_spanned(&self, attr: &mut Attribute<'_>) -> Spanned<String> {
        Spanned {
            value: std::mem::take(&mut attr.value),
            span: self.span(attr.value_start, attr.value_end),
        }
    }

    fn build_item(
        &mut self,
        name: &str,
        mut attrs: Vec<Attribute<'a>>,
        text: Decoded,
        span: Span,
        start: usize,
    ) -> Result<Item, Fatal> {
        let allowed: &[&str] = match name {
            "p" => &["t"],
            _ => &["en", "t", "n"],
        };
        for attr in &attrs {
            if !allowed.contains(&attr.name) {
                let at = attr.name_start;
                self.diagnostics.push(Diagnostic::warning(
                    "unknown-attribute",
                    self.span(at, at + attr.name.len()),
                    format!("`<{name}>` has no attribute `{}`: it is ignored", attr.name),
                ));
            }
        }
        let mut take = |key: &str| {
            attrs
                .iter()
                .position(|a| a.name == key)
                .map(|i| attrs.swap_remove(i))
        };
        let (en, n) = (take("en"), take("n"));
        let Some(mut t) = take("t") else {
            return self.fatal(
                start,
                name.len() + 1,
                format!("`<{name}>` needs a `t` attribute"),
            );
        };
        let t_spanned = self.attr_spanned(&mut t);
        let text_span = self.span(text.source_offset(0), text.source_offset(text.text.len()));
        // Only an element rule's text is an expression; parse it before the
        // text moves into the tree.
        let expr = (name == "e").then(|| self.expression(&text));
        let text_spanned = Spanned {
            value: text.text,
            span: text_span,
        };
        let enabled = Enabled {
            raw: en.map(|mut a| self.attr_spanned(&mut a)),
        };
        let item = match name {
            "p" => Item::Param(Param {
                name: t_spanned,
                value: text_spanned,
                span,
            }),
            "e" => {
                let tag = match parse_rule_tag(&t_spanned.value) {
                    Ok(tag) => Some(tag),
                    Err(message) => {
                        self.diagnostics.push(Diagnostic::error(
                            "invalid-tag",
                            t_spanned.span,
                            message,
                        ));
                        None
                    }
                };
                Item::Element(ElementRule {
                    enabled,
                    tag_text: t_spanned,
                    tag,
                    name: n.map(|mut a| self.attr_spanned(&mut a)),
                    text: text_spanned,
                    expr: expr.flatten(),
                    span,
                })
            }
            "k" => {
                let target = parse_keep_target(&t_spanned.value)
                    .map_err(|m| {
                        self.diagnostics
                            .push(Diagnostic::error("invalid-keep", t_spanned.span, m))
                    })
                    .ok();
                Item::Keep(KeepRule {
                    enabled,
                    target_text: t_spanned,
                    target,
                    text: text_spanned,
                    span,
                })
            }
            _ => {
                let target = parse_remove_target(&t_spanned.value)
                    .map_err(|m| {
                        self.diagnostics.push(Diagnostic::error(
                            "invalid-remove",
                            t_spanned.span,
                            m,
                        ))
                    })
                    .ok();
                Item::Remove(RemoveRule {
                    enabled,
                    target_text: t_spanned,
                    target,
                    text: text_spanned,
                    span,
                })
            }
        };
        Ok(item)
    }
}
