//! `@bin(this,W)`: a number (DS or IS) replaced by the nearest multiple of
//! the width `W`, so that a quasi-identifier such as PatientWeight keeps
//! its use (a PET SUV is computed from it) without its precision.
//!
//! Each value of a multi-valued element is binned on its own. Halves round
//! away from zero. The result is written with as many decimals as the
//! width has, trailing zeros dropped (`1.73` with width `0.05` → `1.75`,
//! `72.4` with width `5` → `70`), which is a valid DS and, for a whole
//! width, a valid IS. A value that is not a number is not guessed at: the
//! element is emptied.

/// A bin width, as written in the rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Width {
    value: f64,
    /// Decimals written in the width (`0.05` has 2).
    decimals: usize,
}

impl Width {
    /// Read a width such as `5`, `0.05` or `10`: a positive decimal number
    /// without exponent.
    pub fn parse(text: &str) -> Option<Width> {
        let text = text.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !digits_only(whole) || !digits_only(fraction)
        {
            return None;
        }
        let value: f64 = text.parse().ok()?;
        (value > 0.0 && value.is_finite()).then_some(Width {
            value,
            decimals: fraction.len(),
        })
    }
}

/// The longest DS value.
const DS_MAX: usize = 16;

/// `value` binned to `width`, or `None` when it is not a number (DS
/// syntax: digits, an optional sign, point and exponent) or its bin cannot
/// be written in 16 characters.
pub fn bin(value: &str, width: Width) -> Option<String> {
    let value = value.trim_matches(|c| c == ' ' || c == '\0');
    let number_chars = |b: u8| b.is_ascii_digit() || b"+-.eE".contains(&b);
    if value.is_empty() || !value.bytes().all(number_chars) {
        return None;
    }
    let number: f64 = value.parse().ok()?;
    if !number.is_finite() {
        return None;
    }
    let binned = (number / width.value).round() * width.value;
    let mut text = format!("{binned:.*}", width.decimals);
    if text.contains('.') {
        text.truncate(text.trim_end_matches('0').trim_end_matches('.').len());
    }
    if text == "-0" {
        text = "0".into();
    }
    (text.len() <= DS_MAX).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Width {
        Width::parse(text).unwrap()
    }

    #[test]
    fn widths_are_positive_plain_decimals() {
        assert_eq!(w("5").decimals, 0);
        assert_eq!(w("0.05").decimals, 2);
        assert_eq!(w(".5").decimals, 1);
        for bad in ["", ".", "0", "0.0", "-5", "5e1", "abc", "1.2.3", "inf"] {
            assert_eq!(Width::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn values_go_to_the_nearest_multiple() {
        assert_eq!(bin("72.4", w("5")).as_deref(), Some("70"));
        assert_eq!(bin("72.5", w("5")).as_deref(), Some("75"));
        assert_eq!(bin("77.6 ", w("5")).as_deref(), Some("80"));
        assert_eq!(bin("1.73", w("0.05")).as_deref(), Some("1.75"));
        assert_eq!(bin("1.71", w("0.05")).as_deref(), Some("1.7"));
        assert_eq!(bin("1.8", w("0.05")).as_deref(), Some("1.8"));
        assert_eq!(bin("184", w("10")).as_deref(), Some("180"));
        assert_eq!(bin("+1.5E2", w("10")).as_deref(), Some("150"));
        assert_eq!(bin("0", w("5")).as_deref(), Some("0"));
        assert_eq!(bin("-1", w("5")).as_deref(), Some("0"));
        assert_eq!(bin("-3", w("5")).as_deref(), Some("-5"));
    }

    #[test]
    fn what_is_not_a_number_is_not_guessed_at() {
        for bad in ["", " ", "70 kg", "seventy", "NaN", "inf", "1e400", "1e300"] {
            assert_eq!(bin(bad, w("5")), None, "{bad:?}");
        }
    }

    #[test]
    fn results_are_valid_ds_values() {
        for i in 0..2000 {
            let value = f64::from(i) * 0.137 - 20.0;
            for width in ["5", "0.05", "10", "0.001"] {
                let out = bin(&format!("{value}"), w(width)).unwrap();
                assert!(out.len() <= 16, "{out}");
                let back: f64 = out.parse().unwrap();
                assert!(
                    (back - value).abs() <= w(width).value / 2.0 + 1e-9,
                    "{value} {width} {out}"
                );
            }
        }
    }
}
