//! Applying a script to DICOM data sets.
//!
//! - [`ctp`]: the semantics of CTP's DicomAnonymizer.
//! - [`rsna`]: the semantics of the RSNA DICOM Anonymizer's engine.
//! - [`values`]: reading and writing element values as the reference sees them.

pub mod ctp;
pub mod rsna;
pub mod values;
