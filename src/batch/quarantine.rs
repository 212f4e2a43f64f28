//! The quarantine: `<output>/quarantine/<reason>/<relative path>`, a copy of
//! each input file the batch must not or cannot pass, and
//! `<output>/quarantine/report.csv` listing them with the reason.

use std::path::{Path, PathBuf};

use crate::dicom_file::write_atomically;
use crate::store::export::csv_field;

/// Why a file was quarantined; the directory names are the RSNA tool's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// DICOM, but it cannot be parsed.
    DicomReadError,
    /// One of SOPClassUID, SOPInstanceUID, StudyInstanceUID,
    /// SeriesInstanceUID is missing or empty.
    MissingAttributes,
    /// A study, series or instance already belongs to another parent.
    InvalidDicom,
    /// The script uses `@lookup` and the patient is not in the table.
    LookupMiss,
    /// The script could not be applied, or the output not written.
    StorageError,
    /// A CTP script asked for it (`@quarantine()`, a lookup miss, an
    /// expression that failed).
    ScriptQuarantine,
    /// A head series the script asks to deface could not be defaced (it
    /// is not a volume, or its pixels could not be edited).
    DefaceError,
}

impl Reason {
    pub fn dir_name(self) -> &'static str {
        match self {
            Reason::DicomReadError => "DICOM_Read_Error",
            Reason::MissingAttributes => "Missing_Attributes",
            Reason::InvalidDicom => "Invalid_DICOM",
            Reason::LookupMiss => "Lookup_Miss",
            Reason::StorageError => "Storage_Error",
            Reason::ScriptQuarantine => "Script_Quarantine",
            Reason::DefaceError => "Deface_Error",
        }
    }
}

/// The quarantine directory of an output root.
pub fn root(output: &Path) -> PathBuf {
    output.join("quarantine")
}

/// Copy `source` (relative path `rel`) into the quarantine.
pub fn put(output: &Path, reason: Reason, source: &Path, rel: &str) -> std::io::Result<()> {
    let dest = root(output).join(reason.dir_name()).join(rel);
    let bytes = std::fs::read(source)?;
    write_atomically(&dest, |w| w.write_all(&bytes))
}

/// Rewrite `report.csv` from the store's audit records.
pub fn write_report(output: &Path, rows: &[(String, String, String)]) -> std::io::Result<()> {
    let mut text = String::from("source,reason,detail\n");
    for (source, reason, detail) in rows {
        text.push_str(&format!(
            "{},{},{}\n",
            csv_field(source),
            csv_field(reason),
            csv_field(detail)
        ));
    }
    write_atomically(&root(output).join("report.csv"), |w| {
        w.write_all(text.as_bytes())
    })
}
