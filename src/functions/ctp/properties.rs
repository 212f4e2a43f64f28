//! Java `.properties` files, as `java.util.Properties.load` reads them:
//! CTP's lookup tables are such files (`keyType/value = replacement`).
//! Comments start with `#` or `!`; a key ends at the first unescaped `=`,
//! `:` or whitespace; a line ending in an odd number of backslashes
//! continues on the next; `\t`, `\n`, `\r`, `\f` and `\uXXXX` are escapes.

use std::collections::HashMap;

pub fn parse(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let mut logical = first.trim_start().to_string();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        while continues(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split(&logical);
        out.insert(unescape(key), unescape(value));
    }
    out
}

fn continues(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

fn split(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&line[..i], line[i + 1..].trim_start()),
            c if c.is_whitespace() => {
                let rest = line[i..].trim_start();
                let rest = rest
                    .strip_prefix(['=', ':'])
                    .map(str::trim_start)
                    .unwrap_or(rest);
                return (&line[..i], rest);
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_values_escapes_and_continuations() {
        let p = parse(
            "# c\n! c\nptid/MRN1 = ANON1\nptid/MRN\\ 2:ANON2\nx/y  z\nlong=a\\\n   b\nu=\\u00e9\n",
        );
        assert_eq!(p["ptid/MRN1"], "ANON1");
        assert_eq!(p["ptid/MRN 2"], "ANON2");
        assert_eq!(p["x/y"], "z");
        assert_eq!(p["long"], "ab");
        assert_eq!(p["u"], "é");
    }
}
