//! Capturing a file's identity into the store, as the RSNA engine's
//! `AnonymizerModel.capture_phi` does: get or create the patient (numbered
//! in order of first sight, or from the lookup table), the study (with its
//! anonymized accession number and date offset), the series and the
//! instance, refusing a study, series or instance that moves between
//! parents.

use rusqlite::{Connection, OptionalExtension, params};

use crate::functions::rsna::uid::UidGenerator;
use crate::functions::rsna::{acc, hashdate, ptid};
use crate::interpreter::rsna::Subject;

/// What identifies a file, read from its header.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The input path, relative to the input root.
    pub source: String,
    /// PatientID as pydicom gives it (trailing padding removed), or `None`
    /// when the element is absent.
    pub patient_id: Option<String>,
    pub study_date: Option<String>,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_instance_uid: String,
    pub accession_number: Option<String>,
}

/// The project settings capture needs.
#[derive(Debug, Clone)]
pub struct CaptureContext {
    pub site_id: String,
    pub uids: UidGenerator,
    pub accession_salt: String,
    pub lookup_required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureOutcome {
    /// Captured: anonymize with these.
    Subject(Subject),
    /// The SOPInstanceUID was already captured from another file (the
    /// reference skips it: "Instance already stored").
    Duplicate { first_source: String },
    /// The script uses `@lookup` and the patient is not in the table.
    LookupMiss(String),
    /// A study, series or instance already belongs to another parent.
    Integrity(String),
}

/// Capture one file.
pub fn capture(
    conn: &Connection,
    id: &Identity,
    ctx: &CaptureContext,
) -> rusqlite::Result<CaptureOutcome> {
    if let Some(first) = conn
        .query_row(
            "SELECT source, series_uid FROM instances WHERE sop_instance_uid = ?1",
            [&id.sop_instance_uid],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?
        && first.0 != id.source
    {
        return Ok(CaptureOutcome::Duplicate {
            first_source: first.0,
        });
    }
    let phi_ptid = id.patient_id.as_deref().unwrap_or("").trim().to_string();

    // The patient.
    let patient: Option<(String, Option<i64>)> = conn
        .query_row(
            "SELECT anon_patient_id, date_offset FROM patients WHERE patient_id = ?1",
            [&phi_ptid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (anon_ptid, lookup_offset) = match patient {
        Some(p) => p,
        None if ctx.lookup_required => {
            let found: Option<(String, Option<i64>)> = conn
                .query_row(
                    "SELECT anon_patient_id, date_offset FROM lookup_patients WHERE patient_id = ?1",
                    [&phi_ptid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((anon, offset)) = found else {
                return Ok(CaptureOutcome::LookupMiss(format!(
                    "PatientID {phi_ptid:?} is not in the lookup table"
                )));
            };
            conn.execute(
                "INSERT INTO patients (patient_id, anon_patient_id, patient_index, date_offset) VALUES (?1, ?2, NULL, ?3)",
                params![phi_ptid, anon, offset],
            )?;
            (anon, offset)
        }
        None => {
            let last: Option<i64> =
                conn.query_row("SELECT MAX(patient_index) FROM patients", [], |r| r.get(0))?;
            let index = last.unwrap_or(0) + 1;
            let anon = ptid::format(&ctx.site_id, index as u64);
            conn.execute(
                "INSERT INTO patients (patient_id, anon_patient_id, patient_index) VALUES (?1, ?2, ?3)",
                params![phi_ptid, anon, index],
            )?;
            (anon, None)
        }
    };

    // The study.
    let study: Option<(String, Option<String>, i64)> = conn
        .query_row(
            "SELECT patient_id, anon_accession_number, date_offset FROM studies WHERE study_uid = ?1",
            [&id.study_uid],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (anon_accession, date_offset) = match study {
        Some((owner, _, _)) if owner != phi_ptid => {
            return Ok(CaptureOutcome::Integrity(format!(
                "StudyInstanceUID {} already belongs to another patient",
                id.study_uid
            )));
        }
        Some((_, acc, offset)) => (acc, offset),
        None => {
            let accession = id.accession_number.as_deref().map(str::trim);
            let anon_acc = accession
                .filter(|a| !a.is_empty())
                .map(|a| acc::hash_accession(&ctx.accession_salt, a));
            // `_hash_date(ds.StudyDate, ds.PatientID)` when both are present.
            let from_hash = match (&id.study_date, &id.patient_id) {
                (Some(date), Some(pid)) => {
                    hashdate::hash_date(date, pid).map(|(d, _)| d).unwrap_or(0) as i64
                }
                _ => 0,
            };
            let offset = lookup_offset.unwrap_or(from_hash);
            conn.execute(
                "INSERT INTO studies (study_uid, anon_study_uid, patient_id, study_date, accession_number, anon_accession_number, date_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id.study_uid,
                    ctx.uids.anon_uid(&id.study_uid),
                    phi_ptid,
                    id.study_date.clone().unwrap_or_else(|| "19000101".into()),
                    accession,
                    anon_acc,
                    offset
                ],
            )?;
            (anon_acc, offset)
        }
    };

    // The series.
    let series_study: Option<String> = conn
        .query_row(
            "SELECT study_uid FROM series WHERE series_uid = ?1",
            [&id.series_uid],
            |r| r.get(0),
        )
        .optional()?;
    match series_study {
        Some(s) if s != id.study_uid => {
            return Ok(CaptureOutcome::Integrity(format!(
                "SeriesInstanceUID {} already belongs to another study",
                id.series_uid
            )));
        }
        Some(_) => {}
        None => {
            conn.execute(
                "INSERT INTO series (series_uid, anon_series_uid, study_uid) VALUES (?1, ?2, ?3)",
                params![
                    id.series_uid,
                    ctx.uids.anon_uid(&id.series_uid),
                    id.study_uid
                ],
            )?;
        }
    }

    // The instance.
    let instance_series: Option<String> = conn
        .query_row(
            "SELECT series_uid FROM instances WHERE sop_instance_uid = ?1",
            [&id.sop_instance_uid],
            |r| r.get(0),
        )
        .optional()?;
    match instance_series {
        Some(s) if s != id.series_uid => {
            return Ok(CaptureOutcome::Integrity(format!(
                "SOPInstanceUID {} already belongs to another series",
                id.sop_instance_uid
            )));
        }
        Some(_) => {}
        None => {
            conn.execute(
                "INSERT INTO instances (sop_instance_uid, anon_sop_instance_uid, series_uid, source) VALUES (?1, ?2, ?3, ?4)",
                params![
                    id.sop_instance_uid,
                    ctx.uids.anon_uid(&id.sop_instance_uid),
                    id.series_uid,
                    id.source
                ],
            )?;
        }
    }
    let mut put_uid =
        conn.prepare_cached("INSERT OR IGNORE INTO uids (phi_uid, anon_uid) VALUES (?1, ?2)")?;
    for uid in [&id.study_uid, &id.series_uid, &id.sop_instance_uid] {
        put_uid.execute(params![uid, ctx.uids.anon_uid(uid)])?;
    }

    Ok(CaptureOutcome::Subject(Subject {
        phi_patient_id: phi_ptid,
        anon_patient_id: anon_ptid,
        anon_accession,
        date_offset,
    }))
}
