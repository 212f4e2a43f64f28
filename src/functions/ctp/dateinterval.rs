//! `@dateinterval(DateElement,keyType,KeyElement[,origindate])`: the number
//! of days from a looked-up base date (written `M/d/yyyy`) to a date,
//! rounded; with an origin date, that origin shifted by the interval.

use chrono::NaiveDate;

/// Days from `base` (`M/d/yyyy`) to `date` (`yyyyMMdd`, longer values cut
/// to 8 characters); `None` when either cannot be read.
pub fn interval_days(date: &str, base: &str) -> Option<i64> {
    let date: String = date.chars().take(8).collect();
    let d = NaiveDate::parse_from_str(&date, "%Y%m%d").ok()?;
    let mut parts = base.trim().split('/');
    let (m, dd, y) = (parts.next()?, parts.next()?, parts.next()?);
    let b = super::calendar::lenient(
        y.trim().parse().ok()?,
        m.trim().parse().ok()?,
        dd.trim().parse().ok()?,
    )?;
    Some((d - b).num_days())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_the_base_date() {
        assert_eq!(interval_days("20200111", "1/1/2020"), Some(10));
        assert_eq!(interval_days("20191231120000", "1/1/2020"), Some(-1));
        assert_eq!(interval_days("2019", "1/1/2020"), None);
    }
}
