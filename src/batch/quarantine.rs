//! The quarantine: `<output>/quarantine/<reason>/<relative path>`, a copy of
//! each input file the batch must not or cannot pass, and
//! `<output>/quarantine/report.csv` listing them with the reason.

use std::path::{Path, PathBuf};

use crate::dicom_file::write_private_atomically;
use crate::input_tree::rel_path;
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
    /// The script would make the object invalid, and asks
    /// (`QUARANTINE_INVALID`) for such objects to be quarantined.
    InvalidOutput,
    /// The filter script (`--filter`) does not pass it, and
    /// `--filter-action quarantine` asks for such files to be kept here.
    Filtered,
    /// A pixel script's signature lists regions to blank in it, and its
    /// pixels could not be cleaned (a compression this build cannot decode,
    /// pixel data shorter than the image, bits not whole bytes).
    PixelCleanError,
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
            Reason::InvalidOutput => "Invalid_Output",
            Reason::Filtered => "Filtered",
            Reason::PixelCleanError => "Pixel_Clean_Error",
        }
    }
}

/// The quarantine directory of an output root.
pub fn root(output: &Path) -> PathBuf {
    output.join("quarantine")
}

/// Copy `source` (whose key is `rel`) into the quarantine, owner-only
/// (it holds PHI).
pub fn put(output: &Path, reason: Reason, source: &Path, rel: &str) -> std::io::Result<()> {
    let dest = root(output).join(reason.dir_name()).join(rel_path(rel));
    let bytes = std::fs::read(source)?;
    write_private_atomically(&dest, |w| w.write_all(&bytes))
}

/// Rewrite `report.csv` (owner-only: file names are PHI too) from the
/// store's audit records; with no rows, remove an earlier run's report.
pub fn write_report(output: &Path, rows: &[(String, String, String)]) -> std::io::Result<()> {
    let path = root(output).join("report.csv");
    if rows.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let mut text = String::from("source,reason,detail\n");
    for (source, reason, detail) in rows {
        text.push_str(&format!(
            "{},{},{}\n",
            report_field(source),
            report_field(reason),
            report_field(detail)
        ));
    }
    write_private_atomically(&path, |w| w.write_all(text.as_bytes()))
}

/// A CSV cell of the report that a spreadsheet shows as text: a cell that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return (which a
/// spreadsheet would take for a formula) gets a leading `'`. File names
/// and values in details come from the input, so from whoever wrote it.
fn report_field(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        csv_field(&format!("'{s}"))
    } else {
        csv_field(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_cells_never_start_a_formula() {
        assert_eq!(
            report_field("=HYPERLINK(\"x\")"),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(report_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(report_field("-2+3"), "'-2+3");
        assert_eq!(report_field("+1"), "'+1");
        assert_eq!(report_field("a/b.dcm"), "a/b.dcm");
        assert_eq!(report_field("x,y"), "\"x,y\"");
    }
}
