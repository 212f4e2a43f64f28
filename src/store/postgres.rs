//! The PostgreSQL backend: one database that workers on many machines
//! share (`--store postgres://USER@HOST:PORT/DB`).
//!
//! What must agree across workers is decided in the database:
//! - Capture runs under one transaction-scoped advisory lock
//!   ([`CAPTURE_LOCK`], exclusive), so two workers never number the same
//!   patient twice, and patient numbers are 1..N without gaps in the order
//!   their first capture committed. Recording a chunk's outcomes takes the
//!   same lock shared: records of several workers go on together.
//! - `@integer` numbers are given one at a time under [`INTEGER_LOCK`].
//! - UIDs, accession numbers and date offsets are computed from the pinned
//!   site ID and UID root, so every worker computes the same ones.
//!
//! A dropped connection, a deadlock or a serialization failure is retried
//! with backoff (each operation is one transaction, and every one is safe
//! to run again) for at most `DICOM_ANONYMIZER_PG_RETRY_SECONDS` (default
//! 60); then the operation fails with the last error.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, NoTls, Transaction};

use super::FileRecord;
use super::backend::{Backend, BackendResult, CountBy, SCHEMA_VERSION, newer_schema};
use super::capture::{self, CaptureContext, CaptureOutcome, Identity, Memo};
use super::export::{Mapping, PatientRow, SeriesRow, StudyRow, UidRow};
use super::overlay::{Added, Overlay, Snapshot};
use super::pg_connect::Target;
use crate::functions::rsna::lookup::LookupTable;

/// Advisory lock keys (arbitrary, fixed: every worker must use the same).
const SCHEMA_LOCK: i64 = 0x6463_6d61_6e6f_6e01;
const CAPTURE_LOCK: i64 = 0x6463_6d61_6e6f_6e02;
const INTEGER_LOCK: i64 = 0x6463_6d61_6e6f_6e03;

/// How long a failing connection is retried, unless the environment says.
const DEFAULT_RETRY: Duration = Duration::from_secs(60);

pub struct PgBackend {
    target: Target,
    client: Client,
    retry_for: Duration,
}

fn retry_budget() -> Duration {
    std::env::var("DICOM_ANONYMIZER_PG_RETRY_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_RETRY)
}

/// Whether trying again may succeed: the connection is gone, or the server
/// chose this transaction to abort (deadlock, serialization, shutdown).
fn transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
                || code.code().starts_with("08")
                || code.code().starts_with("57P")
        }
        None => unreachable(e),
    }
}

/// Whether the socket, not the server, failed (refused, reset, timed out).
fn unreachable(e: &postgres::Error) -> bool {
    e.is_closed()
        || std::error::Error::source(e)
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
}

fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn connect(target: &Target) -> Result<Client, postgres::Error> {
    target.config.connect(NoTls)
}

