//! `lookup export`: the PHI ↔ anonymized mapping a study coordinator needs
//! for re-identification (the RSNA tool offers the same as a spreadsheet).

use std::io::Write;

use serde::Serialize;

use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One row per study, patient columns repeated.
    Csv,
    /// Patients, studies, series and every UID pair.
    Json,
}

/// One study with its patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StudyRow {
    pub patient_id: String,
    pub anon_patient_id: String,
    pub study_uid: String,
    pub anon_study_uid: String,
    pub study_date: Option<String>,
    pub date_offset: i64,
    pub accession_number: Option<String>,
    pub anon_accession_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatientRow {
    pub patient_id: String,
    pub anon_patient_id: String,
    pub date_offset: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesRow {
    pub series_uid: String,
    pub anon_series_uid: String,
    pub study_uid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UidRow {
    pub phi_uid: String,
    pub anon_uid: String,
}

/// The whole mapping a store holds. Every backend gives the rows in the
/// same order: patients by anonymized ID, studies by anonymized patient ID
/// then study UID, series by study then series UID, UIDs by PHI UID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    pub patients: Vec<PatientRow>,
    pub studies: Vec<StudyRow>,
    pub series: Vec<SeriesRow>,
    pub uids: Vec<UidRow>,
}

/// The SQL both backends run for each part of [`Mapping`] (standard SQL,
/// `?`-free: no parameters).
pub const STUDIES_SQL: &str = "SELECT p.patient_id, p.anon_patient_id, s.study_uid, s.anon_study_uid, s.study_date, s.date_offset, s.accession_number, s.anon_accession_number
     FROM studies s JOIN patients p ON p.patient_id = s.patient_id
     ORDER BY p.anon_patient_id, s.study_uid";
pub const PATIENTS_SQL: &str =
    "SELECT patient_id, anon_patient_id, date_offset FROM patients ORDER BY anon_patient_id";
pub const SERIES_SQL: &str =
    "SELECT series_uid, anon_series_uid, study_uid FROM series ORDER BY study_uid, series_uid";
pub const UIDS_SQL: &str = "SELECT phi_uid, anon_uid FROM uids ORDER BY phi_uid";

/// Write the mapping held in `store` to `out`.
pub fn export(store: &Store, format: ExportFormat, out: &mut dyn Write) -> Result<(), StoreError> {
    let mapping = store.mapping()?;
    let e = |e: &dyn std::fmt::Display| store.error(e);
    match format {
        ExportFormat::Csv => {
            let mut text = String::from(
                "patient_id,anon_patient_id,study_uid,anon_study_uid,study_date,date_offset,accession_number,anon_accession_number\n",
            );
            for s in &mapping.studies {
                let fields = [
                    s.patient_id.clone(),
                    s.anon_patient_id.clone(),
                    s.study_uid.clone(),
                    s.anon_study_uid.clone(),
                    s.study_date.clone().unwrap_or_default(),
                    s.date_offset.to_string(),
                    s.accession_number.clone().unwrap_or_default(),
                    s.anon_accession_number.clone().unwrap_or_default(),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                text.push_str(&line.join(","));
                text.push('\n');
            }
            out.write_all(text.as_bytes()).map_err(|x| e(&x))
        }
        ExportFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &mapping).map_err(|x| e(&x))?;
            out.write_all(b"\n").map_err(|x| e(&x))
        }
    }
}

/// A CSV field, quoted when it needs to be (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
