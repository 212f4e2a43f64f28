//! The script functions, one small unit each, grouped by the dialect whose
//! semantics they implement.
//!
//! - [`rsna`]: the operations of the RSNA DICOM Anonymizer's engine
//!   (`rsna-anonymizer` 19.x, `controller/anonymizer.py`).
//! - [`extension`]: functions of our own for the `rsna` dialect, which the
//!   RSNA tool lacks (it keeps the value where a rule uses one).

pub mod ctp;
pub mod extension;
pub mod rsna;
