//! The typed syntax tree of a `.script` file.
//!
//! The envelope (parameters, element rules, keep rules, remove rules, and the
//! comments between them, in file order) is kept apart from the parsed
//! expression of each element rule. Every node carries the [`Span`] of the
//! source it came from. The grammar is stated in `grammar/GRAMMAR.md`.

use serde::Serialize;

use super::span::{Span, Spanned};

/// A whole script: the `<script>` root and its children, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    /// The `<?xml …?>` declaration, verbatim, if the file has one.
    pub declaration: Option<String>,
    pub items: Vec<Item>,
    pub span: Span,
}

/// One child of `<script>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    Param(Param),
    Element(ElementRule),
    Keep(KeepRule),
    Remove(RemoveRule),
    Comment(Comment),
    /// An element neither reference tool reads (e.g. `<x>…</x>`), kept verbatim.
    Unknown(UnknownElement),
}

/// `<p t="NAME">value</p>`: a script parameter, referenced as `@NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    pub name: Spanned<String>,
    /// The decoded text content (character references resolved).
    pub value: Spanned<String>,
    pub span: Span,
}

/// The `en="T|F"` attribute of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enabled {
    /// The attribute's value as written, or `None` when the attribute is absent.
    pub raw: Option<Spanned<String>>,
}

impl Enabled {
    /// CTP enables a rule only when `en` is exactly `T`.
    pub fn is_enabled(&self) -> bool {
        self.raw.as_ref().is_some_and(|r| r.value == "T")
    }
}

/// `<e en="T" t="00100010" n="PatientName">expression</e>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElementRule {
    pub enabled: Enabled,
    /// The `t` attribute as written (so the printer can keep its spelling).
    pub tag_text: Spanned<String>,
    /// The `t` attribute parsed, or `None` when it is not a valid tag.
    pub tag: Option<TagSpec>,
    /// The `n` attribute: a free-text name (CTP also uses it to name private elements).
    pub name: Option<Spanned<String>>,
    /// The decoded text content, untrimmed, as the RSNA tool reads it.
    pub text: Spanned<String>,
    /// The parsed expression, or `None` when the text has a syntax error.
    pub expr: Option<Expr>,
    pub span: Span,
}

/// What the `t` attribute of an element rule names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TagSpec {
    /// `ggggeeee`: a tag given as eight hexadecimal digits.
    Tag { group: u16, element: u16 },
    /// `gggg[creator]ee`: an element of a private block, located through its creator.
    Private {
        group: u16,
        creator: String,
        offset: u8,
    },
}

/// `<k en="T" t="0018">…</k>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeepRule {
    pub enabled: Enabled,
    pub target_text: Spanned<String>,
    pub target: Option<KeepTarget>,
    pub text: Spanned<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeepTarget {
    /// Keep every element of one group.
    Group { group: u16 },
    /// Keep private elements that CTP's private tag index marks as safe.
    SafePrivateElements,
}

/// `<r en="T" t="privategroups">…</r>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoveRule {
    pub enabled: Enabled,
    pub target_text: Spanned<String>,
    pub target: Option<RemoveTarget>,
    pub text: Spanned<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoveTarget {
    PrivateGroups,
    UnspecifiedElements,
    Curves,
    Overlays,
}

impl RemoveTarget {
    pub const ALL: [RemoveTarget; 4] = [
        RemoveTarget::PrivateGroups,
        RemoveTarget::UnspecifiedElements,
        RemoveTarget::Curves,
        RemoveTarget::Overlays,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            RemoveTarget::PrivateGroups => "privategroups",
            RemoveTarget::UnspecifiedElements => "unspecifiedelements",
            RemoveTarget::Curves => "curves",
            RemoveTarget::Overlays => "overlays",
        }
    }
}

/// `<!-- … -->`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

/// An element of the envelope that no reference tool reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownElement {
    pub name: String,
    /// The element's source text, verbatim.
    pub source: String,
    pub span: Span,
}

