//! The SQLite backend: one database file for a run on one machine.
//!
//! The database is created with owner-only permissions (it holds PHI),
//! written in WAL mode, and locked (`<store>.lock`) by the process that
//! uses it: a second process waits for the first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::FileRecord;
use super::backend::{Backend, BackendResult, CountBy, SCHEMA_VERSION, newer_schema};
use super::capture::{self, CaptureContext, CaptureDb, CaptureOutcome, Identity, Memo, NewStudy};
use super::export::{self, Mapping, PatientRow, SeriesRow, StudyRow, UidRow};
use crate::functions::rsna::lookup::LookupTable;

pub struct SqliteBackend {
    conn: Connection,
    /// Held while the store is open: one process at a time uses a store.
    _lock: std::fs::File,
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl SqliteBackend {
    /// Open (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> BackendResult<SqliteBackend> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            // A directory made for the store is owner-only (an existing
            // one, which the user chose, is left as it is).
            crate::dicom_file::create_private_dir(dir).map_err(text)?;
        }
        let lock = lock_exclusively(path).map_err(|e| format!("cannot lock: {e}"))?;
        create_private(path).map_err(|e| format!("cannot create: {e}"))?;
        let conn = Connection::open(path).map_err(text)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
        )
        .and_then(|_| conn.execute_batch(include_str!("schema.sql")))
        .map_err(text)?;
        check_schema_version(&conn)?;
        Ok(SqliteBackend { conn, _lock: lock })
    }

    fn try_capture_all(
        &mut self,
        ids: &[Identity],
        ctx: &CaptureContext,
        memo: &mut Memo,
    ) -> rusqlite::Result<Vec<CaptureOutcome>> {
        let mut tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let sp = tx.savepoint()?;
            let outcome = capture::capture(&mut Sql(&sp), id, ctx, memo)?;
            if let CaptureOutcome::Subject(subject) = &outcome {
                sp.commit()?;
                capture::remember(memo, id, subject);
            } else {
                drop(sp); // rolled back
            }
            out.push(outcome);
        }
        tx.commit()?;
        Ok(out)
    }

    fn try_record(
        &mut self,
        records: &[FileRecord],
        uids: &[(String, String)],
        integers: &[(String, String, u64)],
        now: &str,
        worker: &str,
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut put_file = tx.prepare_cached(
                "INSERT OR REPLACE INTO files (source, status, output, reason, detail, processed_at, worker) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut forget = tx.prepare_cached(
                "DELETE FROM instances WHERE sop_instance_uid = ?1 AND source = ?2",
            )?;
            for r in records {
                put_file.execute(params![
                    r.source,
                    r.status.as_str(),
                    r.output,
                    r.reason,
                    r.detail,
                    now,
                    worker
                ])?;
                if let Some(sop) = &r.forget_instance {
                    forget.execute(params![sop, r.source])?;
                }
            }
            let mut put_uid = tx
                .prepare_cached("INSERT OR IGNORE INTO uids (phi_uid, anon_uid) VALUES (?1, ?2)")?;
            for (phi, anon) in uids {
                put_uid.execute(params![phi, anon])?;
            }
            let mut put_integer = tx.prepare_cached(
                "INSERT OR IGNORE INTO ctp_integers (key_type, text, value) VALUES (?1, ?2, ?3)",
            )?;
            for (key_type, text, value) in integers {
                put_integer.execute(params![key_type, text, *value as i64])?;
            }
        }
        tx.commit()
    }

    /// The rows of `sql` (no parameters), each read by `row`.
    fn rows<T>(
        &self,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> BackendResult<Vec<T>> {
        let mut stmt = self.conn.prepare(sql).map_err(text)?;
        let rows = stmt.query_map([], row).map_err(text)?;
        rows.collect::<Result<_, _>>().map_err(text)
    }
}

/// Refuse a store made by a newer build; bring an older one to this
/// build's schema (each step can run again), and record the version.
fn check_schema_version(conn: &Connection) -> BackendResult<()> {
    let found: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .map_err(text)?;
    if let Some(found) = found
        && found > SCHEMA_VERSION
    {
        return Err(newer_schema(found));
    }
    // 2: who recorded each file.
    let has_worker: bool = conn
        .query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('files') WHERE name = 'worker'",
            [],
            |r| r.get(0),
        )
        .map_err(text)?;
    if !has_worker {
        conn.execute("ALTER TABLE files ADD COLUMN worker TEXT", [])
            .map_err(text)?;
    }
    if found != Some(SCHEMA_VERSION) {
        conn.execute_batch(&format!(
            "BEGIN; DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION}); COMMIT;"
        ))
        .map_err(text)?;
    }
    Ok(())
}

