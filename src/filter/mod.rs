//! CTP's DicomFilter scripts: one condition ([`condition`]) that a file
//! passes or not, evaluated on the file as it arrives (before the header
//! script). `anonymize --filter FILE` skips or quarantines files that do
//! not pass. The same condition language selects the signatures of a
//! pixel script ([`crate::pixel`]).

pub mod condition;

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::script::span::LineIndex;
use condition::{Condition, SyntaxError, Values};

/// A filter script, read and checked.
#[derive(Debug, Clone)]
pub struct Filter {
    pub path: PathBuf,
    pub condition: Condition,
}

impl Filter {
    /// Read and parse a filter script; an error names the file, line and
    /// column.
    pub fn load(path: &Path) -> Result<Filter, String> {
        let source = crate::policy::read_utf8(path)?;
        let diagnostics = check(&source);
        let file = path.display().to_string();
        if let Some(message) = first_error(&file, &source, &diagnostics) {
            return Err(message);
        }
        let condition = condition::parse(&source, 0).map_err(|e| e.message)?;
        Ok(Filter {
            path: path.to_path_buf(),
            condition,
        })
    }

    pub fn passes(&self, values: &Values) -> bool {
        self.condition.eval(values)
    }
}

/// The diagnostics of a filter script's text.
pub fn check(source: &str) -> Vec<Diagnostic> {
    let lines = LineIndex::new(source);
    match condition::parse(source, 0) {
        Ok(c) => element_warnings(&c, source, &lines),
        Err(e) => vec![syntax_diagnostic(&e, source, &lines)],
    }
}

/// A syntax error as a diagnostic.
pub fn syntax_diagnostic(e: &SyntaxError, source: &str, lines: &LineIndex) -> Diagnostic {
    Diagnostic::error(
        "condition-syntax",
        lines.span(source, e.start, e.end.min(source.len())),
        e.message.clone(),
    )
}

/// Warnings for tests whose element no data set can have: CTP reads them
/// as the empty text.
pub fn element_warnings(c: &Condition, source: &str, lines: &LineIndex) -> Vec<Diagnostic> {
    c.tests()
        .into_iter()
        .filter(|t| !resolvable(&t.element))
        .map(|t| {
            Diagnostic::warning(
                "unknown-element",
                lines.span(source, t.start, t.end),
                format!(
                    "`{}` names no element: CTP reads it as empty, so `{}` tests the empty text",
                    t.element,
                    t.method.name()
                ),
            )
            .with_help("write a DICOM keyword, a tag such as [0008,0008], gggg[creator]ee, or A::B")
        })
        .collect()
}

/// Whether an element reference can name an element in some data set.
fn resolvable(reference: &str) -> bool {
    let body = reference.strip_prefix("root:").map_or(reference, str::trim);
    body.split("::").all(|segment| {
        let segment = segment.trim();
        crate::functions::ctp::put::standard_tag(segment).is_some()
            || matches!(
                crate::script::tag_forms::parse_segment(segment),
                Some(crate::script::ast::ElementSegment::Private { .. })
            )
    })
}

/// The first error of `diagnostics`, rendered with its file and position.
pub fn first_error(file: &str, source: &str, diagnostics: &[Diagnostic]) -> Option<String> {
    let lines = LineIndex::new(source);
    diagnostics
        .iter()
        .find(|d| d.severity == crate::diagnostic::Severity::Error)
        .map(|d| d.render(file, source, &lines).trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctp_example_filter_checks_clean() {
        let source = "![0008,0008].contains(\"SAVE\") *\n![0008,103e].contains(\"SAVE\") *\n[0018,1012].equals(\"\") *\n![0028,0301].contains(\"YES\")\n";
        assert!(check(source).is_empty(), "{:?}", check(source));
    }

    #[test]
    fn unknown_elements_warn_and_errors_have_lines() {
        let d = check("Modality.equals(\"US\") *\nModalty.equals(\"US\")");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "unknown-element");
        assert_eq!(d[0].span.line, 2);
        let d = check("Modality.equals(\"US\") *\n  Rows.eq(\"1\")");
        assert_eq!(d[0].code, "condition-syntax");
        assert_eq!((d[0].span.line, d[0].span.column), (2, 8));
    }
}
