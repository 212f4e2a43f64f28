//! `@modifydate(Element,year,month,day)`: set parts of each date; `*` (or
//! anything not an integer) keeps that part (`AnonymizerFunctions.modifyDate`).

use chrono::Datelike;

use super::calendar::{self, BadDate};

/// A replacement part: `None` keeps the date's own.
pub fn part(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

pub fn modify_date(
    date: &str,
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
) -> Result<String, BadDate> {
    let d = calendar::parse(date)?;
    let y = year.unwrap_or(d.year() as i64);
    let m = month.unwrap_or(d.month() as i64);
    let dd = day.unwrap_or(d.day() as i64);
    let set = calendar::lenient(y, m, dd).ok_or_else(|| BadDate(date.into()))?;
    Ok(calendar::format_like(date, set))
}

pub fn modify_dates(
    value: &str,
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
) -> Result<String, BadDate> {
    calendar::each_value(value, |d| modify_date(d, year, month, day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_the_given_parts() {
        assert_eq!(
            modify_date("20200517", None, Some(1), Some(1)).unwrap(),
            "20200101"
        );
        assert_eq!(
            modify_date("20200517", Some(1999), None, None).unwrap(),
            "19990517"
        );
        assert_eq!(part("*"), None);
    }
}
