//! `@agegroup(this,N)`: an age (AS) generalised as HIPAA's Safe Harbor
//! method requires, written as a valid AS value.
//!
//! - An age of 90 years or more, in any unit, becomes `090Y`: Safe Harbor
//!   puts every age over 89 in one group.
//! - An age given in years becomes the lower bound of its group of `N`
//!   years (`N` = 5: `000Y`, `005Y`, … `085Y`).
//! - An age given in days, weeks or months that is under 2 years becomes
//!   the lower bound of its 3-month group, in months (`000M` … `021M`); one
//!   of 2 years or more is taken in whole years and grouped as above.
//!
//! So the written age is never more precise than the one given. A value
//! that is not an age (`45`, `Y`, `045Q`) is not guessed at: the element is
//! emptied.

/// The width of the groups in months, under 2 years.
pub const INFANT_MONTHS: u32 = 3;
/// The age, in years, from which every age is written as [`SAFE_HARBOR_CAP`].
pub const CAP_YEARS: u32 = 90;
/// What every age of 90 or more becomes.
pub const SAFE_HARBOR_CAP: &str = "090Y";

/// The days in a year and in a month, as ages are usually converted.
const DAYS_PER_YEAR: f64 = 365.25;
const DAYS_PER_MONTH: f64 = DAYS_PER_YEAR / 12.0;

/// The age group of `age` with groups of `years` years, or `None` when
/// `age` is not an age (one to three digits and a unit D, W, M or Y, in
/// either case; a valid AS value has exactly three). `years` must be at
/// least 1.
pub fn age_group(age: &str, years: u32) -> Option<String> {
    let age = age.trim();
    let unit_char = age.chars().last()?;
    let (digits, unit) = age.split_at(age.len() - unit_char.len_utf8());
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: f64 = digits.parse().ok()?;
    let days = match unit.to_ascii_uppercase().as_str() {
        "D" => n,
        "W" => n * 7.0,
        "M" => n * DAYS_PER_MONTH,
        "Y" => n * DAYS_PER_YEAR,
        _ => return None,
    };
    let whole_years = if unit.eq_ignore_ascii_case("Y") {
        n as u32
    } else {
        (days / DAYS_PER_YEAR).floor() as u32
    };
    if whole_years >= CAP_YEARS {
        return Some(SAFE_HARBOR_CAP.to_string());
    }
    if !unit.eq_ignore_ascii_case("Y") && whole_years < 2 {
        let months = (days / DAYS_PER_MONTH + 1e-9).floor() as u32;
        let group = months / INFANT_MONTHS * INFANT_MONTHS;
        return Some(format!("{group:03}M"));
    }
    let years = years.max(1);
    Some(format!("{:03}Y", whole_years / years * years))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_over_89_form_one_group() {
        assert_eq!(age_group("089Y", 5).as_deref(), Some("085Y"));
        assert_eq!(age_group("090Y", 5).as_deref(), Some("090Y"));
        assert_eq!(age_group("093Y", 5).as_deref(), Some("090Y"));
        assert_eq!(age_group("101Y", 5).as_deref(), Some("090Y"));
        assert_eq!(age_group("999Y", 5).as_deref(), Some("090Y"));
        // 999 months is 83 years.
        assert_eq!(age_group("999M", 5).as_deref(), Some("080Y"));
    }

    #[test]
    fn years_go_to_the_lower_bound_of_their_group() {
        assert_eq!(age_group("003Y", 5).as_deref(), Some("000Y"));
        assert_eq!(age_group("000Y", 5).as_deref(), Some("000Y"));
        assert_eq!(age_group("001Y", 5).as_deref(), Some("000Y"));
        assert_eq!(age_group("045Y", 5).as_deref(), Some("045Y"));
        assert_eq!(age_group("049Y", 5).as_deref(), Some("045Y"));
        assert_eq!(age_group("049Y", 10).as_deref(), Some("040Y"));
        assert_eq!(age_group("45y", 5).as_deref(), Some("045Y"));
    }

    #[test]
    fn infants_are_grouped_in_months() {
        assert_eq!(age_group("006M", 5).as_deref(), Some("006M"));
        assert_eq!(age_group("008M", 5).as_deref(), Some("006M"));
        assert_eq!(age_group("023M", 5).as_deref(), Some("021M"));
        assert_eq!(age_group("002W", 5).as_deref(), Some("000M"));
        assert_eq!(age_group("013W", 5).as_deref(), Some("000M"));
        assert_eq!(age_group("014W", 5).as_deref(), Some("003M"));
        assert_eq!(age_group("012D", 5).as_deref(), Some("000M"));
        assert_eq!(age_group("100D", 5).as_deref(), Some("003M"));
        // From 2 years on, whole years.
        assert_eq!(age_group("024M", 5).as_deref(), Some("000Y"));
        assert_eq!(age_group("070M", 5).as_deref(), Some("005Y"));
        assert_eq!(age_group("800D", 5).as_deref(), Some("000Y"));
    }

    #[test]
    fn what_is_not_an_age_is_not_guessed_at() {
        for bad in [
            "",
            "Y",
            "45",
            "045Q",
            "0045Y",
            "4.5Y",
            "-45Y",
            "０４５Y",
            "45é",
        ] {
            assert_eq!(age_group(bad, 5), None, "{bad:?}");
        }
    }

    #[test]
    fn every_group_is_a_valid_as_value() {
        for unit in ["D", "W", "M", "Y"] {
            for n in 0..1000 {
                let g = age_group(&format!("{n:03}{unit}"), 5).unwrap();
                let b = g.as_bytes();
                assert!(b.len() == 4 && b[..3].iter().all(u8::is_ascii_digit), "{g}");
                let value: u32 = g[..3].parse().unwrap();
                match b[3] {
                    b'Y' => assert!(value.is_multiple_of(5) && value <= 90, "{n}{unit} → {g}"),
                    b'M' => assert!(value.is_multiple_of(3) && value < 24, "{n}{unit} → {g}"),
                    _ => panic!("{n}{unit} → {g}"),
                }
            }
        }
    }
}
