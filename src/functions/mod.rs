//! The script functions, one small unit each, grouped by the dialect whose
//! semantics they implement.
//!
//! - [`rsna`]: the operations of the RSNA DICOM Anonymizer's engine
//!   (`rsna-anonymizer` 19.x, `controller/anonymizer.py`).

pub mod ctp;
pub mod rsna;
