//! Capturing a file's identity into the store, as the RSNA engine's
//! `AnonymizerModel.capture_phi` does: get or create the patient (numbered
//! in order of first sight, or from the lookup table), the study (with its
//! anonymized accession number and date offset), the series and the
//! instance, refusing a study, series or instance that moves between
//! parents.

use std::collections::{HashMap, HashSet};

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
    /// `@acc` in the RSNA tool's form (see [`acc::hash_accession`]).
    pub rsna_exact: bool,
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

/// What this process has committed to the store, so that the common case,
/// another file of a series already captured, skips most statements.
/// Patients, studies, series and UIDs are never changed nor deleted once
/// written, so what is remembered stays true (also while another process
/// adds to the same store).
#[derive(Debug, Default)]
pub struct Memo {
    /// Series captured, by SeriesInstanceUID, with their study and patient.
    series: HashMap<String, KnownSeries>,
    /// PHI UIDs known to be in the `uids` table.
    uids: HashSet<String>,
}

#[derive(Debug)]
struct KnownSeries {
    study_uid: String,
    subject: Subject,
}

/// UIDs (and series) remembered at most; then the memo starts again (a run
/// over millions of files must not grow without bound).
const MEMO_UIDS: usize = 100_000;

impl Memo {
    /// Whether `uid` still has to be written to the `uids` table (and
    /// remember that it will have been).
    pub fn uid_is_new(&mut self, uid: &str) -> bool {
        if self.uids.contains(uid) {
            return false;
        }
        if self.uids.len() >= MEMO_UIDS {
            self.uids.clear();
        }
        self.uids.insert(uid.to_string());
        true
    }

    /// Forget everything (the transaction that wrote it was rolled back).
    pub fn clear(&mut self) {
        *self = Memo::default();
    }
}

