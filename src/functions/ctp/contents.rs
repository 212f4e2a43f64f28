//! `@contents(Element[,regex[,replacement]])`: an element's value, with
//! every match of a regular expression replaced (by nothing, or by the
//! replacement, where `$1` names a group), as Java's `String.replaceAll`.
//! Also the regular-expression test of `@if(…,matches,…)`.
//!
//! The expressions are compiled by the `regex` crate, whose syntax is
//! Java's for everything but backreferences and look-around; an expression
//! it cannot compile is an error, which quarantines the object (as Java's
//! `PatternSyntaxException` does in CTP).

use regex::Regex;

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("regular expression {pattern:?}: {e}"))
}

pub fn replace_all(value: &str, pattern: &str, replacement: &str) -> Result<String, String> {
    let re = compile(pattern)?;
    // Java writes `$1`; so does the regex crate, but it reads `$1a` as a
    // group named `1a`: brace the group numbers.
    let mut rep = String::with_capacity(replacement.len());
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if n == '$' {
                        rep.push_str("$$");
                    } else {
                        rep.push(n);
                    }
                }
            }
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    return Err(format!(
                        "replacement {replacement:?}: `$` without a group number"
                    ));
                }
                rep.push_str(&format!("${{{digits}}}"));
            }
            c => rep.push(c),
        }
    }
    Ok(re.replace_all(value, rep.as_str()).into_owned())
}

/// Java's `String.matches`: the whole value must match.
pub fn matches(value: &str, pattern: &str) -> Result<bool, String> {
    Ok(compile(&format!("^(?:{pattern})$"))?.is_match(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_replace_all_and_matches() {
        assert_eq!(replace_all("Doe^John", "\\^.*", "").unwrap(), "Doe");
        assert_eq!(
            replace_all("AB12", "([A-Z]+)(\\d+)", "$2x$1").unwrap(),
            "12xAB"
        );
        assert!(matches("CT123", "CT\\d+").unwrap());
        assert!(!matches("xCT123", "CT\\d+").unwrap());
        assert!(replace_all("a", "(", "").is_err());
    }
}