/// The expression inside an `<e>` rule: literal text and calls, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expr {
    pub parts: Vec<Part>,
    pub span: Span,
}

impl Expr {
    /// Whether the expression is empty or only whitespace (the "keep" rule).
    pub fn is_blank(&self) -> bool {
        self.parts.iter().all(|p| match p {
            Part::Text(t) => t.value.trim().is_empty(),
            Part::Call(_) => false,
        })
    }

    /// Every call in the expression, depth first, including calls inside
    /// blocks and calls given as arguments.
    pub fn calls(&self) -> Vec<&Call> {
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Call(call) = part {
                call.collect_calls(&mut out);
            }
        }
        out
    }

    /// The first call to `@name` in the expression (see [`Expr::calls`]).
    pub fn call_named(&self, name: &str) -> Option<&Call> {
        self.calls().into_iter().find(|c| c.name.value == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Part {
    /// Literal text, with `\` escapes resolved.
    Text(Spanned<String>),
    Call(Call),
}

/// `@name`, `@name(args…)`, or a block form such as `@if(args){…}{…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub name: Spanned<String>,
    /// `None` for a bare call written without parentheses (`@uid`, as the
    /// RSNA tool writes them); `Some(vec![])` for `@name()`.
    pub args: Option<Vec<Arg>>,
    /// The `{…}` clauses of `@if`, `@select` (two) and `@append` (one).
    pub blocks: Vec<Block>,
    pub span: Span,
}

impl Call {
    /// Argument `index` (from 0) when it is written as a number.
    pub fn number_arg(&self, index: usize) -> Option<&str> {
        match &self.args.as_ref()?.get(index)?.value {
            ArgValue::Number(n) => Some(n),
            _ => None,
        }
    }

    fn collect_calls<'a>(&'a self, out: &mut Vec<&'a Call>) {
        out.push(self);
        for arg in self.args.iter().flatten() {
            if let ArgValue::Call(inner) = &arg.value {
                inner.collect_calls(out);
            }
        }
        for block in &self.blocks {
            out.extend(block.body.calls());
        }
    }

    pub fn arg_count(&self) -> usize {
        self.args.as_ref().map_or(0, Vec::len)
    }
}

/// A `{…}` clause: an expression of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block {
    pub body: Expr,
    pub span: Span,
}

/// One argument of a call, trimmed, escapes resolved, and classified by its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arg {
    pub value: ArgValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum ArgValue {
    /// Nothing between the delimiters, as in `@hash(this,)`.
    Empty,
    /// `this`: the element the rule is being applied to.
    This,
    /// `@NAME` or `$NAME`: a script parameter.
    Param(String),
    /// `"…"`: quoted text, quotes removed.
    Quoted(String),
    /// An integer or decimal number, as written (`16`, `-137`, `1.5`).
    Number(String),
    /// A bare identifier such as `PatientID`, `ptid` or `contains`; whether it
    /// names an element or is a plain word depends on the function.
    Name(String),
    /// An element reference that is not a bare identifier: a tag in any form
    /// (`00100020`, `[0010,0020]`, `(0010,0020)`, `0009[CTP]01`), a sequence
    /// path (`Seq::Element`), or a `root:` reference.
    Element(ElementRef),
    /// A call written as an argument (`@param(@X)`).
    Call(Box<Call>),
    /// Any other text (a regular expression, a path, `*`, …).
    Text(String),
}

/// An element reference: `root:`? segment (`::` segment)*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElementRef {
    /// The reference as written (so the printer can keep its spelling).
    pub raw: String,
    pub root: bool,
    pub segments: Vec<ElementSegment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ElementSegment {
    Keyword {
        keyword: String,
    },
    Tag {
        group: u16,
        element: u16,
    },
    Private {
        group: u16,
        creator: String,
        offset: Option<u8>,
    },
}
