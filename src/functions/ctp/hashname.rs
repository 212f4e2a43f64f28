//! `@hashname(Element,length[,wordCount])`: a hash of a person name that
//! ignores spacing, punctuation and case (`AnonymizerFunctions.hashName`):
//! the first `wordCount` `^`-separated components are joined, whitespace,
//! `,`, `'`, `^` and `.` removed, upper-cased, and hashed to `length`
//! digits.

use super::hash::hash;

pub fn hash_name(name: &str, length: i64, word_count: i64) -> String {
    let words = if word_count <= 0 {
        usize::MAX
    } else {
        word_count as usize
    };
    let joined: String = java_split(name, '^').into_iter().take(words).collect();
    let cleaned: String = joined
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, ',' | '\'' | '^' | '.')))
        .collect::<String>()
        .to_uppercase();
    hash(&cleaned, length)
}

/// `String.split(sep)` as Java does it: trailing empty strings dropped.
pub fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts == [""] && !s.is_empty() {
        parts.clear();
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::ctp::hash::us_md5;

    #[test]
    fn spelling_variants_hash_alike() {
        assert_eq!(
            hash_name("O'Brien^John", 4, 0),
            hash_name("obrien^ john", 4, 0)
        );
        assert_eq!(hash_name("Doe^Jane^Q", 0, 2), us_md5("DOEJANE"));
    }
}
