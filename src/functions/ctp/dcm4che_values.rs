//! Which text dcm4che 1.x (the DICOM library CTP writes with) accepts for
//! an element of a given VR. CTP's `putXX` splits a rule's value on `\`
//! and hands the values to dcm4che, which refuses (with an exception, so
//! CTP keeps the original element) a date, time or date-time its parsers
//! (`DAFormat`, `TMFormat`, `DTFormat`) cannot read, a number Java cannot
//! parse, and an attribute tag that is not hexadecimal. Every other VR
//! takes any text. The rules here were read from dcm4che 1.4's sources
//! and checked against CTP's `dcm4che.jar` value by value.

/// Java's `Integer.parseInt(s)`: an optional sign, then decimal digits,
/// within 32 bits.
pub fn java_parse_int(s: &[char]) -> Option<i32> {
    let (negative, digits) = match s.first() {
        Some('-') => (true, &s[1..]),
        Some('+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(char::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for d in digits {
        n = n * 10 + i64::from(d.to_digit(10)?);
        if n > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    let n = if negative { -n } else { n };
    i32::try_from(n).ok()
}

/// Java's `Float.parseFloat(s)` / `Double.parseDouble(s)`: surrounding
/// control characters and spaces ignored, an optional sign, `NaN`,
/// `Infinity`, or a decimal number with an optional exponent and an
/// optional `f`/`d` suffix. (Java's hexadecimal floats are not accepted
/// here.)
pub fn java_parse_double(s: &[char]) -> Option<f64> {
    let text: String = s.iter().collect();
    let text = text.trim_matches(|c: char| c <= ' ');
    let (sign, body) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    match body {
        "NaN" => return Some(f64::NAN),
        "Infinity" => return Some(sign * f64::INFINITY),
        _ => {}
    }
    let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
    // Rust also reads `inf` and `nan`, which Java does not: digits only.
    let ok = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && body
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.');
    if !ok {
        return None;
    }
    body.parse::<f64>().ok().map(|v| sign * v)
}

fn int_at(s: &[char], from: usize, to: usize) -> Option<i32> {
    java_parse_int(s.get(from..to)?)
}

/// `DAFormat.parse`: `yyyy`, an optional separator, `MM`, an optional
/// separator, then the rest from the seventh character as the day.
pub fn da(s: &[char]) -> bool {
    (|| {
        int_at(s, 0, 4)?;
        let mut p = 4;
        if !s.get(p)?.is_ascii_digit() {
            p += 1;
        }
        int_at(s, p, p + 2)?;
        p += 2;
        if !s.get(p)?.is_ascii_digit() {
            p += 1;
        }
        let _ = p;
        java_parse_int(s.get(6..)?)
    })()
    .is_some()
}

/// `TMFormat.parse`: `HH`, then optionally `[:]mm`, then optionally
/// `[:]ss.ffffff` (any Java float); a bare hour is refused (the parser
/// leaves the position at 0).
pub fn tm(s: &[char]) -> bool {
    (|| {
        let l = s.len();
        int_at(s, 0, 2)?;
        let mut p = 2;
        if p >= l {
            return None;
        }
        if s[p] == ':' {
            p += 1;
        }
        int_at(s, p, p + 2)?;
        p += 2;
        if p < l {
            if s[p] == ':' {
                p += 1;
            }
            java_parse_double(&s[p..])?;
        }
        Some(())
    })()
    .is_some()
}

/// `DTFormat.parse`: an optional `±hhmm` zone at the end, then `yyyy`, and
/// optionally `[sep]MM`, `[sep]dd`, `HH`, `[:]mm`, `[:]ss.ffffff`.
pub fn dt(source: &[char]) -> bool {
    (|| {
        let mut s = source;
        if let Some(z) = source.len().checked_sub(5)
            && matches!(source[z], '+' | '-')
        {
            java_parse_int(&source[z + 1..])?;
            s = &source[..z];
        }
        let l = s.len();
        int_at(s, 0, 4)?;
        let mut p = 4;
        if l > p {
            if !s[p].is_ascii_digit() {
                p += 1;
            }
            int_at(s, p, p + 2)?;
            p += 2;
            if l > p {
                if !s[p].is_ascii_digit() {
                    p += 1;
                }
                int_at(s, p, p + 2)?;
                p += 2;
                if l > p {
                    int_at(s, p, p + 2)?;
                    p += 2;
                    if l > p {
                        if s[p] == ':' {
                            p += 1;
                        }
                        int_at(s, p, p + 2)?;
                        p += 2;
                        if l > p {
                            if s[p] == ':' {
                                p += 1;
                            }
                            java_parse_double(&s[p..])?;
                        }
                    }
                }
            }
        }
        Some(())
    })()
    .is_some()
}

/// An attribute tag as dcm4che reads its text: hexadecimal, at most 8 digits.
pub fn at(s: &str) -> Option<u32> {
    if (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    /// Each case as CTP's dcm4che.jar answered it (`ok` = written).
    #[test]
    fn dates_times_and_numbers_as_dcm4che_takes_them() {
        for (value, ok) in [
            ("20040119", true),
            ("2004011", true),
            ("-20040119", true),
            ("0008,0020", true),
            ("20040119120000", true),
            ("2004-01-19", false),
            ("20040119-", false),
            ("200401", false),
            ("+2004+1+1", false),
            ("2004.01.19", false),
            ("late", false),
        ] {
            assert_eq!(da(&c(value)), ok, "DA {value}");
        }
        for (value, ok) in [
            ("1230", true),
            ("123000.5", true),
            ("12-13", true),
            ("1230-1330", true),
            ("123000 ", true),
            ("1230005f", true),
            ("12:30:00", true),
            ("20040119", true),
            ("12", false),
            (" 1230", false),
            ("0008,0020", false),
            ("2004-01-19", false),
            ("late", false),
        ] {
            assert_eq!(tm(&c(value)), ok, "TM {value}");
        }
        for (value, ok) in [
            ("2004", true),
            ("20040119120000-0500", true),
            ("20040119120000+0500", true),
            ("200401191200", true),
            ("2004011912", true),
            ("20040119x", false),
            ("2004x", false),
            ("late", false),
            ("1.5", false),
        ] {
            assert_eq!(dt(&c(value)), ok, "DT {value}");
        }
        assert_eq!(java_parse_double(&c(" 1.5 ")), Some(1.5));
        assert_eq!(java_parse_double(&c("1.5d")), Some(1.5));
        assert_eq!(java_parse_double(&c("1e3")), Some(1000.0));
        assert!(java_parse_double(&c("NaN")).is_some_and(f64::is_nan));
        assert_eq!(java_parse_double(&c("nan")), None);
        assert_eq!(java_parse_double(&c("inf")), None);
        assert_eq!(java_parse_int(&c("+12")), Some(12));
        assert_eq!(java_parse_int(&c(" 12")), None);
        assert_eq!(java_parse_int(&c("2147483648")), None);
        assert_eq!(java_parse_int(&c("-2147483648")), Some(i32::MIN));
        assert_eq!(at("00100010"), Some(0x0010_0010));
        assert_eq!(at("12"), Some(0x12));
        assert_eq!(at("0010,0010"), None);
        assert_eq!(at("PatientName"), None);
    }
}
