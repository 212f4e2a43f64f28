//! The words the text detector may leave in the pixels ([`Whitelist`]):
//! the default list (`whitelist.txt`, beside this file) and the user's
//! (`--pixel-whitelist FILE`), in the same format.

use regex::Regex;

/// One entry: a literal or a whole-text pattern, for every modality or
/// some.
#[derive(Debug, Clone)]
struct Entry {
    modalities: Vec<String>,
    word: Word,
}

#[derive(Debug, Clone)]
enum Word {
    Literal(String),
    Pattern(Regex),
}

#[derive(Debug, Clone, Default)]
pub struct Whitelist {
    entries: Vec<Entry>,
}

/// The list this build ships.
const DEFAULT: &str = include_str!("whitelist.txt");

impl Whitelist {
    pub fn bundled() -> Whitelist {
        Whitelist::parse(DEFAULT, "the bundled whitelist").expect("the bundled whitelist parses")
    }

    /// Read a list; errors name `origin` and the line.
    pub fn parse(text: &str, origin: &str) -> Result<Whitelist, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (modalities, entry) = match line.split_once(": ") {
                Some((m, rest))
                    if !m.is_empty()
                        && m.split(',').all(|m| {
                            !m.is_empty() && m.chars().all(|c| c.is_ascii_alphanumeric())
                        }) =>
                {
                    (
                        m.split(',').map(|m| m.to_ascii_uppercase()).collect(),
                        rest.trim(),
                    )
                }
                _ => (Vec::new(), line),
            };
            let word = if entry.len() >= 2 && entry.starts_with('/') && entry.ends_with('/') {
                let pattern = format!("(?i)^(?:{})$", &entry[1..entry.len() - 1]);
                Word::Pattern(
                    Regex::new(&pattern)
                        .map_err(|e| format!("{origin}:{}: not a pattern: {e}", n + 1))?,
                )
            } else {
                Word::Literal(normal(entry))
            };
            entries.push(Entry { modalities, word });
        }
        Ok(Whitelist { entries })
    }

    pub fn extend(&mut self, other: Whitelist) {
        self.entries.extend(other.entries);
    }

    /// Whether the whole of `text` (read in a file of `modality`) is on
    /// the list.
    pub fn allows(&self, text: &str, modality: &str) -> bool {
        let text = normal(text);
        if text.is_empty() {
            return false;
        }
        let modality = modality.trim().to_ascii_uppercase();
        self.entries.iter().any(|e| {
            (e.modalities.is_empty() || e.modalities.contains(&modality))
                && match &e.word {
                    Word::Literal(w) => *w == text,
                    Word::Pattern(p) => p.is_match(&text),
                }
        })
    }
}

/// Lower case, single spaces, trimmed.
fn normal(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_list_keeps_markers_units_and_small_numbers_only() {
        let w = Whitelist::bundled();
        for ok in ["L", "r", "cm", "12 cm", "3.5MHz", "-5", "80%"] {
            assert!(w.allows(ok, "US"), "{ok}");
        }
        assert!(w.allows("PW", "US"));
        assert!(!w.allows("PW", "CT"), "modes are for ultrasound only");
        for phi in [
            "DOE^JOHN",
            "JOHN DOE",
            "1234567",
            "1984/03/02",
            "L JOHN",
            "12:34:56",
            "ID 42",
        ] {
            assert!(!w.allows(phi, "US"), "{phi}");
        }
    }

    #[test]
    fn a_bad_pattern_names_its_line() {
        let e = Whitelist::parse("# x\n/(/\n", "my.txt").unwrap_err();
        assert!(e.starts_with("my.txt:2: not a pattern"), "{e}");
        let w = Whitelist::parse("MR,CT: Ax\n", "my.txt").unwrap();
        assert!(w.allows("ax", "mr") && !w.allows("ax", "US"));
    }
}
