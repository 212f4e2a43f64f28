//! Capturing a file's identity into the store, as the RSNA engine's
//! `AnonymizerModel.capture_phi` does: get or create the patient (numbered
//! in order of first sight, or from the lookup table), the study (with its
//! anonymized accession number and date offset), the series and the
//! instance, refusing a study, series or instance that moves between
//! parents.

use std::collections::{HashMap, HashSet};

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

/// The statements capture needs, which each backend runs in its own SQL.
/// All run inside the caller's transaction.
pub trait CaptureDb {
    type Error;
    /// The instance row of a SOPInstanceUID: (source, series UID).
    fn instance(&mut self, sop: &str) -> Result<Option<(String, String)>, Self::Error>;
    /// The patient row: (anonymized ID, date offset from a lookup table).
    fn patient(&mut self, ptid: &str) -> Result<Option<(String, Option<i64>)>, Self::Error>;
    /// The lookup-table row: (anonymized ID, date offset).
    fn lookup_patient(&mut self, ptid: &str) -> Result<Option<(String, Option<i64>)>, Self::Error>;
    /// The highest patient index given so far.
    fn last_patient_index(&mut self) -> Result<Option<i64>, Self::Error>;
    fn insert_patient(
        &mut self,
        ptid: &str,
        anon: &str,
        index: Option<i64>,
        offset: Option<i64>,
    ) -> Result<(), Self::Error>;
    /// The study row: (patient ID, anonymized accession, date offset).
    #[allow(clippy::type_complexity)]
    fn study(&mut self, uid: &str) -> Result<Option<(String, Option<String>, i64)>, Self::Error>;
    fn insert_study(&mut self, study: &NewStudy<'_>) -> Result<(), Self::Error>;
    /// The study UID a series belongs to.
    fn series_study(&mut self, uid: &str) -> Result<Option<String>, Self::Error>;
    fn insert_series(&mut self, uid: &str, anon: &str, study: &str) -> Result<(), Self::Error>;
    fn insert_instance(
        &mut self,
        sop: &str,
        anon: &str,
        series: &str,
        source: &str,
    ) -> Result<(), Self::Error>;
    /// Record a UID mapping unless the UID has one.
    fn put_uid(&mut self, phi: &str, anon: &str) -> Result<(), Self::Error>;
}

/// A study as capture first records it.
#[derive(Debug)]
pub struct NewStudy<'a> {
    pub study_uid: &'a str,
    pub anon_study_uid: String,
    pub patient_id: &'a str,
    pub study_date: String,
    pub accession_number: Option<&'a str>,
    pub anon_accession_number: Option<String>,
    pub date_offset: i64,
}

/// Capture one file. `memo` must describe committed rows only: the caller
/// rolls back the file's changes unless the outcome is a subject, and
/// [`remember`] it only then.
pub fn capture<D: CaptureDb>(
    db: &mut D,
    id: &Identity,
    ctx: &CaptureContext,
    memo: &Memo,
) -> Result<CaptureOutcome, D::Error> {
    let instance = db.instance(&id.sop_instance_uid)?;
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
        if let Some(refusal) = capture_instance(db, id, ctx, memo, instance)? {
            return Ok(refusal);
        }
        return Ok(CaptureOutcome::Subject(known.subject.clone()));
    }

    // The patient.
    let (anon_ptid, lookup_offset) = match db.patient(&phi_ptid)? {
        Some(p) => p,
        None if ctx.lookup_required => {
            let Some((anon, offset)) = db.lookup_patient(&phi_ptid)? else {
                return Ok(CaptureOutcome::LookupMiss(format!(
                    "PatientID {phi_ptid:?} is not in the lookup table"
                )));
            };
            db.insert_patient(&phi_ptid, &anon, None, offset)?;
            (anon, offset)
        }
        None => {
            let index = db.last_patient_index()?.unwrap_or(0) + 1;
            let anon = ptid::format(&ctx.site_id, index as u64);
            db.insert_patient(&phi_ptid, &anon, Some(index), None)?;
            (anon, None)
        }
    };

    // The study.
    let (anon_accession, date_offset) = match db.study(&id.study_uid)? {
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
            db.insert_study(&NewStudy {
                study_uid: &id.study_uid,
                anon_study_uid: ctx.uids.anon_uid(&id.study_uid),
                patient_id: &phi_ptid,
                study_date: id.study_date.clone().unwrap_or_else(|| "19000101".into()),
                accession_number: accession,
                anon_accession_number: anon_acc.clone(),
                date_offset: offset,
            })?;
            (anon_acc, offset)
        }
    };

    // The series.
    match db.series_study(&id.series_uid)? {
        Some(s) if s != id.study_uid => {
            return Ok(CaptureOutcome::Integrity(format!(
                "SeriesInstanceUID {} already belongs to another study",
                id.series_uid
            )));
        }
        Some(_) => {}
        None => db.insert_series(
            &id.series_uid,
            &ctx.uids.anon_uid(&id.series_uid),
            &id.study_uid,
        )?,
    }

    // The instance.
    if let Some(refusal) = capture_instance(db, id, ctx, memo, instance)? {
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
fn capture_instance<D: CaptureDb>(
    db: &mut D,
    id: &Identity,
    ctx: &CaptureContext,
    memo: &Memo,
    instance: Option<(String, String)>,
) -> Result<Option<CaptureOutcome>, D::Error> {
    match instance {
        Some((_, series)) if series != id.series_uid => {
            return Ok(Some(CaptureOutcome::Integrity(format!(
                "SOPInstanceUID {} already belongs to another series",
                id.sop_instance_uid
            ))));
        }
        Some(_) => {}
        None => db.insert_instance(
            &id.sop_instance_uid,
            &ctx.uids.anon_uid(&id.sop_instance_uid),
            &id.series_uid,
            &id.source,
        )?,
    }
    for uid in [&id.study_uid, &id.series_uid, &id.sop_instance_uid] {
        if !memo.uids.contains(uid) {
            db.put_uid(uid, &ctx.uids.anon_uid(uid))?;
        }
    }
    Ok(None)
}
