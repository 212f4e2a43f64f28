//! `@round(Element,width)`: an age rounded to a multiple of `width`
//! (`AnonymizerFunctions.round`): the digits are read as a number, divided
//! by the width, rounded half up (`Math.round` on a float), multiplied
//! back, the non-digits appended, and a `0` put in front of an odd-length
//! result.

/// `None` when the value has no digits or the width is 0 (CTP then keeps
/// the call's text, which the interpreter handles).
pub fn round_age(age: &str, width: i64) -> Option<String> {
    let age = age.trim();
    if age.is_empty() {
        return Some(String::new());
    }
    let digits: String = age.chars().filter(char::is_ascii_digit).collect();
    let value: f32 = digits.parse().ok()?;
    if width == 0 {
        return None;
    }
    let scaled = value / width as f32;
    // Java's Math.round(float): floor(x + 0.5).
    let rounded = (scaled + 0.5).floor() as i64 * width;
    let unit: String = age.chars().filter(|c| !c.is_ascii_digit()).collect();
    let mut out = format!("{rounded}{unit}");
    if out.len() % 2 == 1 {
        out.insert(0, '0');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_up_and_pads_to_even_length() {
        assert_eq!(round_age("047Y", 5).as_deref(), Some("045Y"));
        assert_eq!(round_age("048Y", 5).as_deref(), Some("050Y"));
        assert_eq!(round_age("045Y", 10).as_deref(), Some("050Y"));
        assert_eq!(round_age("003Y", 5).as_deref(), Some("5Y"));
        assert_eq!(round_age("012", 5).as_deref(), Some("10"));
        assert_eq!(round_age("7", 5).as_deref(), Some("05"));
        assert_eq!(round_age("", 5).as_deref(), Some(""));
        assert_eq!(round_age("Y", 5), None);
    }
}