impl PgBackend {
    /// Connect (retrying while the server is unreachable), create the
    /// tables if the database has none, and check the schema version.
    pub fn open(target: Target) -> BackendResult<PgBackend> {
        let retry_for = retry_budget();
        let client = connect_retrying(&target, retry_for)?;
        let mut backend = PgBackend {
            target,
            client,
            retry_for,
        };
        backend.retrying(|client| {
            // One worker creates the tables while the others wait.
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
            )?;
            let found: Option<i64> = tx
                .query_one("SELECT MAX(version) FROM schema_version", &[])?
                .get(0);
            if let Some(found) = found
                && found > SCHEMA_VERSION
            {
                tx.rollback()?;
                return Ok(Err(newer_schema(found)));
            }
            tx.batch_execute(include_str!("schema_postgres.sql"))?;
            if found != Some(SCHEMA_VERSION) {
                tx.execute("DELETE FROM schema_version", &[])?;
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&SCHEMA_VERSION],
                )?;
            }
            tx.commit().map(Ok)
        })??;
        Ok(backend)
    }

    /// Run `op` (one transaction, or one statement); when it fails in a
    /// way that may pass, reconnect if needed and run it again, backing off,
    /// until the retry budget is spent.
    fn retrying<T>(
        &mut self,
        mut op: impl FnMut(&mut Client) -> Result<T, postgres::Error>,
    ) -> BackendResult<T> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let e = match op(&mut self.client) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !transient(&e) {
                return Err(describe(&e));
            }
            if start.elapsed() + pause > self.retry_for {
                return Err(format!(
                    "{}; gave up after retrying for {:.0} s (resume later by running the same command)",
                    describe(&e),
                    start.elapsed().as_secs_f64()
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(5));
            if self.client.is_closed() || e.code().is_none() {
                let left = self.retry_for.saturating_sub(start.elapsed());
                self.client = connect_retrying(&self.target, left)?;
            }
        }
    }

    /// The rows of a query without parameters.
    fn rows(&mut self, sql: &'static str) -> BackendResult<Vec<postgres::Row>> {
        self.retrying(|client| client.query(sql, &[]))
    }
}

