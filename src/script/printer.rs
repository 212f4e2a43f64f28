//! Printing an AST back as script text.
//!
//! The output parses back to an equal AST (see `tests/script_round_trip.rs`).
//! Rules are written one per line, indented by one space, as the RSNA tool
//! and CTP write them; element rules print their parsed expression, not the
//! text they were read from.

use std::fmt::Write as _;

use super::ast::{Arg, ArgValue, Call, ElementRule, Enabled, Expr, Item, Part, Script};
use super::expr_parser::scan_arg;
use super::xml_text::{escape_attr, escape_text};

/// The script as text.
pub fn print_script(script: &Script) -> String {
    let mut out = String::new();
    if let Some(decl) = &script.declaration {
        out.push_str(decl);
        out.push('\n');
    }
    out.push_str("<script>\n");
    for item in &script.items {
        out.push(' ');
        match item {
            Item::Param(p) => {
                let _ = write!(
                    out,
                    "<p t=\"{}\">{}</p>",
                    escape_attr(&p.name.value),
                    escape_text(&p.value.value)
                );
            }
            Item::Element(e) => print_element(&mut out, e),
            Item::Keep(k) => {
                let _ = write!(
                    out,
                    "<k{} t=\"{}\">{}</k>",
                    enabled_attr(&k.enabled),
                    escape_attr(&k.target_text.value),
                    escape_text(&k.text.value)
                );
            }
            Item::Remove(r) => {
                let _ = write!(
                    out,
                    "<r{} t=\"{}\">{}</r>",
                    enabled_attr(&r.enabled),
                    escape_attr(&r.target_text.value),
                    escape_text(&r.text.value)
                );
            }
            Item::Comment(c) => {
                let _ = write!(out, "<!--{}-->", c.text);
            }
            Item::Unknown(u) => out.push_str(&u.source),
        }
        out.push('\n');
    }
    out.push_str("</script>\n");
    out
}

fn enabled_attr(en: &Enabled) -> String {
    match &en.raw {
        Some(v) => format!(" en=\"{}\"", escape_attr(&v.value)),
        None => String::new(),
    }
}

fn print_element(out: &mut String, e: &ElementRule) {
    let _ = write!(
        out,
        "<e{} t=\"{}\"",
        enabled_attr(&e.enabled),
        escape_attr(&e.tag_text.value)
    );
    if let Some(n) = &e.name {
        let _ = write!(out, " n=\"{}\"", escape_attr(&n.value));
    }
    let body = match &e.expr {
        Some(expr) => print_expr(expr),
        None => e.text.value.clone(),
    };
    let _ = write!(out, ">{}</e>", escape_text(&body));
}

/// An expression as the text inside an `<e>` rule (before XML escaping).
pub fn print_expr(expr: &Expr) -> String {
    let mut out = String::new();
    let mut after_bare_call = false;
    for part in &expr.parts {
        match part {
            Part::Text(t) => {
                let mut chars = t.value.chars();
                // Text right after a bare call must not extend its name or open
                // an argument list.
                if after_bare_call
                    && let Some(first) = t.value.chars().next()
                    && (first.is_ascii_alphanumeric() || first == '_' || first == '(')
                {
                    out.push('\\');
                    out.push(first);
                    chars.next();
                }
                for c in chars {
                    if c == '\\' || c == '@' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                after_bare_call = false;
            }
            Part::Call(call) => {
                print_call(&mut out, call);
                after_bare_call = call.args.is_none();
            }
        }
    }
    out
}

fn print_call(out: &mut String, call: &Call) {
    out.push('@');
    out.push_str(&call.name.value);
    if let Some(args) = &call.args {
        out.push('(');
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&print_arg(arg));
        }
        out.push(')');
    }
    for block in &call.blocks {
        out.push('{');
        out.push_str(&print_expr(&block.body));
        out.push('}');
    }
}

fn print_arg(arg: &Arg) -> String {
    match &arg.value {
        ArgValue::Empty => String::new(),
        ArgValue::This => "this".into(),
        ArgValue::Param(name) => format!("@{name}"),
        ArgValue::Quoted(s) => format!("\"{}\"", s.replace('\\', "\\\\")),
        ArgValue::Number(s) | ArgValue::Name(s) | ArgValue::Text(s) => arg_text(s),
        ArgValue::Element(r) => arg_text(&r.raw),
        ArgValue::Call(call) => {
            let mut s = String::new();
            print_call(&mut s, call);
            s
        }
    }
}

/// Write `s` so that CTP's argument scanner reads it back as exactly `s`:
/// as is when it already does, otherwise with `\`, `,` and `)` escaped.
/// (CTP still counts an escaped quote or bracket, so those cannot be
/// escaped; an argument with unbalanced ones cannot be written at all.)
fn arg_text(s: &str) -> String {
    let probe = format!("{s})");
    if let (_, text, Some(end)) = scan_arg(&probe)
        && end == s.len()
        && text == s
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '\\' | ',' | ')') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
