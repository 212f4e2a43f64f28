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

#[derive(Serialize)]
struct StudyRow {
    patient_id: String,
    anon_patient_id: String,
    study_uid: String,
    anon_study_uid: String,
    study_date: Option<String>,
    date_offset: i64,
    accession_number: Option<String>,
    anon_accession_number: Option<String>,
}

#[derive(Serialize)]
struct PatientRow {
    patient_id: String,
    anon_patient_id: String,
    date_offset: Option<i64>,
}

#[derive(Serialize)]
struct SeriesRow {
    series_uid: String,
    anon_series_uid: String,
    study_uid: String,
}

#[derive(Serialize)]
struct UidRow {
    phi_uid: String,
    anon_uid: String,
}

#[derive(Serialize)]
struct Everything {
    patients: Vec<PatientRow>,
    studies: Vec<StudyRow>,
    series: Vec<SeriesRow>,
    uids: Vec<UidRow>,
}

/// Write the mapping held in `store` to `out`.
pub fn export(store: &Store, format: ExportFormat, out: &mut dyn Write) -> Result<(), StoreError> {
    let conn = store.connection();
    let e = |e: &dyn std::fmt::Display| store.error(e);
    let studies: Vec<StudyRow> = (|| {
        let mut stmt = conn.prepare(
            "SELECT p.patient_id, p.anon_patient_id, s.study_uid, s.anon_study_uid, s.study_date, s.date_offset, s.accession_number, s.anon_accession_number
             FROM studies s JOIN patients p ON p.patient_id = s.patient_id
             ORDER BY p.anon_patient_id, s.study_uid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StudyRow {
                patient_id: r.get(0)?,
                anon_patient_id: r.get(1)?,
                study_uid: r.get(2)?,
                anon_study_uid: r.get(3)?,
                study_date: r.get(4)?,
                date_offset: r.get(5)?,
                accession_number: r.get(6)?,
                anon_accession_number: r.get(7)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    })()
    .map_err(|x| e(&x))?;
    match format {
        ExportFormat::Csv => {
            let mut text = String::from(
                "patient_id,anon_patient_id,study_uid,anon_study_uid,study_date,date_offset,accession_number,anon_accession_number\n",
            );
            for s in &studies {
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
            let everything = (|| {
                let patients = conn
                    .prepare("SELECT patient_id, anon_patient_id, date_offset FROM patients ORDER BY anon_patient_id")?
                    .query_map([], |r| {
                        Ok(PatientRow {
                            patient_id: r.get(0)?,
                            anon_patient_id: r.get(1)?,
                            date_offset: r.get(2)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let series = conn
                    .prepare("SELECT series_uid, anon_series_uid, study_uid FROM series ORDER BY study_uid, series_uid")?
                    .query_map([], |r| {
                        Ok(SeriesRow {
                            series_uid: r.get(0)?,
                            anon_series_uid: r.get(1)?,
                            study_uid: r.get(2)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let uids = conn
                    .prepare("SELECT phi_uid, anon_uid FROM uids ORDER BY phi_uid")?
                    .query_map([], |r| {
                        Ok(UidRow {
                            phi_uid: r.get(0)?,
                            anon_uid: r.get(1)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok::<_, rusqlite::Error>(Everything {
                    patients,
                    studies,
                    series,
                    uids,
                })
            })()
            .map_err(|x| e(&x))?;
            serde_json::to_writer_pretty(&mut *out, &everything).map_err(|x| e(&x))?;
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
