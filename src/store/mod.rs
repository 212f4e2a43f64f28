//! The durable lookup store: original ↔ anonymized patient IDs, UIDs,
//! accession numbers and date offsets, the lookup table, and an audit record
//! per input file, in one SQLite database.
//!
//! The database is created with owner-only permissions (it holds PHI),
//! written in WAL mode, and changed only inside transactions, so a run
//! killed at any point leaves it as of its last commit.

mod capture;
pub mod export;
mod progress;
mod sent;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

pub use capture::{CaptureContext, CaptureOutcome, Identity, capture};
pub use export::{ExportFormat, export};

use crate::functions::rsna::lookup::LookupTable;
use crate::functions::rsna::ptid;

/// A store error, with the database it concerns.
#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store {}: {}", self.path.display(), self.message)
    }
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
    conn: Connection,
    path: PathBuf,
    /// What this process knows to be committed (see [`capture::Memo`]).
    memo: capture::Memo,
    /// Held while the store is open: one process at a time uses a store.
    _lock: std::fs::File,
}

impl Store {
    /// Open (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |message: String| StoreError {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            // A directory made for the store is owner-only (an existing
            // one, which the user chose, is left as it is).
            crate::dicom_file::create_private_dir(dir).map_err(|e| err(e.to_string()))?;
        }
        let lock = lock_exclusively(path).map_err(|e| err(format!("cannot lock: {e}")))?;
        create_private(path).map_err(|e| err(format!("cannot create: {e}")))?;
        let conn = Connection::open(path).map_err(|e| err(e.to_string()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
        )
        .and_then(|_| conn.execute_batch(include_str!("schema.sql")))
        .map_err(|e| err(e.to_string()))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            memo: capture::Memo::default(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Forget what this process remembers of committed rows, after a
    /// failure that may have rolled some back.
    pub fn forget_memo(&mut self) {
        self.memo.clear();
    }

    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// A setting recorded by an earlier run.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.error(e))
    }

    /// Record the project settings that decide every mapping (site ID, UID
    /// root). A store keeps the settings it was first used with: asking for
    /// others is an error, since the IDs and UIDs would no longer agree.
    pub fn pin_settings(&mut self, settings: &[(&str, &str)]) -> Result<(), StoreError> {
        for (key, value) in settings {
            match self.setting(key)? {
                Some(old) if old != *value => {
                    return Err(self.error(format!(
                        "this store was made with {key} {old:?}, not {value:?}; use the same {key} or another store"
                    )));
                }
                Some(_) => {}
                None => {
                    self.conn
                        .execute(
                            "INSERT INTO settings (key, value) VALUES (?1, ?2)",
                            params![key, value],
                        )
                        .map_err(|e| self.error(e))?;
                }
            }
        }
        Ok(())
    }

    /// The patient without an ID, index 0 (`<site>-000000`), as the reference
    /// creates it.
    pub fn ensure_default_patient(&mut self, site_id: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO patients (patient_id, anon_patient_id, patient_index) VALUES ('', ?1, 0)",
                [ptid::format(site_id, 0)],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Replace the lookup table.
    pub fn replace_lookup(&mut self, table: &LookupTable) -> Result<(), StoreError> {
        let err = sql_error(&self.path);
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute("DELETE FROM lookup_patients", []).map_err(err)?;
        for (id, p) in table {
            tx.execute(
                "INSERT INTO lookup_patients (patient_id, anon_patient_id, date_offset) VALUES (?1, ?2, ?3)",
                params![id, p.anon_patient_id, p.date_offset],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Files finished by earlier runs: source → output.
    pub fn done_files(&self) -> Result<HashMap<String, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, output FROM files WHERE status = 'done'")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(|e| self.error(e))?;
        rows.map(|r| r.map(|(s, o)| (s, o.unwrap_or_default())))
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))
    }

    /// Capture the identities of a batch of files, in order, in one
    /// transaction; each file in a savepoint of its own, so a file that
    /// fails (a lookup miss, an integrity error) leaves no trace.
    pub fn capture_all(
        &mut self,
        ids: &[Identity],
        ctx: &CaptureContext,
    ) -> Result<Vec<CaptureOutcome>, StoreError> {
        let result = self.try_capture_all(ids, ctx);
        if result.is_err() {
            self.memo.clear();
        }
        result.map_err(sql_error(&self.path))
    }

    fn try_capture_all(
        &mut self,
        ids: &[Identity],
        ctx: &CaptureContext,
    ) -> rusqlite::Result<Vec<CaptureOutcome>> {
        let mut tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let sp = tx.savepoint()?;
            let outcome = capture(&sp, id, ctx, &self.memo)?;
            if let CaptureOutcome::Subject(subject) = &outcome {
                sp.commit()?;
                capture::remember(&mut self.memo, id, subject);
            } else {
                drop(sp); // rolled back
            }
            out.push(outcome);
        }
        tx.commit()?;
        Ok(out)
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
        let result = self.try_record(records, uids, integers, now);
        if result.is_err() {
            self.memo.clear();
        }
        result
    }

    fn try_record(
        &mut self,
        records: &[FileRecord],
        uids: &[(String, String)],
        integers: &[(String, String, u64)],
        now: &str,
    ) -> Result<(), StoreError> {
        let err = sql_error(&self.path);
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut put_file = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO files (source, status, output, reason, detail, processed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            let mut forget = tx
                .prepare_cached("DELETE FROM instances WHERE sop_instance_uid = ?1 AND source = ?2")
                .map_err(err)?;
            for r in records {
                put_file
                    .execute(params![
                        r.source,
                        r.status.as_str(),
                        r.output,
                        r.reason,
                        r.detail,
                        now
                    ])
                    .map_err(err)?;
                if let Some(sop) = &r.forget_instance {
                    forget.execute(params![sop, r.source]).map_err(err)?;
                }
            }
            let mut put_uid = tx
                .prepare_cached("INSERT OR IGNORE INTO uids (phi_uid, anon_uid) VALUES (?1, ?2)")
                .map_err(err)?;
            for (phi, anon) in uids {
                if self.memo.uid_is_new(phi) {
                    put_uid.execute(params![phi, anon]).map_err(err)?;
                }
            }
            let mut put_integer = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO ctp_integers (key_type, text, value) VALUES (?1, ?2, ?3)",
                )
                .map_err(err)?;
            for (key_type, text, value) in integers {
                put_integer
                    .execute(params![key_type, text, *value as i64])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Every number CTP's `@integer` assigned: (key type, text, number).
    pub fn integers(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key_type, text, value FROM ctp_integers")
            .map_err(|e| self.error(e))?;
        stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })
        .map_err(|e| self.error(e))?
        .collect::<Result<_, _>>()
        .map_err(|e| self.error(e))
    }

    /// Files quarantined, and files and directories that could not be
    /// read or were refused: (source, reason, detail), in source order.
    pub fn quarantined(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, reason, detail FROM files WHERE status IN ('quarantined', 'failed') ORDER BY source")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                ))
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Create the database file with mode 0600 before SQLite opens it (SQLite
/// gives its journal files the same permissions); an existing one that
/// others may read is narrowed to 0600, with a warning.
fn create_private(path: &Path) -> std::io::Result<()> {
    let file = private_options().open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [
            path.to_path_buf(),
            journal(path, "-wal"),
            journal(path, "-shm"),
        ] {
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "warning: {} could be read by others (mode {:o}); it is now owner-only (0600)",
                    p.display(),
                    meta.permissions().mode() & 0o777
                );
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    drop(file);
    Ok(())
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// `path` with `suffix` appended to its file name (SQLite's journals).
fn journal(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Lock `<store>.lock` for this process. A second process on the same
/// store says so and waits for the first to finish, instead of failing
/// mid-run on a busy database.
fn lock_exclusively(path: &Path) -> std::io::Result<std::fs::File> {
    let lock = private_options().open(journal(path, ".lock"))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock only reads the descriptor, which `lock` keeps open.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(e);
            }
            eprintln!(
                "another process is using the store {}; waiting for it to finish",
                path.display()
            );
            // SAFETY: as above.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(lock)
}

/// A constructor of store errors for `path`, usable while the connection is
/// borrowed mutably.
fn sql_error(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
    move |e| StoreError {
        path: path.to_path_buf(),
        message: e.to_string(),
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
    fn capture_each(ids: &[Identity], forget: bool) -> (Vec<CaptureOutcome>, Vec<Vec<String>>) {
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
        let mut tables = Vec::new();
        for sql in [
            "SELECT patient_id || ' ' || anon_patient_id FROM patients ORDER BY 1",
            "SELECT study_uid || ' ' || anon_study_uid || ' ' || date_offset FROM studies ORDER BY 1",
            "SELECT series_uid || ' ' || study_uid FROM series ORDER BY 1",
            "SELECT sop_instance_uid || ' ' || series_uid || ' ' || source FROM instances ORDER BY 1",
            "SELECT phi_uid || ' ' || anon_uid FROM uids ORDER BY 1",
        ] {
            let mut stmt = store.conn.prepare(sql).unwrap();
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
            tables.push(rows.collect::<Result<Vec<_>, _>>().unwrap());
        }
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
