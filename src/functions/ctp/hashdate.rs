//! `@hashdate(Element,HashElement)`: each date moved back by a number of
//! days hashed from another element, within the last 10 years (CTP's
//! `hashdate`): the last four digits of the base-10 MD5 of the hashed
//! value, modulo 3650, negated (0 becomes −1).

use super::hash::us_md5;

/// The (negative) number of days CTP shifts a date by for `hashed`.
pub fn offset_days(hashed: &str) -> i64 {
    let digits = us_md5(hashed);
    let tail = &digits[digits.len().saturating_sub(4)..];
    let inc = -(tail.parse::<i64>().expect("digits") % 3650);
    if inc == 0 { -1 } else { inc }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_ten_years_back() {
        for id in ["", "MRN1", "12345", "Ωμέγα"] {
            let d = offset_days(id);
            assert!((-3649..=-1).contains(&d), "{id}: {d}");
            let digits = us_md5(id);
            let tail: i64 = digits[digits.len() - 4..].parse().unwrap();
            assert_eq!(d, if tail % 3650 == 0 { -1 } else { -(tail % 3650) });
        }
    }
}