fn connect_retrying(target: &Target, budget: Duration) -> BackendResult<Client> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match connect(target) {
            Ok(c) => return Ok(c),
            Err(e) if !unreachable(&e) => {
                // The server answered and refused (login, password,
                // database): no retry can mend that.
                return Err(format!("cannot connect: {}", describe(&e)));
            }
            Err(e) => {
                if start.elapsed() + pause > budget {
                    return Err(format!(
                        "cannot connect: {}; gave up after {:.0} s",
                        describe(&e),
                        start.elapsed().as_secs_f64()
                    ));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

impl Backend for PgBackend {
    fn setting(&mut self, key: &str) -> BackendResult<Option<String>> {
        self.retrying(|client| {
            client
                .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
                .map(|r| r.map(|r| r.get(0)))
        })
    }

    fn claim_setting(&mut self, key: &str, value: &str) -> BackendResult<String> {
        self.retrying(|client| {
            client.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &value],
            )?;
            client
                .query_one("SELECT value FROM settings WHERE key = $1", &[&key])
                .map(|r| r.get(0))
        })
    }

    fn ensure_default_patient(&mut self, anon_patient_id: &str) -> BackendResult<()> {
        self.retrying(|client| {
            client
                .execute(
                    "INSERT INTO patients (patient_id, anon_patient_id, patient_index) VALUES ('', $1, 0) ON CONFLICT DO NOTHING",
                    &[&anon_patient_id],
                )
                .map(|_| ())
        })
    }

    fn replace_lookup(&mut self, table: &LookupTable) -> BackendResult<()> {
        let mut ids = Vec::new();
        let mut anons = Vec::new();
        let mut offsets = Vec::new();
        for (id, p) in table {
            ids.push(id.clone());
            anons.push(p.anon_patient_id.clone());
            offsets.push(p.date_offset);
        }
        self.retrying(|client| {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CAPTURE_LOCK])?;
            tx.execute("DELETE FROM lookup_patients", &[])?;
            tx.execute(
                "INSERT INTO lookup_patients (patient_id, anon_patient_id, date_offset)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])",
                &[&ids, &anons, &offsets],
            )?;
            tx.commit()
        })
    }

    fn done_files(&mut self) -> BackendResult<HashMap<String, String>> {
        let rows = self.rows("SELECT source, output FROM files WHERE status = 'done'")?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    r.get::<_, Option<String>>(1).unwrap_or_default(),
                )
            })
            .collect())
    }

    fn output_of(&mut self, source: &str) -> BackendResult<Option<String>> {
        self.retrying(|client| {
            client
                .query_opt(
                    "SELECT output FROM files WHERE source = $1 AND status = 'done'",
                    &[&source],
                )
                .map(|row| row.and_then(|r| r.get::<_, Option<String>>(0)))
        })
    }

    fn capture_all(
        &mut self,
        ids: &[Identity],
        ctx: &CaptureContext,
        memo: &mut Memo,
    ) -> BackendResult<Vec<CaptureOutcome>> {
        let seen: &Memo = memo;
        let outcomes = self.retrying(|client| {
            let mut tx = client.transaction()?;
            // From here to the commit no other worker captures, so the rows
            // read now stay true while the chunk is captured against them.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CAPTURE_LOCK])?;
            let mut overlay = Overlay::new(snapshot(&mut tx, ids)?);
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let outcome = match capture::capture(&mut overlay, id, ctx, seen) {
                    Ok(o) => o,
                    Err(never) => match never {},
                };
                if matches!(outcome, CaptureOutcome::Subject(_)) {
                    overlay.keep();
                } else {
                    overlay.discard();
                }
                out.push(outcome);
            }
            write_added(&mut tx, &overlay.added())?;
            tx.commit()?;
            Ok(out)
        })?;
        // Remembered only once committed: an attempt that was retried left
        // nothing behind.
        for (id, outcome) in ids.iter().zip(&outcomes) {
            if let CaptureOutcome::Subject(subject) = outcome {
                capture::remember(memo, id, subject);
            }
        }
        Ok(outcomes)
    }

    fn record(
        &mut self,
        records: &[FileRecord],
        uids: &[(String, String)],
        integers: &[(String, String, u64)],
        now: &str,
        worker: &str,
    ) -> BackendResult<()> {
        // The last record of a source wins, as INSERT OR REPLACE does.
        let mut last: HashMap<&str, &FileRecord> = HashMap::new();
        let mut order = Vec::new();
        for r in records {
            if last.insert(&r.source, r).is_none() {
                order.push(r.source.as_str());
            }
        }
        let (mut sources, mut statuses, mut outputs, mut reasons, mut details) =
            (vec![], vec![], vec![], vec![], vec![]);
        for source in order {
            let r = last[source];
            sources.push(r.source.clone());
            statuses.push(r.status.as_str().to_string());
            outputs.push(r.output.clone());
            reasons.push(r.reason.clone());
            details.push(r.detail.clone());
        }
        let (forget_sop, forget_source): (Vec<String>, Vec<String>) = records
            .iter()
            .filter_map(|r| Some((r.forget_instance.clone()?, r.source.clone())))
            .unzip();
        let (phi, anon): (Vec<String>, Vec<String>) = uids.iter().cloned().unzip();
        let mut key_types = Vec::new();
        let mut texts = Vec::new();
        let mut values = Vec::new();
        for (k, t, v) in integers {
            key_types.push(k.clone());
            texts.push(t.clone());
            values.push(*v as i64);
        }
        self.retrying(|client| {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&CAPTURE_LOCK])?;
            if !sources.is_empty() {
                tx.execute(
                    "INSERT INTO files (source, status, output, reason, detail, processed_at, worker)
                     SELECT s, st, o, r, d, $6, $7 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS x(s, st, o, r, d)
                     ON CONFLICT (source) DO UPDATE SET status = EXCLUDED.status, output = EXCLUDED.output,
                         reason = EXCLUDED.reason, detail = EXCLUDED.detail, processed_at = EXCLUDED.processed_at,
                         worker = EXCLUDED.worker,
                         seq = nextval(pg_get_serial_sequence('files', 'seq'))",
                    &[&sources, &statuses, &outputs, &reasons, &details, &now, &worker],
                )?;
            }
            if !forget_sop.is_empty() {
                tx.execute(
                    "DELETE FROM instances i USING UNNEST($1::text[], $2::text[]) AS x(sop, source)
                     WHERE i.sop_instance_uid = x.sop AND i.source = x.source",
                    &[&forget_sop, &forget_source],
                )?;
            }
            if !phi.is_empty() {
                tx.execute(
                    "INSERT INTO uids (phi_uid, anon_uid) SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                    &[&phi, &anon],
                )?;
            }
            if !key_types.is_empty() {
                tx.execute(
                    "INSERT INTO ctp_integers (key_type, text, value)
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING",
                    &[&key_types, &texts, &values],
                )?;
            }
            tx.commit()
        })
    }

    fn integers(&mut self) -> BackendResult<Vec<(String, String, u64)>> {
        let rows = self.rows("SELECT key_type, text, value FROM ctp_integers")?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2) as u64))
            .collect())
    }

    fn integer(&mut self, key_type: &str, text: &str) -> BackendResult<u64> {
        let value: i64 = self.retrying(|client| {
            let mut tx = client.transaction()?;
            if let Some(row) = tx.query_opt(
                "SELECT value FROM ctp_integers WHERE key_type = $1 AND text = $2",
                &[&key_type, &text],
            )? {
                tx.commit()?;
                return Ok(row.get(0));
            }
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INTEGER_LOCK])?;
            tx.execute(
                "INSERT INTO ctp_integers (key_type, text, value)
                 SELECT $1, $2, COALESCE(MAX(value), 0) + 1 FROM ctp_integers WHERE key_type = $1
                 ON CONFLICT (key_type, text) DO NOTHING",
                &[&key_type, &text],
            )?;
            let row = tx.query_one(
                "SELECT value FROM ctp_integers WHERE key_type = $1 AND text = $2",
                &[&key_type, &text],
            )?;
            tx.commit()?;
            Ok(row.get(0))
        })?;
        Ok(value as u64)
    }

    fn quarantined(&mut self) -> BackendResult<Vec<(String, String, String)>> {
        let rows = self.rows(
            "SELECT source, reason, detail FROM files WHERE status IN ('quarantined', 'failed') ORDER BY source COLLATE \"C\"",
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get::<_, Option<String>>(1).unwrap_or_default(),
                    r.get::<_, Option<String>>(2).unwrap_or_default(),
                )
            })
            .collect())
    }

    fn sent_to(&mut self, destination: &str) -> BackendResult<Vec<String>> {
        self.retrying(|client| {
            client
                .query(
                    "SELECT output FROM sent WHERE destination = $1",
                    &[&destination],
                )
                .map(|rows| rows.into_iter().map(|r| r.get(0)).collect())
        })
    }

    fn record_sent(
        &mut self,
        output: &str,
        destination: &str,
        status: u16,
        at: &str,
    ) -> BackendResult<()> {
        let status = i32::from(status);
        self.retrying(|client| {
            client
                .execute(
                    "INSERT INTO sent (output, destination, status, sent_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (output, destination) DO UPDATE SET status = $3, sent_at = $4",
                    &[&output, &destination, &status, &at],
                )
                .map(|_| ())
        })
    }

    fn unsent_outputs(
        &mut self,
        destination: &str,
        after: i64,
    ) -> BackendResult<Vec<(i64, String)>> {
        self.retrying(|client| {
            client
                .query(
                    "SELECT f.seq, f.output FROM files f
                     WHERE f.seq > $2 AND f.status = 'done' AND f.output IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM sent s
                                       WHERE s.output = f.output AND s.destination = $1)
                     ORDER BY f.seq",
                    &[&destination, &after],
                )
                .map(|rows| rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn instance_counts(&mut self, by: CountBy) -> BackendResult<HashMap<String, usize>> {
        let sql = match by {
            CountBy::Study => {
                "SELECT s.study_uid, COUNT(*) FROM instances i
                 JOIN series s ON s.series_uid = i.series_uid GROUP BY s.study_uid"
            }
            CountBy::Series => "SELECT series_uid, COUNT(*) FROM instances GROUP BY series_uid",
        };
        Ok(self
            .rows(sql)?
            .into_iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as usize))
            .collect())
    }

    fn mapping(&mut self) -> BackendResult<Mapping> {
        Ok(Mapping {
            patients: self
                .rows(PATIENTS_SQL_C)?
                .into_iter()
                .map(|r| PatientRow {
                    patient_id: r.get(0),
                    anon_patient_id: r.get(1),
                    date_offset: r.get(2),
                })
                .collect(),
            studies: self
                .rows(STUDIES_SQL_C)?
                .into_iter()
                .map(|r| StudyRow {
                    patient_id: r.get(0),
                    anon_patient_id: r.get(1),
                    study_uid: r.get(2),
                    anon_study_uid: r.get(3),
                    study_date: r.get(4),
                    date_offset: r.get(5),
                    accession_number: r.get(6),
                    anon_accession_number: r.get(7),
                })
                .collect(),
            series: self
                .rows(SERIES_SQL_C)?
                .into_iter()
                .map(|r| SeriesRow {
                    series_uid: r.get(0),
                    anon_series_uid: r.get(1),
                    study_uid: r.get(2),
                })
                .collect(),
            uids: self
                .rows(UIDS_SQL_C)?
                .into_iter()
                .map(|r| UidRow {
                    phi_uid: r.get(0),
                    anon_uid: r.get(1),
                })
                .collect(),
        })
    }
}

