//! XML character data: resolving `&…;` references, and escaping on output.
//!
//! Decoded text remembers, for every byte, where in the source it came from,
//! so a problem found inside an expression is reported at the right column
//! even when the text was written with references such as `&amp;`.

/// Text decoded from XML, with a map from decoded byte offsets to source offsets.
///
/// The map is a list of segments, each starting at a decoded offset: a
/// literal segment maps byte for byte, a reference maps all its bytes to the
/// reference's first byte. Text without references or CDATA has one
/// literal segment, kept inline, so decoding it allocates only the string.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    pub text: String,
    /// Source offset of the first byte (the implicit first literal segment).
    base: usize,
    /// Further segments: (decoded start, source start, literal?).
    segments: Vec<(usize, usize, bool)>,
    /// Source offset just past the text.
    end: usize,
}

impl Decoded {
    pub fn new(start: usize) -> Self {
        Decoded {
            text: String::new(),
            base: start,
            segments: Vec::new(),
            end: start,
        }
    }

    /// The source offset of decoded byte `i` (or of the end, past the last byte).
    pub fn source_offset(&self, i: usize) -> usize {
        if i >= self.text.len() {
            return self.end;
        }
        let k = self.segments.partition_point(|&(d, _, _)| d <= i);
        match k.checked_sub(1).map(|k| self.segments[k]) {
            None => self.base + i,
            Some((d, s, true)) => s + (i - d),
            Some((_, s, false)) => s,
        }
    }

    /// Append `s`, whose first byte sits at `source_start` and which occupies
    /// `source_len` bytes of source (more than `s.len()` for a reference).
    fn push_mapped(&mut self, s: &str, source_start: usize, source_len: usize) {
        if s.is_empty() {
            self.end = self.end.max(source_start + source_len);
            return;
        }
        let literal = source_len == s.len();
        let continues = literal
            && source_start == self.end
            && self.segments.last().is_none_or(|&(_, _, lit)| lit);
        if self.text.is_empty() && literal {
            self.base = source_start;
        } else if !continues {
            self.segments.push((self.text.len(), source_start, literal));
        }
        self.text.push_str(s);
        self.end = source_start + source_len;
    }

    /// Append literal source text found at `source_start`.
    pub fn push_literal(&mut self, s: &str, source_start: usize) {
        self.push_mapped(s, source_start, s.len());
    }

    /// Mark the end of the decoded text at `source_end` (after a comment or
    /// CDATA closer, for example).
    pub fn set_end(&mut self, source_end: usize) {
        self.end = source_end;
    }

    /// Decode character data `raw` found at `source_start`, resolving references.
    /// On a bad reference, the error gives its source offset and a message.
    pub fn push_char_data(
        &mut self,
        raw: &str,
        source_start: usize,
    ) -> Result<(), (usize, String)> {
        let mut rest = raw;
        let mut at = source_start;
        while let Some(amp) = rest.find('&') {
            self.push_literal(&rest[..amp], at);
            at += amp;
            rest = &rest[amp..];
            let Some(semi) = rest.find(';').filter(|&s| s <= 12) else {
                return Err((
                    at,
                    "`&` must start a character reference such as `&amp;`".into(),
                ));
            };
            let name = &rest[1..semi];
            let Some(c) = resolve_reference(name) else {
                return Err((at, format!("unknown character reference `&{name};`")));
            };
            let mut buf = [0u8; 4];
            self.push_mapped(c.encode_utf8(&mut buf), at, semi + 1);
            at += semi + 1;
            rest = &rest[semi + 1..];
        }
        self.push_literal(rest, at);
        Ok(())
    }
}

/// The character a reference names: the five predefined entities and
/// decimal or hexadecimal character references.
fn resolve_reference(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let code =
                if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    name.strip_prefix('#')?.parse::<u32>().ok()?
                };
            char::from_u32(code).filter(|&c| is_xml_char(c))
        }
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escape text content for output between tags.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escape an attribute value for output between double quotes.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_resolved_and_mapped_back() {
        let mut d = Decoded::new(10);
        d.push_char_data("a&amp;b&#x41;&#66;", 10).unwrap();
        assert_eq!(d.text, "a&bAB");
        assert_eq!(d.source_offset(0), 10);
        assert_eq!(d.source_offset(1), 11); // the `&amp;`
        assert_eq!(d.source_offset(2), 16); // `b`
        assert_eq!(d.source_offset(3), 17); // `&#x41;`
        assert_eq!(d.source_offset(5), 28); // end
    }

    #[test]
    fn literal_runs_after_a_gap_map_from_their_own_start() {
        // "ab" at 0, then (after a comment, say) "cd" at 10.
        let mut d = Decoded::new(0);
        d.push_literal("ab", 0);
        d.push_literal("cd", 10);
        d.set_end(12);
        let offsets: Vec<usize> = (0..=4).map(|i| d.source_offset(i)).collect();
        assert_eq!(offsets, [0, 1, 10, 11, 12]);
        // A text that starts with a reference.
        let mut d = Decoded::new(5);
        d.push_char_data("&lt;x", 5).unwrap();
        assert_eq!(
            (d.source_offset(0), d.source_offset(1), d.source_offset(2)),
            (5, 9, 10)
        );
    }

    #[test]
    fn bad_references_are_errors() {
        let mut d = Decoded::new(0);
        assert!(d.push_char_data("a & b", 0).is_err());
        assert!(d.push_char_data("&nbsp;", 0).is_err());
        assert!(d.push_char_data("&#0;", 0).is_err());
    }

    #[test]
    fn escaping_round_trips_through_decoding() {
        let s = "a<b>&\"c\"\t\n\r";
        for escaped in [escape_text(s), escape_attr(s)] {
            let mut d = Decoded::new(0);
            d.push_char_data(&escaped, 0).unwrap();
            assert_eq!(d.text, s);
        }
    }
}
