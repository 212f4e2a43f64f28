//! The durable lookup store: original ↔ anonymized patient IDs, UIDs,
//! accession numbers and date offsets, the lookup table, and an audit record
//! per input file.
//!
//! Two backends do the same ([`backend::Backend`]): one SQLite file for a
//! run on one machine (`sqlite.rs`), and a PostgreSQL database that workers
//! on many machines share (`postgres.rs`). Either is changed only inside
//! transactions, so a run killed at any point leaves it as of its last
//! commit.

pub mod backend;
mod capture;
pub mod export;
pub mod integers;
mod overlay;
mod pg_connect;
mod postgres;
mod progress;
mod sent;
mod sqlite;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

pub use backend::CountBy;
pub use capture::{CaptureContext, CaptureOutcome, Identity};
pub use export::{ExportFormat, export};
pub use integers::StoreIntegerTable;

use crate::functions::rsna::lookup::LookupTable;
use crate::functions::rsna::ptid;
use backend::Backend;

/// A store error, with the store it concerns (a path, or a PostgreSQL
/// address without its password).
#[derive(Debug)]
pub struct StoreError {
    pub store: String,
    pub message: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store {}: {}", self.store, self.message)
    }
}

/// Whether `--store` names a PostgreSQL database (`postgres://…` or
/// `postgresql://…`) rather than a SQLite file.
pub fn is_url(store: &Path) -> bool {
    let s = store.to_string_lossy();
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl std::error::Error for StoreError {}

/// The outcome of one input file, as the audit records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Done,
    Quarantined,
    Skipped,
    Failed,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Done => "done",
            FileStatus::Quarantined => "quarantined",
            FileStatus::Skipped => "skipped",
            FileStatus::Failed => "failed",
        }
    }
}

/// One audit record.
#[derive(Debug, Clone)]
pub struct FileRecord {
    /// The input path, relative to the input root, with `/` separators.
    pub source: String,
    pub status: FileStatus,
    /// The output path, relative to the output root.
    pub output: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    /// When a failed file had captured an instance, its SOPInstanceUID, so
    /// the instance can be captured again on a later run.
    pub forget_instance: Option<String>,
}

pub struct Store {
    backend: Mutex<Box<dyn Backend>>,
    /// The store as the user named it (a PostgreSQL address without its
    /// password).
    name: String,
    /// How to open another connection to the same store (PostgreSQL only).
    url: Option<String>,
    /// What this process knows to be committed (see [`capture::Memo`]).
    memo: capture::Memo,
    /// This process as the audit names it (`host pid N`, and its shard).
    worker: String,
}

impl Store {
    /// Open (creating if needed) the store `location`: a SQLite file, or a
    /// PostgreSQL database when it is a `postgres://` URL.
    pub fn open(location: &Path) -> Result<Store, StoreError> {
        let text = location.to_string_lossy().into_owned();
        let (backend, name, url): (Box<dyn Backend>, String, Option<String>) = if is_url(location) {
            let target = pg_connect::Target::parse(&text).map_err(|message| StoreError {
                store: text.clone(),
                message,
            })?;
            let name = target.to_string();
            let backend = postgres::PgBackend::open(target).map_err(|message| StoreError {
                store: name.clone(),
                message,
            })?;
            (Box::new(backend), name, Some(text))
        } else {
            let name = location.display().to_string();
            let backend = sqlite::SqliteBackend::open(location).map_err(|message| StoreError {
                store: name.clone(),
                message,
            })?;
            (Box::new(backend), name, None)
        };
        Ok(Store {
            backend: Mutex::new(backend),
            name,
            url,
            memo: capture::Memo::default(),
            worker: format!("{} pid {}", host_name(), std::process::id()),
        })
    }

    /// This process as the audit records it.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Name this process in the audit records it writes from now on.
    pub fn set_worker(&mut self, worker: String) {
        self.worker = worker;
    }

    /// The store as the user named it (a PostgreSQL address without its
    /// password).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether workers on other machines can share this store.
    pub fn is_shared(&self) -> bool {
        self.url.is_some()
    }

