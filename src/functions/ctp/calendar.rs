//! Dates as CTP reads and writes them (`DateUtil.getCalendar` and the
//! formatting in `AnonymizerFunctions.incrementDate`): separators and
//! spaces are dropped, a year starting `00` becomes `19…`, anything after
//! a backslash is ignored, and out-of-range months and days roll over as
//! in Java's lenient `GregorianCalendar` (`20200230` is 1 March).

use chrono::{Datelike, Duration, Months, NaiveDate};

/// Why a date could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDate(pub String);

/// Read the date part of a DA or DT value.
pub fn parse(text: &str) -> Result<NaiveDate, BadDate> {
    let bad = || BadDate(text.to_string());
    let mut s: String = text
        .chars()
        .filter(|c| !matches!(c, '@' | ':' | 'T' | '-') && !c.is_whitespace())
        .collect();
    if s.starts_with("00") {
        s = format!("19{}", &s[2..]);
    }
    if let Some(i) = s.find('\\') {
        s.truncate(i);
    }
    let field = |range: std::ops::Range<usize>| -> Result<i64, BadDate> {
        s.get(range)
            .ok_or_else(bad)?
            .parse::<i64>()
            .map_err(|_| bad())
    };
    let (year, month, day) = (field(0..4)?, field(4..6)?, field(6..8)?);
    lenient(year, month, day).ok_or_else(bad)
}

/// A lenient calendar date: month and day may overflow or underflow.
pub fn lenient(year: i64, month: i64, day: i64) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, 1, 1)?;
    let months = month - 1;
    let shifted = if months >= 0 {
        first.checked_add_months(Months::new(u32::try_from(months).ok()?))?
    } else {
        first.checked_sub_months(Months::new(u32::try_from(-months).ok()?))?
    };
    shifted.checked_add_signed(Duration::try_days(day - 1)?)
}

/// Write a date as CTP does: `YYYYMMDD`, or `YYYY-MM-DD` when the original
/// used dashes, followed by whatever the original had after its date part.
pub fn format_like(original: &str, date: NaiveDate) -> String {
    let iso = original.contains('-');
    let date_len = if iso { 10 } else { 8 };
    let sep = if iso { "-" } else { "" };
    let rest: String = original.chars().skip(date_len).collect();
    format!(
        "{:04}{sep}{:02}{sep}{:02}{rest}",
        date.year(),
        date.month(),
        date.day()
    )
}

/// Apply `f` to each `\`-separated value of a multi-valued date.
pub fn each_value(
    value: &str,
    f: impl Fn(&str) -> Result<String, BadDate>,
) -> Result<String, BadDate> {
    let parts: Vec<String> = super::hashname::java_split(value, '\\')
        .into_iter()
        .map(f)
        .collect::<Result<_, _>>()?;
    Ok(parts.join("\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_like_java() {
        assert_eq!(
            parse("20200230").unwrap(),
            NaiveDate::from_ymd_opt(2020, 3, 1).unwrap()
        );
        assert_eq!(
            parse("2020-01-15").unwrap(),
            NaiveDate::from_ymd_opt(2020, 1, 15).unwrap()
        );
        assert_eq!(
            parse("00200115").unwrap(),
            NaiveDate::from_ymd_opt(1920, 1, 15).unwrap()
        );
        assert!(parse("2020").is_err());
        assert_eq!(
            format_like(
                "20200115120000",
                NaiveDate::from_ymd_opt(2019, 2, 3).unwrap()
            ),
            "20190203120000"
        );
        assert_eq!(
            format_like("2020-01-15", NaiveDate::from_ymd_opt(2019, 2, 3).unwrap()),
            "2019-02-03"
        );
    }
}
