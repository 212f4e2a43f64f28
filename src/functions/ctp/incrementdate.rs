//! `@incrementdate(Element,days)` and `@incrementdate(Element,KeyElement,keyType)`:
//! each `\`-separated date shifted by a number of days, given directly or
//! looked up (`AnonymizerFunctions.incrementDate`).

use super::calendar::{self, BadDate};

/// Shift one date (keeping any time part after it).
pub fn increment_date(date: &str, days: i64) -> Result<String, BadDate> {
    let d = calendar::parse(date)?;
    let shifted = d
        .checked_add_signed(chrono::Duration::try_days(days).ok_or_else(|| BadDate(date.into()))?)
        .ok_or_else(|| BadDate(date.into()))?;
    Ok(calendar::format_like(date, shifted))
}

/// Shift every value of a multi-valued date.
pub fn increment_dates(value: &str, days: i64) -> Result<String, BadDate> {
    calendar::each_value(value, |d| increment_date(d, days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_each_value() {
        assert_eq!(
            increment_dates("20200101\\20201231", 1).unwrap(),
            "20200102\\20210101"
        );
        assert_eq!(
            increment_date("20200301120000", -1).unwrap(),
            "20200229120000"
        );
        assert!(increment_date("2020", 1).is_err());
    }
}
