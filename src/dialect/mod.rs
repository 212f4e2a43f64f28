//! The two engines whose semantics a script can be run with.

pub mod rsna;

use serde::Serialize;

/// Which reference engine's semantics apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// The RSNA DICOM Anonymizer (PyPI `rsna-anonymizer` 19.x).
    Rsna,
    /// CTP's DicomAnonymizer (johnperry/CTP `DICOMAnonymizer.java`).
    Ctp,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Rsna => "rsna",
            Dialect::Ctp => "ctp",
        }
    }

    /// The engine's name, for messages.
    pub fn engine(self) -> &'static str {
        match self {
            Dialect::Rsna => "the RSNA DICOM Anonymizer",
            Dialect::Ctp => "CTP",
        }
    }
}
