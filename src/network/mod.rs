//! DICOM networking over the upper layer protocol (dicom-ul): C-ECHO as a
//! client ([`echo`]), and a storage SCP ([`receiver`]) that writes every
//! instance it is sent durably into a spool ([`spool`]) before it answers,
//! so that `serve` can hand the spooled files to the same batch as
//! `anonymize`. The receiver parses nothing but command sets (through the
//! bounded reader): the data sets are read, like any input file, by the
//! batch.

pub mod address;
pub mod dimse;
pub mod echo;
pub mod get;
pub mod incoming;
pub mod link;
pub mod query;
pub mod receiver;
pub mod send;
pub mod spool;
pub mod storage_classes;
pub mod tls;

pub use address::AeAddress;

/// The Verification SOP class (C-ECHO).
pub const VERIFICATION: &str = "1.2.840.10008.1.1";
/// Our implementation class UID (under the RSNA tool's default root, as
/// the rest of the defaults) and version name, written in spooled files'
/// meta groups.
pub const IMPLEMENTATION_CLASS_UID: &str = "1.2.826.0.1.3680043.10.474.2.99.1";
pub const IMPLEMENTATION_VERSION_NAME: &str = "DICOMANON_RS";