// The export queries (`export::STUDIES_SQL` and the rest) ordered
// byte-wise, as SQLite orders text, whatever the database's collation.
const PATIENTS_SQL_C: &str = "SELECT patient_id, anon_patient_id, date_offset FROM patients ORDER BY anon_patient_id COLLATE \"C\"";
const STUDIES_SQL_C: &str = "SELECT p.patient_id, p.anon_patient_id, s.study_uid, s.anon_study_uid, s.study_date, s.date_offset, s.accession_number, s.anon_accession_number
     FROM studies s JOIN patients p ON p.patient_id = s.patient_id
     ORDER BY p.anon_patient_id COLLATE \"C\", s.study_uid COLLATE \"C\"";
const SERIES_SQL_C: &str = "SELECT series_uid, anon_series_uid, study_uid FROM series ORDER BY study_uid COLLATE \"C\", series_uid COLLATE \"C\"";
const UIDS_SQL_C: &str = "SELECT phi_uid, anon_uid FROM uids ORDER BY phi_uid COLLATE \"C\"";

/// Every row the capture of `ids` may read, in one query per table.
fn snapshot(tx: &mut Transaction<'_>, ids: &[Identity]) -> Result<Snapshot, postgres::Error> {
    let column = |f: &dyn Fn(&Identity) -> String| -> Vec<String> { ids.iter().map(f).collect() };
    let sops = column(&|i| i.sop_instance_uid.clone());
    let ptids = column(&|i| i.patient_id.as_deref().unwrap_or("").trim().to_string());
    let studies = column(&|i| i.study_uid.clone());
    let series = column(&|i| i.series_uid.clone());
    let mut snap = Snapshot::default();
    for r in tx.query(
        "SELECT sop_instance_uid, source, series_uid FROM instances WHERE sop_instance_uid = ANY($1)",
        &[&sops],
    )? {
        snap.instances.insert(r.get(0), (r.get(1), r.get(2)));
    }
    for r in tx.query(
        "SELECT patient_id, anon_patient_id, date_offset FROM patients WHERE patient_id = ANY($1)",
        &[&ptids],
    )? {
        snap.patients.insert(r.get(0), (r.get(1), r.get(2)));
    }
    for r in tx.query(
        "SELECT patient_id, anon_patient_id, date_offset FROM lookup_patients WHERE patient_id = ANY($1)",
        &[&ptids],
    )? {
        snap.lookup.insert(r.get(0), (r.get(1), r.get(2)));
    }
    for r in tx.query(
        "SELECT study_uid, patient_id, anon_accession_number, date_offset FROM studies WHERE study_uid = ANY($1)",
        &[&studies],
    )? {
        snap.studies.insert(r.get(0), (r.get(1), r.get(2), r.get(3)));
    }
    for r in tx.query(
        "SELECT series_uid, study_uid FROM series WHERE series_uid = ANY($1)",
        &[&series],
    )? {
        snap.series.insert(r.get(0), r.get(1));
    }
    snap.last_patient_index = tx
        .query_one("SELECT MAX(patient_index) FROM patients", &[])?
        .get(0);
    Ok(snap)
}

