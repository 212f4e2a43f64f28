//! Capture of a whole chunk against rows read beforehand, so that a
//! store across the network costs a few round trips per chunk, not
//! several per file: the backend reads every row the chunk's files could
//! touch (their instances, patients, lookup rows, studies and series, and
//! the highest patient index), capture runs here against those rows, and
//! what it added is written back in one batch.
//!
//! This is exact only while nobody else writes those tables between the
//! read and the write: the PostgreSQL backend holds its capture lock over
//! both.

use std::collections::{HashMap, HashSet};

use super::capture::{CaptureDb, NewStudy};

/// The rows a chunk's capture may read, as the store held them.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// SOPInstanceUID → (source, series UID).
    pub instances: HashMap<String, (String, String)>,
    /// PatientID → (anonymized ID, date offset).
    pub patients: HashMap<String, (String, Option<i64>)>,
    /// Lookup table: PatientID → (anonymized ID, date offset).
    pub lookup: HashMap<String, (String, Option<i64>)>,
    /// StudyInstanceUID → (patient ID, anonymized accession, date offset).
    pub studies: HashMap<String, (String, Option<String>, i64)>,
    /// SeriesInstanceUID → study UID.
    pub series: HashMap<String, String>,
    pub last_patient_index: Option<i64>,
}

/// Rows capture added.
#[derive(Debug, Default, Clone)]
pub struct Added {
    /// (PatientID, anonymized ID, index, date offset).
    pub patients: Vec<(String, String, Option<i64>, Option<i64>)>,
    pub studies: Vec<StudyRow>,
    /// (series UID, anonymized UID, study UID).
    pub series: Vec<(String, String, String)>,
    /// (SOPInstanceUID, anonymized UID, series UID, source).
    pub instances: Vec<(String, String, String, String)>,
    /// (PHI UID, anonymized UID), each once.
    pub uids: Vec<(String, String)>,
}

/// A study row as capture adds it.
#[derive(Debug, Clone)]
pub struct StudyRow {
    pub study_uid: String,
    pub anon_study_uid: String,
    pub patient_id: String,
    pub study_date: String,
    pub accession_number: Option<String>,
    pub anon_accession_number: Option<String>,
    pub date_offset: i64,
}

/// The snapshot with what capture added: the rows of files kept
/// (`kept`) and of the file being captured (`pending`), which
/// [`Overlay::keep`] adds to the rest or [`Overlay::discard`] drops.
#[derive(Debug)]
pub struct Overlay {
    snapshot: Snapshot,
    kept: Added,
    pending: Added,
    uids_kept: HashSet<String>,
}

impl Overlay {
    pub fn new(snapshot: Snapshot) -> Overlay {
        Overlay {
            snapshot,
            kept: Added::default(),
            pending: Added::default(),
            uids_kept: HashSet::new(),
        }
    }

    /// The file being captured is kept: its rows join the snapshot.
    pub fn keep(&mut self) {
        let p = std::mem::take(&mut self.pending);
        for (ptid, anon, index, offset) in &p.patients {
            self.snapshot
                .patients
                .insert(ptid.clone(), (anon.clone(), *offset));
            if let Some(i) = index {
                self.snapshot.last_patient_index =
                    Some(self.snapshot.last_patient_index.map_or(*i, |l| l.max(*i)));
            }
        }
        for s in &p.studies {
            self.snapshot.studies.insert(
                s.study_uid.clone(),
                (
                    s.patient_id.clone(),
                    s.anon_accession_number.clone(),
                    s.date_offset,
                ),
            );
        }
        for (uid, _, study) in &p.series {
            self.snapshot.series.insert(uid.clone(), study.clone());
        }
        for (sop, _, series, source) in &p.instances {
            self.snapshot
                .instances
                .insert(sop.clone(), (source.clone(), series.clone()));
        }
        for (phi, anon) in p.uids {
            if self.uids_kept.insert(phi.clone()) {
                self.kept.uids.push((phi, anon));
            }
        }
        self.kept.patients.extend(p.patients);
        self.kept.studies.extend(p.studies);
        self.kept.series.extend(p.series);
        self.kept.instances.extend(p.instances);
    }

