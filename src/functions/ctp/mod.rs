//! The functions of CTP's DicomAnonymizer (johnperry/CTP,
//! `DICOMAnonymizer.java` and `AnonymizerFunctions.java`), one file each,
//! as plain functions on text. The interpreter
//! ([`crate::interpreter::ctp`]) finds their arguments (element values,
//! parameters) and applies them; the functions that steer the interpreter
//! itself (`@if`, `@select`, `@append`, `@always`, `@process`, `@require`,
//! `@skip`, `@quarantine`, `@call`) live there.
//!
//! Each reproduces CTP's arithmetic and formatting, quirks included.

pub mod calendar;
pub mod contents;
pub mod date;
pub mod dateinterval;
pub mod dcm4che_values;
pub mod encrypt;
pub mod hash;
pub mod hashdate;
pub mod hashname;
pub mod hashptid;
pub mod hashuid;
pub mod incrementdate;
pub mod initials;
pub mod integer;
pub mod lookup;
pub mod modifydate;
pub mod pathelement;
pub mod properties;
pub mod put;
pub mod round;
pub mod truncate;