    /// Run `f` on the backend; its error names the store.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut dyn Backend) -> Result<T, String>,
    ) -> Result<T, StoreError> {
        let mut backend = self
            .backend
            .lock()
            .map_err(|_| self.error("an earlier operation panicked"))?;
        f(backend.as_mut()).map_err(|m| self.error(m))
    }

    /// Forget what this process remembers of committed rows, after a
    /// failure that may have rolled some back.
    pub fn forget_memo(&mut self) {
        self.memo.clear();
    }

    /// A setting recorded by an earlier run.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with(|b| b.setting(key))
    }

    /// Record the project settings that decide every mapping (site ID, UID
    /// root). A store keeps the settings it was first used with: asking for
    /// others is an error, since the IDs and UIDs would no longer agree.
    /// Every worker on a shared store checks them.
    pub fn pin_settings(&mut self, settings: &[(&str, &str)]) -> Result<(), StoreError> {
        for (key, value) in settings {
            let held = self.with(|b| b.claim_setting(key, value))?;
            if held != *value {
                return Err(self.error(format!(
                    "this store was made with {key} {held:?}, not {value:?}; use the same {key} or another store"
                )));
            }
        }
        Ok(())
    }

    /// The patient without an ID, index 0 (`<site>-000000`), as the reference
    /// creates it.
    pub fn ensure_default_patient(&mut self, site_id: &str) -> Result<(), StoreError> {
        let anon = ptid::format(site_id, 0);
        self.with(|b| b.ensure_default_patient(&anon))
    }

    /// Replace the lookup table.
    pub fn replace_lookup(&mut self, table: &LookupTable) -> Result<(), StoreError> {
        self.with(|b| b.replace_lookup(table))
    }

    /// Files finished by earlier runs: source → output.
    pub fn done_files(&self) -> Result<HashMap<String, String>, StoreError> {
        self.with(|b| b.done_files())
    }

    /// The output of the file done from `source` (its key), if it is done.
    pub fn output_of(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.with(|b| b.output_of(source))
    }

    /// Capture the identities of a batch of files, in order, in one
    /// transaction; each file in a savepoint of its own, so a file that
    /// fails (a lookup miss, an integrity error) leaves no trace.
    pub fn capture_all(
        &mut self,
        ids: &[Identity],
        ctx: &CaptureContext,
    ) -> Result<Vec<CaptureOutcome>, StoreError> {
        let mut memo = std::mem::take(&mut self.memo);
        let result = self.with(|b| b.capture_all(ids, ctx, &mut memo));
        match &result {
            Ok(_) => self.memo = memo,
            Err(_) => self.memo.clear(),
        }
        result
    }

    /// Record a batch of outcomes, the UIDs they mapped and the `@integer`
    /// numbers they assigned, in one transaction.
    pub fn record(
        &mut self,
        records: &[FileRecord],
        uids: &[(String, String)],
        integers: &[(String, String, u64)],
        now: &str,
    ) -> Result<(), StoreError> {
        let mut fresh: Vec<(String, String)> = uids
            .iter()
            .filter(|(phi, _)| self.memo.uid_is_new(phi))
            .cloned()
            .collect();
        // One order for every worker, so that two workers writing the same
        // UIDs never wait on each other in a cycle.
        fresh.sort();
        let worker = self.worker.clone();
        let result = self.with(|b| b.record(records, &fresh, integers, now, &worker));
        if result.is_err() {
            self.memo.clear();
        }
        result
    }

    /// Every number CTP's `@integer` assigned: (key type, text, number).
    pub fn integers(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.with(|b| b.integers())
    }

    /// Files quarantined, and files and directories that could not be
    /// read or were refused: (source, reason, detail), in source order.
    pub fn quarantined(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.with(|b| b.quarantined())
    }

    /// Another connection to the same store, for what runs beside the
    /// batch (a shared `@integer` table); `None` for a SQLite store, which
    /// one process uses at a time.
    pub fn reopen_shared(&self) -> Result<Option<Store>, StoreError> {
        match &self.url {
            Some(url) => Store::open(Path::new(url)).map(Some),
            None => Ok(None),
        }
    }

    /// The number `@integer` gives `text` under `key_type`, shared by
    /// every worker of the store.
    pub fn integer(&self, key_type: &str, text: &str) -> Result<u64, StoreError> {
        self.with(|b| b.integer(key_type, text))
    }

    pub(crate) fn mapping(&self) -> Result<export::Mapping, StoreError> {
        self.with(|b| b.mapping())
    }
}