impl Backend for SqliteBackend {
    fn setting(&mut self, key: &str) -> BackendResult<Option<String>> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(text)
    }

    fn claim_setting(&mut self, key: &str, value: &str) -> BackendResult<String> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map_err(text)?;
        Ok(self.setting(key)?.unwrap_or_default())
    }

    fn ensure_default_patient(&mut self, anon_patient_id: &str) -> BackendResult<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO patients (patient_id, anon_patient_id, patient_index) VALUES ('', ?1, 0)",
                [anon_patient_id],
            )
            .map(|_| ())
            .map_err(text)
    }

    fn replace_lookup(&mut self, table: &LookupTable) -> BackendResult<()> {
        let tx = self.conn.transaction().map_err(text)?;
        tx.execute("DELETE FROM lookup_patients", [])
            .map_err(text)?;
        for (id, p) in table {
            tx.execute(
                "INSERT INTO lookup_patients (patient_id, anon_patient_id, date_offset) VALUES (?1, ?2, ?3)",
                params![id, p.anon_patient_id, p.date_offset],
            )
            .map_err(text)?;
        }
        tx.commit().map_err(text)
    }

    fn done_files(&mut self) -> BackendResult<HashMap<String, String>> {
        let rows = self.rows(
            "SELECT source, output FROM files WHERE status = 'done'",
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
        )?;
        Ok(rows
            .into_iter()
            .map(|(s, o)| (s, o.unwrap_or_default()))
            .collect())
    }

    fn output_of(&mut self, source: &str) -> BackendResult<Option<String>> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row(
                "SELECT output FROM files WHERE source = ?1 AND status = 'done'",
                [source],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(text)
    }

    fn capture_all(
        &mut self,
        ids: &[Identity],
        ctx: &CaptureContext,
        memo: &mut Memo,
    ) -> BackendResult<Vec<CaptureOutcome>> {
        self.try_capture_all(ids, ctx, memo).map_err(text)
    }

    fn record(
        &mut self,
        records: &[FileRecord],
        uids: &[(String, String)],
        integers: &[(String, String, u64)],
        now: &str,
        worker: &str,
    ) -> BackendResult<()> {
        self.try_record(records, uids, integers, now, worker)
            .map_err(text)
    }

    fn integers(&mut self) -> BackendResult<Vec<(String, String, u64)>> {
        self.rows("SELECT key_type, text, value FROM ctp_integers", |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })
    }

    fn integer(&mut self, key_type: &str, text_value: &str) -> BackendResult<u64> {
        let tx = self.conn.transaction().map_err(text)?;
        tx.execute(
            "INSERT OR IGNORE INTO ctp_integers (key_type, text, value)
             SELECT ?1, ?2, COALESCE(MAX(value), 0) + 1 FROM ctp_integers WHERE key_type = ?1",
            params![key_type, text_value],
        )
        .map_err(text)?;
        let value: i64 = tx
            .query_row(
                "SELECT value FROM ctp_integers WHERE key_type = ?1 AND text = ?2",
                params![key_type, text_value],
                |r| r.get(0),
            )
            .map_err(text)?;
        tx.commit().map_err(text)?;
        Ok(value as u64)
    }

    fn quarantined(&mut self) -> BackendResult<Vec<(String, String, String)>> {
        self.rows(
            "SELECT source, reason, detail FROM files WHERE status IN ('quarantined', 'failed') ORDER BY source",
            |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                ))
            },
        )
    }

    fn sent_to(&mut self, destination: &str) -> BackendResult<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT output FROM sent WHERE destination = ?1")
            .map_err(text)?;
        let rows = stmt
            .query_map([destination], |r| r.get::<_, String>(0))
            .map_err(text)?;
        rows.collect::<Result<_, _>>().map_err(text)
    }

    fn record_sent(
        &mut self,
        output: &str,
        destination: &str,
        status: u16,
        at: &str,
    ) -> BackendResult<()> {
        self.conn
            .execute(
                "INSERT INTO sent (output, destination, status, sent_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (output, destination) DO UPDATE SET status = ?3, sent_at = ?4",
                params![output, destination, status, at],
            )
            .map(|_| ())
            .map_err(text)
    }

    fn unsent_outputs(
        &mut self,
        destination: &str,
        after: i64,
    ) -> BackendResult<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.rowid, f.output FROM files f
                 WHERE f.rowid > ?2 AND f.status = 'done' AND f.output IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM sent s
                                   WHERE s.output = f.output AND s.destination = ?1)
                 ORDER BY f.rowid",
            )
            .map_err(text)?;
        let rows = stmt
            .query_map(params![destination, after], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(text)?;
        rows.collect::<Result<_, _>>().map_err(text)
    }

    fn instance_counts(&mut self, by: CountBy) -> BackendResult<HashMap<String, usize>> {
        let sql = match by {
            CountBy::Study => {
                "SELECT s.study_uid, COUNT(*) FROM instances i
                 JOIN series s ON s.series_uid = i.series_uid GROUP BY s.study_uid"
            }
            CountBy::Series => "SELECT series_uid, COUNT(*) FROM instances GROUP BY series_uid",
        };
        let rows = self.rows(sql, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
        })?;
        Ok(rows.into_iter().collect())
    }

    fn mapping(&mut self) -> BackendResult<Mapping> {
        Ok(Mapping {
            patients: self.rows(export::PATIENTS_SQL, |r| {
                Ok(PatientRow {
                    patient_id: r.get(0)?,
                    anon_patient_id: r.get(1)?,
                    date_offset: r.get(2)?,
                })
            })?,
            studies: self.rows(export::STUDIES_SQL, |r| {
                Ok(StudyRow {
                    patient_id: r.get(0)?,
                    anon_patient_id: r.get(1)?,
                    study_uid: r.get(2)?,
                    anon_study_uid: r.get(3)?,
                    study_date: r.get(4)?,
                    date_offset: r.get(5)?,
                    accession_number: r.get(6)?,
                    anon_accession_number: r.get(7)?,
                })
            })?,
            series: self.rows(export::SERIES_SQL, |r| {
                Ok(SeriesRow {
                    series_uid: r.get(0)?,
                    anon_series_uid: r.get(1)?,
                    study_uid: r.get(2)?,
                })
            })?,
            uids: self.rows(export::UIDS_SQL, |r| {
                Ok(UidRow {
                    phi_uid: r.get(0)?,
                    anon_uid: r.get(1)?,
                })
            })?,
        })
    }
}

