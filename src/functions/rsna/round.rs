//! `@round`: round an age string to a bin width.
//!
//! Reference: `AnonymizerController._round_age` and the dispatch in
//! `_anonymize_element`. The width is the *first digit* found in the rule's
//! text after removing `@round` (so `@round(this,10)` rounds to 1 and
//! `@round(this,5)` to 5). The digits of the age are read as a number,
//! divided by the width, rounded half to even (Python's `round`), multiplied
//! back, and followed by the age's letters; a result of odd length gets a
//! leading zero. A value without digits is kept.

/// The width the reference reads from a rule's text, if it has a digit.
pub fn width(rule_text: &str) -> Option<u32> {
    rule_text
        .replace("@round", "")
        .chars()
        .find(char::is_ascii_digit)
        .and_then(|c| c.to_digit(10))
}

/// Width 0 divides by zero: the reference quarantines the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeroWidth;

/// `@round` as our rsna dialect writes it by default: an age that is a
/// valid AS value (three digits and D, W, M or Y) is rounded as the
/// reference rounds it and written as a valid AS value again (`005Y`, not
/// the reference's `5Y`); anything else as the reference writes it.
pub fn round_age_valid(age: &str, width: u32) -> Result<String, ZeroWidth> {
    let trimmed = age.trim();
    let b = trimmed.as_bytes();
    let is_as = b.len() == 4 && b[..3].iter().all(u8::is_ascii_digit) && b"DWMY".contains(&b[3]);
    if !is_as {
        return round_age(age, width);
    }
    if width == 0 {
        return Err(ZeroWidth);
    }
    let value: f64 = trimmed[..3].parse().unwrap_or(0.0);
    let rounded = ((value / f64::from(width)).round_ties_even() * f64::from(width)) as u32;
    Ok(format!("{:03}{}", rounded.min(999), b[3] as char))
}

/// `_round_age(age, width)`.
pub fn round_age(age: &str, width: u32) -> Result<String, ZeroWidth> {
    let age = age.trim();
    if age.is_empty() {
        return Ok(String::new());
    }
    // Python's str.isdigit / str.isalpha are Unicode-aware; ages are ASCII in practice,
    // and the Unicode classes below agree with Python's on ASCII.
    let digits: String = age.chars().filter(|c| c.is_ascii_digit()).collect();
    let letters: String = age.chars().filter(|c| c.is_alphabetic()).collect();
    if digits.is_empty() {
        // float("") raises ValueError: the original value is kept.
        return Ok(age.to_string());
    }
    if width == 0 {
        return Err(ZeroWidth);
    }
    let value: f64 = digits.parse().unwrap_or(f64::INFINITY);
    let rounded = (value / f64::from(width)).round_ties_even();
    let number = rounded as i128 * i128::from(width);
    let mut result = format!("{number}{letters}");
    if result.len() % 2 != 0 {
        result.insert(0, '0');
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_is_the_first_digit() {
        assert_eq!(width("@round(this,5)"), Some(5));
        assert_eq!(width("@round(this,10)"), Some(1));
        assert_eq!(width("@round(this)"), None);
    }

    #[test]
    fn ages_round_half_to_even_and_pad_to_even_length() {
        assert_eq!(round_age("045Y", 5).unwrap(), "045Y");
        assert_eq!(round_age("043Y", 5).unwrap(), "045Y");
        assert_eq!(round_age("042Y", 5).unwrap(), "040Y");
        // 42.5 / 5 = 8.5 rounds to 8 (half to even)
        assert_eq!(round_age("0425", 5).unwrap().as_str(), "0425");
        assert_eq!(round_age("012Y", 10).unwrap(), "010Y");
        assert_eq!(round_age("015Y", 10).unwrap(), "020Y");
        assert_eq!(round_age("025Y", 10).unwrap(), "020Y");
        assert_eq!(round_age("002Y", 5).unwrap(), "0Y");
        assert_eq!(round_age(" ", 5).unwrap(), "");
        assert_eq!(round_age("Y", 5).unwrap(), "Y");
        assert_eq!(round_age("045Y", 0), Err(ZeroWidth));
    }

    #[test]
    fn by_default_valid_ages_stay_valid_as_values() {
        assert_eq!(round_age_valid("003Y", 5).unwrap(), "005Y");
        assert_eq!(round_age_valid("006M", 5).unwrap(), "005M");
        assert_eq!(round_age_valid("002W", 5).unwrap(), "000W");
        assert_eq!(round_age_valid("043Y", 5).unwrap(), "045Y");
        assert_eq!(round_age_valid("042Y", 5).unwrap(), "040Y");
        assert_eq!(round_age_valid("101Y", 5).unwrap(), "100Y");
        assert_eq!(round_age_valid("998Y", 5).unwrap(), "999Y");
        // Not an AS value: as the reference writes it.
        assert_eq!(round_age_valid("0425", 5).unwrap(), "0425");
        assert_eq!(round_age_valid("Y", 5).unwrap(), "Y");
        assert_eq!(round_age_valid("045Y", 0), Err(ZeroWidth));
    }
}
