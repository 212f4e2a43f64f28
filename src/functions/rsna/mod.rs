//! The operations of the RSNA DICOM Anonymizer (PyPI `rsna-anonymizer`
//! 19.0.10), one file each. Which operation a rule's text selects is decided
//! by [`crate::dialect::rsna::classify`]; the walk that applies them is
//! [`crate::interpreter::rsna`].
//!
//! Each function reproduces the reference's arithmetic and formatting,
//! quirks included; a quirk we deliberately do not reproduce is named in the
//! function's documentation and in the README.

pub mod acc;
pub mod hashdate;
pub mod lookup;
pub mod ptid;
pub mod round;
pub mod strptime;
pub mod uid;
