//! Source positions: byte ranges into a script file, and their line/column.

use serde::Serialize;

/// A byte range `start..end` into the script source, with the 1-based line
/// and column (in characters) of its start.
///
/// Spans do not take part in equality or hashing: two AST nodes are equal
/// when they mean the same script, wherever in a file they were written.
/// This is what lets the printer → parser round trip compare whole ASTs.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: u32,
    pub column: u32,
}

impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for Span {}

impl Span {
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// Maps byte offsets of one source text to line and column numbers.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset at which each line starts; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
    /// Whether each line is pure ASCII (its columns are byte distances).
    ascii: Vec<bool>,
    /// The line found last: parsing asks about nearby offsets in order.
    hint: std::cell::Cell<usize>,
}

impl LineIndex {
    pub fn new(source: &str) -> Self {
        let mut line_starts = vec![0];
        let mut ascii = Vec::new();
        let mut line_ascii = true;
        for (i, b) in source.bytes().enumerate() {
            line_ascii &= b.is_ascii();
            if b == b'\n' {
                line_starts.push(i + 1);
                ascii.push(line_ascii);
                line_ascii = true;
            }
        }
        ascii.push(line_ascii);
        LineIndex {
            line_starts,
            ascii,
            hint: std::cell::Cell::new(0),
        }
    }

    /// The 0-based line holding `offset`.
    fn line_of(&self, offset: usize) -> usize {
        let within = |line: usize| {
            self.line_starts[line] <= offset
                && self
                    .line_starts
                    .get(line + 1)
                    .is_none_or(|&next| offset < next)
        };
        let hint = self.hint.get();
        let line = if within(hint) {
            hint
        } else if hint + 1 < self.line_starts.len() && within(hint + 1) {
            hint + 1
        } else {
            match self.line_starts.binary_search(&offset) {
                Ok(line) => line,
                Err(next) => next - 1,
            }
        };
        self.hint.set(line);
        line
    }

    /// A span for `start..end` of `source` (the text this index was built on).
    pub fn span(&self, source: &str, start: usize, end: usize) -> Span {
        let start = floor_char_boundary(source, start.min(source.len()));
        let end = floor_char_boundary(source, end.clamp(start, source.len()));
        let line = self.line_of(start);
        let line_start = self.line_starts[line];
        let column = if self.ascii[line] {
            start - line_start + 1
        } else {
            source[line_start..start].chars().count() + 1
        };
        Span {
            start,
            end,
            line: (line + 1) as u32,
            column: column as u32,
        }
    }

    /// The text of the 1-based `line`, without its line terminator.
    pub fn line_text<'a>(&self, source: &'a str, line: u32) -> &'a str {
        let i = (line as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(i) else {
            return "";
        };
        let end = self.line_starts.get(i + 1).copied().unwrap_or(source.len());
        source[start..end].trim_end_matches(['\n', '\r'])
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let src = "ab\nçd\n\nx";
        let idx = LineIndex::new(src);
        let s = idx.span(src, 0, 1);
        assert_eq!((s.line, s.column), (1, 1));
        let d = src.find('d').unwrap();
        let s = idx.span(src, d, d + 1);
        assert_eq!((s.line, s.column), (2, 2));
        let x = src.find('x').unwrap();
        assert_eq!(idx.span(src, x, x).line, 4);
        assert_eq!(idx.line_text(src, 2), "çd");
        assert_eq!(idx.line_text(src, 3), "");
        assert_eq!(idx.line_text(src, 9), "");
    }

    #[test]
    fn out_of_range_offsets_are_clamped() {
        let src = "é";
        let idx = LineIndex::new(src);
        let s = idx.span(src, 1, 99);
        assert_eq!((s.start, s.end), (0, 2));
    }
}
