//! What a store backend must do. [`super::Store`] is the one type the rest
//! of the engine uses; it holds a backend (SQLite for one machine,
//! PostgreSQL for workers on many) and the capture memo, and names the
//! store in every error.

use std::collections::HashMap;

use super::capture::{CaptureContext, CaptureOutcome, Identity, Memo};
use super::export::Mapping;
use super::{FileRecord, Store, StoreError};
use crate::functions::rsna::lookup::LookupTable;

/// Errors are messages here; the store adds its name.
pub type BackendResult<T> = Result<T, String>;

/// Which instances to count: per original study or per original series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountBy {
    Study,
    Series,
}

/// The operations of a store. Each one that writes is one transaction:
/// all of it is committed, or none.
pub trait Backend: Send {
    /// A setting recorded by an earlier run.
    fn setting(&mut self, key: &str) -> BackendResult<Option<String>>;

    /// Record `value` for `key` unless a value is recorded already; return
    /// the value the store now holds (which another worker may have put).
    fn claim_setting(&mut self, key: &str, value: &str) -> BackendResult<String>;

    /// The patient without an ID, index 0, as `anon_patient_id`.
    fn ensure_default_patient(&mut self, anon_patient_id: &str) -> BackendResult<()>;

    /// Replace the lookup table.
    fn replace_lookup(&mut self, table: &LookupTable) -> BackendResult<()>;

    /// Files finished by earlier runs: source → output.
    fn done_files(&mut self) -> BackendResult<HashMap<String, String>>;

    /// The output of the file done from `source`, if it is done.
    fn output_of(&mut self, source: &str) -> BackendResult<Option<String>>;

    /// Capture a batch of files in order, each file all or nothing, the
    /// batch in one transaction. `memo` describes committed rows; the
    /// backend adds what it commits.
    fn capture_all(
        &mut self,
        ids: &[Identity],
        ctx: &CaptureContext,
        memo: &mut Memo,
    ) -> BackendResult<Vec<CaptureOutcome>>;

    /// Record outcomes, the UIDs they mapped (those not known to be
    /// stored) and the `@integer` numbers they assigned; `worker` names
    /// the process that did the work, for the audit.
    fn record(
        &mut self,
        records: &[FileRecord],
        uids: &[(String, String)],
        integers: &[(String, String, u64)],
        now: &str,
        worker: &str,
    ) -> BackendResult<()>;

    /// Every number CTP's `@integer` assigned: (key type, text, number).
    fn integers(&mut self) -> BackendResult<Vec<(String, String, u64)>>;

    /// The number `@integer` gives `text` under `key_type`: the one already
    /// assigned, else the next of that key type, recorded at once.
    fn integer(&mut self, key_type: &str, text: &str) -> BackendResult<u64>;

    /// Quarantined and failed files: (source, reason, detail), by source.
    fn quarantined(&mut self) -> BackendResult<Vec<(String, String, String)>>;

    /// The outputs already stored at `destination`.
    fn sent_to(&mut self, destination: &str) -> BackendResult<Vec<String>>;

    /// Record that `output` is stored at `destination` with `status`.
    fn record_sent(
        &mut self,
        output: &str,
        destination: &str,
        status: u16,
        at: &str,
    ) -> BackendResult<()>;

    /// Outputs recorded after position `after` and not yet stored at
    /// `destination`, with their positions, in the order recorded.
    fn unsent_outputs(
        &mut self,
        destination: &str,
        after: i64,
    ) -> BackendResult<Vec<(i64, String)>>;

    /// Instances captured, by original study or series UID.
    fn instance_counts(&mut self, by: CountBy) -> BackendResult<HashMap<String, usize>>;

    /// The whole PHI ↔ anonymized mapping, for `lookup export`.
    fn mapping(&mut self) -> BackendResult<Mapping>;
}

/// The schema version this build writes. A store made by a newer build is
/// refused (its tables may mean something this build does not know); an
/// older one is migrated when opened:
/// - 1: the first (stores made before the version was recorded count as 1).
/// - 2: `files.worker`, the process that recorded each file.
pub const SCHEMA_VERSION: i64 = 2;

/// The error for a store whose schema is newer than this build's.
pub fn newer_schema(found: i64) -> String {
    format!(
        "the store has schema version {found}, newer than this build's {SCHEMA_VERSION}; use a newer dicom-anonymizer"
    )
}

impl Store {
    pub(super) fn error(&self, message: impl std::fmt::Display) -> StoreError {
        StoreError {
            store: self.name.clone(),
            message: message.to_string(),
        }
    }
}