/// Capture one file. `memo` must describe committed rows only: the caller
/// rolls back the file's changes unless the outcome is a subject, and
/// [`remember`] it only then.
pub fn capture(
    conn: &Connection,
    id: &Identity,
    ctx: &CaptureContext,
    memo: &Memo,
) -> rusqlite::Result<CaptureOutcome> {
    let instance: Option<(String, String)> = conn
        .prepare_cached("SELECT source, series_uid FROM instances WHERE sop_instance_uid = ?1")?
        .query_row([&id.sop_instance_uid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((first_source, _)) = &instance
        && *first_source != id.source
    {
        return Ok(CaptureOutcome::Duplicate {
            first_source: first_source.clone(),
        });
    }
    let phi_ptid = id.patient_id.as_deref().unwrap_or("").trim().to_string();

    // Another file of a series captured before: patient, study and series
    // are as they were; only the instance is new.
    if let Some(known) = memo.series.get(&id.series_uid)
        && known.study_uid == id.study_uid
        && known.subject.phi_patient_id == phi_ptid
    {
        if let Some(refusal) = capture_instance(conn, id, ctx, memo, instance)? {
            return Ok(refusal);
        }
        return Ok(CaptureOutcome::Subject(known.subject.clone()));
    }

    // The patient.
    let patient: Option<(String, Option<i64>)> = conn
        .prepare_cached("SELECT anon_patient_id, date_offset FROM patients WHERE patient_id = ?1")?
        .query_row([&phi_ptid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (anon_ptid, lookup_offset) = match patient {
        Some(p) => p,
        None if ctx.lookup_required => {
            let sql =
                "SELECT anon_patient_id, date_offset FROM lookup_patients WHERE patient_id = ?1";
            let found: Option<(String, Option<i64>)> = conn
                .prepare_cached(sql)?
                .query_row([&phi_ptid], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((anon, offset)) = found else {
                return Ok(CaptureOutcome::LookupMiss(format!(
                    "PatientID {phi_ptid:?} is not in the lookup table"
                )));
            };
            let sql = "INSERT INTO patients (patient_id, anon_patient_id, patient_index, date_offset) VALUES (?1, ?2, NULL, ?3)";
            conn.prepare_cached(sql)?
                .execute(params![phi_ptid, anon, offset])?;
            (anon, offset)
        }
        None => {
            let last: Option<i64> = conn
                .prepare_cached("SELECT MAX(patient_index) FROM patients")?
                .query_row([], |r| r.get(0))?;
            let index = last.unwrap_or(0) + 1;
            let anon = ptid::format(&ctx.site_id, index as u64);
            let sql = "INSERT INTO patients (patient_id, anon_patient_id, patient_index) VALUES (?1, ?2, ?3)";
            conn.prepare_cached(sql)?
                .execute(params![phi_ptid, anon, index])?;
            (anon, None)
        }
    };

    // The study.
    let sql =
        "SELECT patient_id, anon_accession_number, date_offset FROM studies WHERE study_uid = ?1";
    let study: Option<(String, Option<String>, i64)> = conn
        .prepare_cached(sql)?
        .query_row([&id.study_uid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
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
                .map(|a| acc::hash_accession(&ctx.accession_salt, a, ctx.rsna_exact));
            // `_hash_date(ds.StudyDate, ds.PatientID)` when both are present.
            let from_hash = match (&id.study_date, &id.patient_id) {
                (Some(date), Some(pid)) => {
                    hashdate::hash_date(date, pid).map(|(d, _)| d).unwrap_or(0) as i64
                }
                _ => 0,
            };
            let offset = lookup_offset.unwrap_or(from_hash);
            let sql = "INSERT INTO studies (study_uid, anon_study_uid, patient_id, study_date, accession_number, anon_accession_number, date_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
            conn.prepare_cached(sql)?.execute(params![
                id.study_uid,
                ctx.uids.anon_uid(&id.study_uid),
                phi_ptid,
                id.study_date.clone().unwrap_or_else(|| "19000101".into()),
                accession,
                anon_acc,
                offset
            ])?;
            (anon_acc, offset)
        }
    };

    // The series.
    let series_study: Option<String> = conn
        .prepare_cached("SELECT study_uid FROM series WHERE series_uid = ?1")?
        .query_row([&id.series_uid], |r| r.get(0))
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
            conn.prepare_cached(
                "INSERT INTO series (series_uid, anon_series_uid, study_uid) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                id.series_uid,
                ctx.uids.anon_uid(&id.series_uid),
                id.study_uid
            ])?;
        }
    }

    // The instance.
    if let Some(refusal) = capture_instance(conn, id, ctx, memo, instance)? {
        return Ok(refusal);
    }

    Ok(CaptureOutcome::Subject(Subject {
        phi_patient_id: phi_ptid,
        anon_patient_id: anon_ptid,
        anon_accession,
        date_offset,
    }))
}

/// After `id` was captured as `subject` and committed: remember its series
/// and UIDs.
pub fn remember(memo: &mut Memo, id: &Identity, subject: &Subject) {
    for uid in [&id.study_uid, &id.series_uid, &id.sop_instance_uid] {
        memo.uid_is_new(uid);
    }
    if memo.series.len() >= MEMO_UIDS {
        memo.series.clear();
    }
    memo.series.insert(
        id.series_uid.clone(),
        KnownSeries {
            study_uid: id.study_uid.clone(),
            subject: subject.clone(),
        },
    );
}

/// The instance, once its series is captured: refused when it already
/// belongs to another series, else inserted if new; then the file's UIDs
/// the store does not have yet. `instance` is the row found for its
/// SOPInstanceUID (source, series).
fn capture_instance(
    conn: &Connection,
    id: &Identity,
    ctx: &CaptureContext,
    memo: &Memo,
    instance: Option<(String, String)>,
) -> rusqlite::Result<Option<CaptureOutcome>> {
    match instance {
        Some((_, series)) if series != id.series_uid => {
            return Ok(Some(CaptureOutcome::Integrity(format!(
                "SOPInstanceUID {} already belongs to another series",
                id.sop_instance_uid
            ))));
        }
        Some(_) => {}
        None => insert_instance(conn, id, ctx)?,
    }
    for uid in [&id.study_uid, &id.series_uid, &id.sop_instance_uid] {
        if !memo.uids.contains(uid) {
            put_uid(conn, ctx, uid)?;
        }
    }
    Ok(None)
}

fn insert_instance(conn: &Connection, id: &Identity, ctx: &CaptureContext) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO instances (sop_instance_uid, anon_sop_instance_uid, series_uid, source) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        id.sop_instance_uid,
        ctx.uids.anon_uid(&id.sop_instance_uid),
        id.series_uid,
        id.source
    ])?;
    Ok(())
}

fn put_uid(conn: &Connection, ctx: &CaptureContext, uid: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO uids (phi_uid, anon_uid) VALUES (?1, ?2)")?
        .execute(params![uid, ctx.uids.anon_uid(uid)])?;
    Ok(())
}
