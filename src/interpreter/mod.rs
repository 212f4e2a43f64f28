//! Applying a script to DICOM data sets.
//!
//! - [`rsna`]: the semantics of the RSNA DICOM Anonymizer's engine.
//! - [`values`]: reading and writing element values as the reference sees them.

pub mod rsna;
pub mod values;