/// Write what a chunk's capture added, one statement per table, parents
/// before children.
fn write_added(tx: &mut Transaction<'_>, added: &Added) -> Result<(), postgres::Error> {
    if !added.patients.is_empty() {
        let (mut ids, mut anons, mut indexes, mut offsets) = (vec![], vec![], vec![], vec![]);
        for (id, anon, index, offset) in &added.patients {
            ids.push(id);
            anons.push(anon);
            indexes.push(*index);
            offsets.push(*offset);
        }
        tx.execute(
            "INSERT INTO patients (patient_id, anon_patient_id, patient_index, date_offset)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[])",
            &[&ids, &anons, &indexes, &offsets],
        )?;
    }
    if !added.studies.is_empty() {
        let s = &added.studies;
        let uids: Vec<&str> = s.iter().map(|r| r.study_uid.as_str()).collect();
        let anons: Vec<&str> = s.iter().map(|r| r.anon_study_uid.as_str()).collect();
        let patients: Vec<&str> = s.iter().map(|r| r.patient_id.as_str()).collect();
        let dates: Vec<&str> = s.iter().map(|r| r.study_date.as_str()).collect();
        let accessions: Vec<Option<&str>> =
            s.iter().map(|r| r.accession_number.as_deref()).collect();
        let anon_accessions: Vec<Option<&str>> = s
            .iter()
            .map(|r| r.anon_accession_number.as_deref())
            .collect();
        let offsets: Vec<i64> = s.iter().map(|r| r.date_offset).collect();
        tx.execute(
            "INSERT INTO studies (study_uid, anon_study_uid, patient_id, study_date, accession_number, anon_accession_number, date_offset)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])",
            &[&uids, &anons, &patients, &dates, &accessions, &anon_accessions, &offsets],
        )?;
    }
    if !added.series.is_empty() {
        let uids: Vec<&str> = added.series.iter().map(|r| r.0.as_str()).collect();
        let anons: Vec<&str> = added.series.iter().map(|r| r.1.as_str()).collect();
        let studies: Vec<&str> = added.series.iter().map(|r| r.2.as_str()).collect();
        tx.execute(
            "INSERT INTO series (series_uid, anon_series_uid, study_uid)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
            &[&uids, &anons, &studies],
        )?;
    }
    if !added.instances.is_empty() {
        let i = &added.instances;
        let sops: Vec<&str> = i.iter().map(|r| r.0.as_str()).collect();
        let anons: Vec<&str> = i.iter().map(|r| r.1.as_str()).collect();
        let series: Vec<&str> = i.iter().map(|r| r.2.as_str()).collect();
        let sources: Vec<&str> = i.iter().map(|r| r.3.as_str()).collect();
        tx.execute(
            "INSERT INTO instances (sop_instance_uid, anon_sop_instance_uid, series_uid, source)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])",
            &[&sops, &anons, &series, &sources],
        )?;
    }
    if !added.uids.is_empty() {
        let phi: Vec<&str> = added.uids.iter().map(|r| r.0.as_str()).collect();
        let anon: Vec<&str> = added.uids.iter().map(|r| r.1.as_str()).collect();
        tx.execute(
            "INSERT INTO uids (phi_uid, anon_uid) SELECT * FROM UNNEST($1::text[], $2::text[])
             ON CONFLICT DO NOTHING",
            &[&phi, &anon],
        )?;
    }
    Ok(())
}