/// Capture's statements on a SQLite connection (or savepoint).
struct Sql<'a>(&'a Connection);

impl CaptureDb for Sql<'_> {
    type Error = rusqlite::Error;

    fn instance(&mut self, sop: &str) -> rusqlite::Result<Option<(String, String)>> {
        self.0
            .prepare_cached("SELECT source, series_uid FROM instances WHERE sop_instance_uid = ?1")?
            .query_row([sop], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }

    fn patient(&mut self, ptid: &str) -> rusqlite::Result<Option<(String, Option<i64>)>> {
        self.0
            .prepare_cached(
                "SELECT anon_patient_id, date_offset FROM patients WHERE patient_id = ?1",
            )?
            .query_row([ptid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }

    fn lookup_patient(&mut self, ptid: &str) -> rusqlite::Result<Option<(String, Option<i64>)>> {
        self.0
            .prepare_cached(
                "SELECT anon_patient_id, date_offset FROM lookup_patients WHERE patient_id = ?1",
            )?
            .query_row([ptid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }

    fn last_patient_index(&mut self) -> rusqlite::Result<Option<i64>> {
        self.0
            .prepare_cached("SELECT MAX(patient_index) FROM patients")?
            .query_row([], |r| r.get(0))
    }

    fn insert_patient(
        &mut self,
        ptid: &str,
        anon: &str,
        index: Option<i64>,
        offset: Option<i64>,
    ) -> rusqlite::Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO patients (patient_id, anon_patient_id, patient_index, date_offset) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![ptid, anon, index, offset])
            .map(|_| ())
    }

    fn study(&mut self, uid: &str) -> rusqlite::Result<Option<(String, Option<String>, i64)>> {
        self.0
            .prepare_cached(
                "SELECT patient_id, anon_accession_number, date_offset FROM studies WHERE study_uid = ?1",
            )?
            .query_row([uid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
    }

    fn insert_study(&mut self, s: &NewStudy<'_>) -> rusqlite::Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO studies (study_uid, anon_study_uid, patient_id, study_date, accession_number, anon_accession_number, date_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                s.study_uid,
                s.anon_study_uid,
                s.patient_id,
                s.study_date,
                s.accession_number,
                s.anon_accession_number,
                s.date_offset
            ])
            .map(|_| ())
    }

    fn series_study(&mut self, uid: &str) -> rusqlite::Result<Option<String>> {
        self.0
            .prepare_cached("SELECT study_uid FROM series WHERE series_uid = ?1")?
            .query_row([uid], |r| r.get(0))
            .optional()
    }

    fn insert_series(&mut self, uid: &str, anon: &str, study: &str) -> rusqlite::Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO series (series_uid, anon_series_uid, study_uid) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![uid, anon, study])
            .map(|_| ())
    }

    fn insert_instance(
        &mut self,
        sop: &str,
        anon: &str,
        series: &str,
        source: &str,
    ) -> rusqlite::Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO instances (sop_instance_uid, anon_sop_instance_uid, series_uid, source) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![sop, anon, series, source])
            .map(|_| ())
    }

    fn put_uid(&mut self, phi: &str, anon: &str) -> rusqlite::Result<()> {
        self.0
            .prepare_cached("INSERT OR IGNORE INTO uids (phi_uid, anon_uid) VALUES (?1, ?2)")?
            .execute(params![phi, anon])
            .map(|_| ())
    }
}

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