/// This machine's name (for the audit), or `?`.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if ok && !name.is_empty() => name.to_string(),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::rsna::uid::UidGenerator;

    fn id(source: &str, patient: &str, study: &str, series: &str, sop: &str) -> Identity {
        Identity {
            source: source.into(),
            patient_id: Some(patient.into()),
            study_date: Some("20240102".into()),
            study_uid: study.into(),
            series_uid: series.into(),
            sop_instance_uid: sop.into(),
            accession_number: Some(format!("ACC-{study}")),
        }
    }

    /// Capture `ids` one chunk at a time; with `forget`, the memo is
    /// cleared before each file, so every file takes the full path.
    #[allow(clippy::type_complexity)]
    fn capture_each(
        ids: &[Identity],
        forget: bool,
    ) -> (Vec<CaptureOutcome>, (export::Mapping, Vec<(String, usize)>)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        let ctx = CaptureContext {
            site_id: "99".into(),
            uids: UidGenerator::new("1.2.826.0.1.3680043.10.474", "99").unwrap(),
            accession_salt: "salt".into(),
            lookup_required: false,
            rsna_exact: false,
        };
        let mut out = Vec::new();
        for chunk in ids.chunks(2) {
            for one in chunk.chunks(if forget { 1 } else { 2 }) {
                if forget {
                    store.memo.clear();
                }
                out.extend(store.capture_all(one, &ctx).unwrap());
            }
        }
        let mapping = store.mapping().unwrap();
        let mut instances: Vec<(String, usize)> =
            store.instances_by_series().unwrap().into_iter().collect();
        instances.sort();
        let tables = (mapping, instances);
        (out, tables)
    }

    #[test]
    fn the_capture_memo_changes_no_outcome_and_no_row() {
        let ids = [
            id("a1", "P1", "1.1", "1.1.1", "1.1.1.1"),
            id("b1", "P1", "1.1", "1.1.2", "1.1.2.1"),
            id("a2", "P1", "1.1", "1.1.1", "1.1.1.2"),
            // The series is known, but its study belongs to P1.
            id("x1", "P2", "1.1", "1.1.1", "1.1.1.3"),
            // A known series under another study.
            id("x2", "P1", "1.2", "1.1.1", "1.1.1.4"),
            // An instance of series 1.1.1 filed again under series 1.1.2.
            id("a1", "P1", "1.1", "1.1.2", "1.1.1.1"),
            // The same instance from another file: a duplicate.
            id("dup", "P1", "1.1", "1.1.1", "1.1.1.2"),
            id("c1", "P2", "2.1", "2.1.1", "2.1.1.1"),
            id("a3", "P1", "1.1", "1.1.1", "1.1.1.5"),
            // The file captured first, captured again (a resumed run).
            id("a1", "P1", "1.1", "1.1.1", "1.1.1.1"),
        ];
        let (with_memo, rows_with_memo) = capture_each(&ids, false);
        let (without, rows_without) = capture_each(&ids, true);
        assert_eq!(with_memo, without);
        assert_eq!(rows_with_memo, rows_without);
        let kinds: Vec<&str> = with_memo
            .iter()
            .map(|o| match o {
                CaptureOutcome::Subject(_) => "subject",
                CaptureOutcome::Duplicate { .. } => "duplicate",
                CaptureOutcome::LookupMiss(_) => "lookup miss",
                CaptureOutcome::Integrity(_) => "integrity",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "subject",
                "subject",
                "subject",
                "integrity",
                "integrity",
                "integrity",
                "duplicate",
                "subject",
                "subject",
                "subject"
            ]
        );
    }
}
