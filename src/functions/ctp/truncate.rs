//! `@truncate(Element,n)`: the first `n` characters of a value, or with a
//! negative `n` the last `-n` characters of the trimmed value; a value is
//! returned whole when `n` is not an integer.

pub fn truncate(value: &str, n: &str) -> String {
    let Ok(n) = n.parse::<i64>() else {
        return value.to_string();
    };
    let chars: Vec<char> = if n >= 0 {
        value.chars().collect()
    } else {
        value.trim().chars().collect()
    };
    if n >= 0 {
        chars[..(n as usize).min(chars.len())].iter().collect()
    } else {
        let start = (chars.len() as i64 + n).max(0) as usize;
        chars[start..].iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_or_tail() {
        assert_eq!(truncate("ABCDEF", "3"), "ABC");
        assert_eq!(truncate(" ABCDEF ", "-2"), "EF");
        assert_eq!(truncate("AB", "9"), "AB");
        assert_eq!(truncate("AB", "x"), "AB");
    }
}