    /// The file being captured is refused: its rows are dropped.
    pub fn discard(&mut self) {
        self.pending = Added::default();
    }

    /// What the kept files added, to be written.
    pub fn added(self) -> Added {
        self.kept
    }
}

impl CaptureDb for Overlay {
    type Error = std::convert::Infallible;

    fn instance(&mut self, sop: &str) -> Result<Option<(String, String)>, Self::Error> {
        Ok(self
            .pending
            .instances
            .iter()
            .find(|i| i.0 == sop)
            .map(|i| (i.3.clone(), i.2.clone()))
            .or_else(|| self.snapshot.instances.get(sop).cloned()))
    }

    fn patient(&mut self, ptid: &str) -> Result<Option<(String, Option<i64>)>, Self::Error> {
        Ok(self
            .pending
            .patients
            .iter()
            .find(|p| p.0 == ptid)
            .map(|p| (p.1.clone(), p.3))
            .or_else(|| self.snapshot.patients.get(ptid).cloned()))
    }

    fn lookup_patient(&mut self, ptid: &str) -> Result<Option<(String, Option<i64>)>, Self::Error> {
        Ok(self.snapshot.lookup.get(ptid).cloned())
    }

    fn last_patient_index(&mut self) -> Result<Option<i64>, Self::Error> {
        let pending = self.pending.patients.iter().filter_map(|p| p.2).max();
        Ok(match (self.snapshot.last_patient_index, pending) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        })
    }

    fn insert_patient(
        &mut self,
        ptid: &str,
        anon: &str,
        index: Option<i64>,
        offset: Option<i64>,
    ) -> Result<(), Self::Error> {
        self.pending
            .patients
            .push((ptid.into(), anon.into(), index, offset));
        Ok(())
    }

    fn study(&mut self, uid: &str) -> Result<Option<(String, Option<String>, i64)>, Self::Error> {
        Ok(self
            .pending
            .studies
            .iter()
            .find(|s| s.study_uid == uid)
            .map(|s| {
                (
                    s.patient_id.clone(),
                    s.anon_accession_number.clone(),
                    s.date_offset,
                )
            })
            .or_else(|| self.snapshot.studies.get(uid).cloned()))
    }

    fn insert_study(&mut self, s: &NewStudy<'_>) -> Result<(), Self::Error> {
        self.pending.studies.push(StudyRow {
            study_uid: s.study_uid.into(),
            anon_study_uid: s.anon_study_uid.clone(),
            patient_id: s.patient_id.into(),
            study_date: s.study_date.clone(),
            accession_number: s.accession_number.map(String::from),
            anon_accession_number: s.anon_accession_number.clone(),
            date_offset: s.date_offset,
        });
        Ok(())
    }

    fn series_study(&mut self, uid: &str) -> Result<Option<String>, Self::Error> {
        Ok(self
            .pending
            .series
            .iter()
            .find(|s| s.0 == uid)
            .map(|s| s.2.clone())
            .or_else(|| self.snapshot.series.get(uid).cloned()))
    }

    fn insert_series(&mut self, uid: &str, anon: &str, study: &str) -> Result<(), Self::Error> {
        self.pending
            .series
            .push((uid.into(), anon.into(), study.into()));
        Ok(())
    }

    fn insert_instance(
        &mut self,
        sop: &str,
        anon: &str,
        series: &str,
        source: &str,
    ) -> Result<(), Self::Error> {
        self.pending
            .instances
            .push((sop.into(), anon.into(), series.into(), source.into()));
        Ok(())
    }

    fn put_uid(&mut self, phi: &str, anon: &str) -> Result<(), Self::Error> {
        if !self.uids_kept.contains(phi) && !self.pending.uids.iter().any(|u| u.0 == phi) {
            self.pending.uids.push((phi.into(), anon.into()));
        }
        Ok(())
    }
}
