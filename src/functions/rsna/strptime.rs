//! Python's `datetime.strptime` for the formats the RSNA engine uses
//! (`%Y%m%d` and `%Y%m%d%H%M%S`), including its leniency: months, days,
//! hours, minutes and seconds may be one digit, and a day may be written
//! `" 1"`. Python builds a regular expression from the format, takes the
//! first match in alternation order (without requiring it to reach the end
//! of the text), and then rejects the text if any characters remain; this
//! module does the same, so `"2020111"` is 1 November 2020 and `"202011"` is
//! 1 January 2020, exactly as in the reference.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// A field's alternatives, in the order Python's `_strptime` lists them.
/// Each alternative is a list of character classes.
type Alternatives = &'static [&'static [Class]];

#[derive(Clone, Copy)]
enum Class {
    Digit,
    Range(u8, u8),
    Space,
}

impl Class {
    fn matches(self, c: u8) -> bool {
        match self {
            Class::Digit => c.is_ascii_digit(),
            Class::Range(lo, hi) => (lo..=hi).contains(&c),
            Class::Space => c == b' ',
        }
    }
}

use Class::{Digit, Range, Space};

const YEAR: Alternatives = &[&[Digit, Digit, Digit, Digit]];
const MONTH: Alternatives = &[
    &[Range(b'1', b'1'), Range(b'0', b'2')],
    &[Range(b'0', b'0'), Range(b'1', b'9')],
    &[Range(b'1', b'9')],
];
const DAY: Alternatives = &[
    &[Range(b'3', b'3'), Range(b'0', b'1')],
    &[Range(b'1', b'2'), Digit],
    &[Range(b'0', b'0'), Range(b'1', b'9')],
    &[Range(b'1', b'9')],
    &[Space, Range(b'1', b'9')],
];
const HOUR: Alternatives = &[
    &[Range(b'2', b'2'), Range(b'0', b'3')],
    &[Range(b'0', b'1'), Digit],
    &[Digit],
];
const MINUTE: Alternatives = &[&[Range(b'0', b'5'), Digit], &[Digit]];
const SECOND: Alternatives = &[
    &[Range(b'6', b'6'), Range(b'0', b'1')],
    &[Range(b'0', b'5'), Digit],
    &[Digit],
];

/// The first match of `fields` at `pos`, in alternation order with
/// backtracking, as `re.match` finds it: the numbers of each field and the
/// end offset.
fn first_match(
    text: &[u8],
    pos: usize,
    fields: &[Alternatives],
    out: &mut Vec<u32>,
) -> Option<usize> {
    let Some((first, rest)) = fields.split_first() else {
        return Some(pos);
    };
    for alternative in first.iter() {
        let end = pos + alternative.len();
        if end > text.len()
            || !alternative
                .iter()
                .zip(&text[pos..end])
                .all(|(c, b)| c.matches(*b))
        {
            continue;
        }
        let value = text[pos..end]
            .iter()
            .filter(|b| b.is_ascii_digit())
            .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
        out.push(value);
        if let Some(end) = first_match(text, end, rest, out) {
            return Some(end);
        }
        out.pop();
    }
    None
}

fn fields(text: &str, format: &[Alternatives]) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(format.len());
    let end = first_match(text.as_bytes(), 0, format, &mut out)?;
    // "unconverted data remains"
    (end == text.len()).then_some(out)
}

/// `datetime.strptime(text, "%Y%m%d")`; `None` where Python raises `ValueError`.
pub fn date(text: &str) -> Option<NaiveDate> {
    let f = fields(text, &[YEAR, MONTH, DAY])?;
    NaiveDate::from_ymd_opt(i32::try_from(f[0]).ok()?, f[1], f[2]).filter(|d| d.year() >= 1)
}

/// `datetime.strptime(text, "%Y%m%d%H%M%S")`; `None` where Python raises `ValueError`.
pub fn date_time(text: &str) -> Option<NaiveDateTime> {
    let f = fields(text, &[YEAR, MONTH, DAY, HOUR, MINUTE, SECOND])?;
    let date =
        NaiveDate::from_ymd_opt(i32::try_from(f[0]).ok()?, f[1], f[2]).filter(|d| d.year() >= 1)?;
    // Python accepts seconds 60 and 61 in the pattern but `datetime` rejects them.
    let time = NaiveTime::from_hms_opt(f[3], f[4], f[5])?;
    Some(date.and_time(time))
}

use chrono::Datelike;

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn strict_dates_parse() {
        assert_eq!(date("20201011"), ymd(2020, 10, 11));
        assert_eq!(date("19000101"), ymd(1900, 1, 1));
    }

    #[test]
    fn python_leniency_is_reproduced() {
        // Month "11" is tried first, leaving "1" for the day.
        assert_eq!(date("2020111"), ymd(2020, 11, 1));
        // "11" as month leaves nothing for the day; the regex backtracks to month "1".
        assert_eq!(date("202011"), ymd(2020, 1, 1));
        assert_eq!(date("202012 5"), ymd(2020, 12, 5));
    }

    #[test]
    fn what_python_rejects_is_rejected() {
        for bad in [
            "",
            "2020",
            "20201",
            "20201301",
            "20200230",
            "2020-01-01",
            "202001011",
            "00000101",
            "20200101 ",
        ] {
            assert_eq!(date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn date_times() {
        assert_eq!(
            date_time("20200102030405"),
            ymd(2020, 1, 2).map(|d| d.and_hms_opt(3, 4, 5).unwrap())
        );
        assert_eq!(date_time("20200102030460"), None);
        assert_eq!(date_time("20200102246000"), None);
    }
}
