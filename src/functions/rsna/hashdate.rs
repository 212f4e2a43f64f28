//! `@hashdate`: shift a date by a per-patient number of days.
//!
//! Reference: `AnonymizerController._hash_date` and `valid_date`. The shift
//! is the MD5 digest of the (stripped) original PatientID, read as a 128-bit
//! integer, modulo 3652 days (ten years). A value that is not a valid
//! `%Y%m%d` date on or after 1900-01-01, or a patient without an ID, gives
//! `20000101` and a shift of 0.

use chrono::{Days, NaiveDate};
use md5::{Digest, Md5};

use super::strptime;

/// What the reference writes for an invalid date or an empty PatientID.
pub const DEFAULT_ANON_DATE: &str = "20000101";

/// The shift in days that `@hashdate` applies for this PatientID.
pub fn offset_days(patient_id: &str) -> u64 {
    let digest = Md5::digest(patient_id.as_bytes());
    let n = u128::from_be_bytes(digest.into());
    (n % 3652) as u64
}

/// The date is shifted past 9999-12-31: Python raises `OverflowError` there,
/// and the reference quarantines the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateOverflow(pub String);

/// `valid_date`: `%Y%m%d`, on or after 1900-01-01.
pub fn valid_date(value: &str) -> Option<NaiveDate> {
    strptime::date(value)
        .filter(|d| *d >= NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date"))
}

/// `_hash_date(value, patient_id)`: the shift applied and the new date.
pub fn hash_date(value: &str, patient_id: &str) -> Result<(u64, String), DateOverflow> {
    let Some(date) = valid_date(value).filter(|_| !patient_id.is_empty()) else {
        return Ok((0, DEFAULT_ANON_DATE.to_string()));
    };
    let days = offset_days(patient_id);
    date.checked_add_days(Days::new(days))
        .filter(|d| d.year_ce_le_9999())
        .map(|d| (days, d.format("%Y%m%d").to_string()))
        .ok_or_else(|| DateOverflow(value.to_string()))
}

trait YearLimit {
    fn year_ce_le_9999(&self) -> bool;
}

impl YearLimit for NaiveDate {
    fn year_ce_le_9999(&self) -> bool {
        chrono::Datelike::year(self) <= 9999
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_md5_mod_3652() {
        // md5("12345") = 827ccb0eea8a706c4c34a16891f84e7b
        let n = u128::from_str_radix("827ccb0eea8a706c4c34a16891f84e7b", 16).unwrap();
        assert_eq!(offset_days("12345"), (n % 3652) as u64);
    }

    #[test]
    fn invalid_dates_and_missing_patient_give_the_default() {
        assert_eq!(hash_date("", "P1").unwrap(), (0, "20000101".into()));
        assert_eq!(hash_date("18991231", "P1").unwrap(), (0, "20000101".into()));
        assert_eq!(hash_date("20200101", "").unwrap(), (0, "20000101".into()));
        assert_eq!(
            hash_date("2020-01-01", "P1").unwrap(),
            (0, "20000101".into())
        );
    }

    #[test]
    fn valid_dates_shift_forward() {
        let days = offset_days("P1");
        let (d, out) = hash_date("20200101", "P1").unwrap();
        assert_eq!(d, days);
        let expected = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + Days::new(days);
        assert_eq!(out, expected.format("%Y%m%d").to_string());
    }

    #[test]
    fn overflow_past_year_9999_is_an_error() {
        assert!(offset_days("P1") > 0);
        assert!(hash_date("99991231", "P1").is_err());
    }
}
