//! CTP's DicomPixelAnonymizer script: which regions of which images to
//! blank.
//!
//! Reference: johnperry/CTP, `PixelScript.java` and `Signature.java`. The
//! file is free text. Each `{…}` is a signature: a condition
//! ([`crate::filter::condition`]) up to the first `}`. Every `(…)` between
//! one signature and the next is one of its regions, `(x, y, width,
//! height)` in pixels, each number read as Java's `Integer.parseInt` of
//! the trimmed text (0 when it is not one); text in parentheses that does
//! not split into four at its commas is skipped (`check` warns). Text
//! before the first signature is a comment. The first signature whose
//! condition holds gives the regions of a file. See `grammar/GRAMMAR.md`.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::filter::condition::{self, Condition, Values};
use crate::filter::{element_warnings, first_error, syntax_diagnostic};
use crate::script::span::LineIndex;

/// A rectangle as written: `(x, y, width, height)`. A negative `x` or `y`
/// counts from the right or bottom edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

impl std::fmt::Display for Region {
    /// As a pixel script writes it: `(x,y,w,h)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({},{},{},{})", self.x, self.y, self.width, self.height)
    }
}

/// The regions as a pixel script writes them, separated by spaces.
pub fn regions_text(regions: &[Region]) -> String {
    regions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One `{condition}` and the regions after it.
#[derive(Debug, Clone)]
pub struct Signature {
    /// The condition's text, as written between the braces.
    pub text: String,
    /// The line of the `{`.
    pub line: u32,
    pub condition: Condition,
    pub regions: Vec<Region>,
}

/// A pixel script, read and checked.
#[derive(Debug, Clone)]
pub struct PixelScript {
    pub path: PathBuf,
    pub signatures: Vec<Signature>,
}

impl PixelScript {
    /// Read and parse a pixel script; an error names the file, line and
    /// column.
    pub fn load(path: &Path) -> Result<PixelScript, String> {
        let source = crate::policy::read_utf8(path)?;
        let file = path.display().to_string();
        let (signatures, diagnostics) = parse(&source);
        if let Some(message) = first_error(&file, &source, &diagnostics) {
            return Err(message);
        }
        Ok(PixelScript {
            path: path.to_path_buf(),
            signatures,
        })
    }

    /// The first signature whose condition holds, and its index.
    pub fn matching(&self, values: &Values) -> Option<(usize, &Signature)> {
        self.signatures
            .iter()
            .enumerate()
            .find(|(_, s)| s.condition.eval(values))
    }
}

/// The diagnostics of a pixel script's text.
pub fn check(source: &str) -> Vec<Diagnostic> {
    parse(source).1
}

/// The signatures of a pixel script and the problems found. A signature
/// whose condition has a syntax error is left out (and reported).
pub fn parse(source: &str) -> (Vec<Signature>, Vec<Diagnostic>) {
    let lines = LineIndex::new(source);
    let mut diagnostics = Vec::new();
    let mut signatures = Vec::new();
    // `\{[^\}]*\}`: from a `{` to the next `}`.
    let mut braces = Vec::new();
    let mut at = 0;
    while let Some(open) = source[at..].find('{').map(|o| at + o) {
        match source[open..].find('}').map(|c| open + c) {
            Some(close) => {
                braces.push((open, close));
                at = close + 1;
            }
            None => {
                diagnostics.push(Diagnostic::warning(
                    "unclosed-signature",
                    lines.span(source, open, open + 1),
                    "this `{` is never closed: CTP reads the rest of the file as text",
                ));
                break;
            }
        }
    }
    for (k, &(open, close)) in braces.iter().enumerate() {
        let text = &source[open + 1..close];
        let regions_end = braces.get(k + 1).map_or(source.len(), |&(next, _)| next);
        let regions = regions(source, close + 1, regions_end, &lines, &mut diagnostics);
        let span = lines.span(source, open, close + 1);
        match condition::parse(text, open + 1) {
            Ok(condition) => {
                diagnostics.extend(element_warnings(&condition, source, &lines));
                if regions.is_empty() {
                    diagnostics.push(Diagnostic::warning(
                        "signature-without-regions",
                        span,
                        "this signature has no regions: a file it matches is passed as it is, and no later signature is tried",
                    ));
                }
                signatures.push(Signature {
                    text: text.to_string(),
                    line: span.line,
                    condition,
                    regions,
                });
            }
            Err(e) => diagnostics.push(syntax_diagnostic(&e, source, &lines)),
        }
    }
    (signatures, diagnostics)
}

/// The regions written in `source[start..end]`: `\([^\)]*\)`, split at
/// commas (Java's `split`, which drops trailing empty parts).
fn regions(
    source: &str,
    start: usize,
    end: usize,
    lines: &LineIndex,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Region> {
    let mut out = Vec::new();
    let mut at = start;
    while let Some(open) = source[at..end].find('(').map(|o| at + o) {
        let Some(close) = source[open..end].find(')').map(|c| open + c) else {
            break;
        };
        at = close + 1;
        let inner = &source[open + 1..close];
        let mut parts: Vec<&str> = inner.split(',').collect();
        while parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        let span = lines.span(source, open, close + 1);
        if parts.len() != 4 {
            diagnostics.push(Diagnostic::warning(
                "not-a-region",
                span,
                format!("`({inner})` is not a region (x, y, width, height): CTP skips it"),
            ));
            continue;
        }
        let numbers: Vec<i32> = parts.iter().map(|p| java_get_int(p)).collect();
        for (part, n) in parts.iter().zip(&numbers) {
            if *n == 0 && part.trim() != "0" && part.trim().parse::<i64>().is_err() {
                diagnostics.push(Diagnostic::warning(
                    "region-number",
                    span,
                    format!("`{}` is not an integer: CTP reads it as 0", part.trim()),
                ));
            }
        }
        out.push(Region {
            x: numbers[0],
            y: numbers[1],
            width: numbers[2],
            height: numbers[3],
        });
    }
    out
}

/// `StringUtil.getInt`: the trimmed text as a 32-bit integer, else 0.
fn java_get_int(s: &str) -> i32 {
    s.trim().parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_take_the_regions_up_to_the_next() {
        let src = "Library\n (not a region)\n{ Modality.equals(\"US\") }\n (0,0,640,60) ( -100 , 10, 50 ,20 ,)\n { true. }\n (1,2,3,4)\n note (x)\n";
        let (sigs, diags) = parse(src);
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[0].line, 3);
        assert_eq!(
            sigs[0].regions,
            vec![
                Region {
                    x: 0,
                    y: 0,
                    width: 640,
                    height: 60
                },
                Region {
                    x: -100,
                    y: 10,
                    width: 50,
                    height: 20
                }
            ]
        );
        assert_eq!(
            sigs[1].regions,
            vec![Region {
                x: 1,
                y: 2,
                width: 3,
                height: 4
            }]
        );
        let codes: Vec<_> = diags.iter().map(|d| (d.code, d.span.line)).collect();
        assert_eq!(
            codes,
            vec![("not-a-region", 7)],
            "text before the first signature is not read"
        );
    }

    #[test]
    fn a_broken_condition_is_an_error_at_its_line() {
        let (sigs, diags) =
            parse("{ Modality.equals(\"US\") }\n(0,0,1,1)\n{ Rows.equal(\"1\") }\n(0,0,1,1)");
        assert_eq!(sigs.len(), 1);
        assert_eq!(diags[0].code, "condition-syntax");
        assert_eq!((diags[0].span.line, diags[0].span.column), (3, 8));
    }
}
