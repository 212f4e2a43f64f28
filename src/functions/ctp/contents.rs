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
    let rep = replacement_template(replacement)?;
    Ok(re.replace_all(value, rep.as_str()).into_owned())
}

/// Whether `replace_all` can run with this pattern and replacement on any
/// value (what `check` asks before a run).
pub fn check_replace(pattern: &str, replacement: &str) -> Result<(), String> {
    compile(pattern)?;
    replacement_template(replacement).map(drop)
}

/// Whether `matches` can run with this pattern on any value.
pub fn check_matches(pattern: &str) -> Result<(), String> {
    compile_whole(pattern).map(drop)
}

/// A Java replacement string in the regex crate's syntax.
fn replacement_template(replacement: &str) -> Result<String, String> {
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
    Ok(rep)
}

/// Java's `String.matches`: the whole value must match.
pub fn matches(value: &str, pattern: &str) -> Result<bool, String> {
    Ok(compile_whole(pattern)?.is_match(value))
}

/// `pattern` anchored at both ends. The pattern must be valid on its own
/// (as Java compiles it): `a)|(b` is an error, though `^(?:a)|(b)$` is not.
fn compile_whole(pattern: &str) -> Result<Regex, String> {
    compile(pattern)?;
    compile(&format!("^(?:{pattern})$"))
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
        assert!(check_replace("a+", "$1").is_ok());
        assert!(check_replace("a+", "x$").is_err());
        assert!(check_matches("a)|(b").is_err());
        // Over the regex crate's size limit: an error, not an allocation.
        let huge = check_matches("(\\w{1000}){1000}").unwrap_err();
        assert!(huge.contains("size limit"), "{huge}");
    }
}
