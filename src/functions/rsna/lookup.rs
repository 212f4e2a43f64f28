//! `@lookup`: values from a CTP lookup table.
//!
//! Reference: `controller/process_ctp_lookup.py` (the table) and
//! `_anonymize_element` / `_apply_date_offset` (its use). A rule whose text
//! contains `@lookup` and `dateoffset` shifts a date or date-time by the
//! patient's looked-up number of days; any other `@lookup` writes the
//! anonymized patient ID. When a script uses `@lookup`, every patient must
//! be in the table, or the file is quarantined as a lookup miss.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};

use super::strptime;

/// One patient of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupPatient {
    pub anon_patient_id: String,
    pub date_offset: Option<i64>,
}

/// A parsed `ptid/ID=ANON` / `dateoffset/ID=DAYS` properties file.
pub type LookupTable = BTreeMap<String, LookupPatient>;

/// Parse a CTP lookup properties file as the reference does
/// (`_parse_properties`): every error is collected and reported with its
/// line number.
pub fn parse_table(text: &str) -> Result<LookupTable, Vec<String>> {
    let mut ptid = BTreeMap::new();
    let mut offsets = BTreeMap::new();
    let mut errors = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((key, replacement)) = split_property(line) else {
            errors.push(format!(
                "line {line_no}: invalid format (expected KEYTYPE/ID=VALUE)"
            ));
            continue;
        };
        let (keytype, patient) = key;
        match keytype {
            "ptid" if patient.is_empty() || replacement.is_empty() => {
                errors.push(format!("line {line_no}: empty ptid key or value"))
            }
            "ptid" => {
                ptid.insert(patient.to_string(), replacement.to_string());
            }
            "dateoffset" if patient.is_empty() => {
                errors.push(format!("line {line_no}: empty dateoffset patient id"))
            }
            "dateoffset" => match replacement.parse::<i64>() {
                Ok(days) => {
                    offsets.insert(patient.to_string(), days);
                }
                Err(_) => errors.push(format!(
                    "line {line_no}: dateoffset must be an integer, got {replacement:?}"
                )),
            },
            other => errors.push(format!("line {line_no}: unsupported key type {other:?}")),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if ptid.is_empty() {
        return Err(vec!["no ptid/ entries found".to_string()]);
    }
    if !offsets.is_empty() {
        let missing: Vec<&str> = ptid
            .keys()
            .filter(|k| !offsets.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(vec![format!(
                "every ptid patient must have a dateoffset entry; missing: {}",
                missing.join(", ")
            )]);
        }
    }
    Ok(ptid
        .into_iter()
        .map(|(id, anon)| {
            let date_offset = offsets.get(&id).copied();
            (
                id,
                LookupPatient {
                    anon_patient_id: anon,
                    date_offset,
                },
            )
        })
        .collect())
}

/// `^\s*([^#/][^/]*)/([^=]+)=(.*)$`, stripped: `((keytype, id), value)`.
fn split_property(line: &str) -> Option<((&str, &str), &str)> {
    let (keytype, rest) = line.split_once('/')?;
    if keytype.is_empty() || keytype.starts_with('#') {
        return None;
    }
    let (id, value) = rest.split_once('=')?;
    if id.is_empty() {
        return None;
    }
    Some(((keytype.trim(), id.trim()), value.trim()))
}

/// `_apply_date_offset(value, days)`: shift a date (`YYYYMMDD…`) or
/// date-time (`YYYYMMDDHHMMSS…`) by whole days, keeping what follows; a
/// value that does not parse is returned unchanged.
pub fn apply_date_offset(value: &str, days: i64) -> String {
    let text = value.trim();
    if text.is_empty() {
        return value.to_string();
    }
    let shift = |dt: NaiveDateTime| dt.checked_add_signed(Duration::days(days));
    let out = if text.len() >= 14 && text.is_char_boundary(14) {
        strptime::date_time(&text[..14])
            .and_then(shift)
            .map(|dt| format!("{}{}", dt.format("%Y%m%d%H%M%S"), &text[14..]))
    } else if text.len() >= 8 && text.is_char_boundary(8) {
        strptime::date(&text[..8])
            .and_then(|d| shift(d.and_hms_opt(0, 0, 0)?))
            .map(|dt| format!("{}{}", dt.format("%Y%m%d"), &text[8..]))
    } else {
        None
    };
    out.unwrap_or_else(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_and_reports_every_error() {
        let t = parse_table("# c\nptid/P1=A1\ndateoffset/P1=-10\n").unwrap();
        assert_eq!(
            t["P1"],
            LookupPatient {
                anon_patient_id: "A1".into(),
                date_offset: Some(-10)
            }
        );
        let e = parse_table("ptid/P1=\nbogus\ndateoffset/P1=x\nfoo/P2=3\n").unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(parse_table("ptid/P1=A\nptid/P2=B\ndateoffset/P1=3\n").is_err());
    }

    #[test]
    fn dates_and_date_times_shift_and_keep_their_tail() {
        assert_eq!(apply_date_offset("20200101", 31), "20200201");
        assert_eq!(
            apply_date_offset("20200101120000.5+0100", -1),
            "20191231120000.5+0100"
        );
        assert_eq!(apply_date_offset("2020", 3), "2020");
        assert_eq!(apply_date_offset("garbage!", 3), "garbage!");
        assert_eq!(apply_date_offset("", 3), "");
    }
}
