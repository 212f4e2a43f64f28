//! The PostgreSQL store against a real server: it does what the SQLite
//! store does, operation for operation; workers capturing at once never
//! give one patient two IDs; a dropped connection is mended; a store of a
//! newer schema is refused.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use dicom_anonymizer::functions::rsna::lookup::parse_table;
use dicom_anonymizer::functions::rsna::uid::UidGenerator;
use dicom_anonymizer::store::{
    CaptureContext, CaptureOutcome, ExportFormat, FileRecord, FileStatus, Identity, Store, export,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use common::postgres::Postgres;

fn ctx(lookup_required: bool) -> CaptureContext {
    CaptureContext {
        site_id: "77".into(),
        uids: UidGenerator::new("1.2.826.0.1.3680043.10.474", "77").unwrap(),
        accession_salt: "salt".into(),
        lookup_required,
        rsna_exact: false,
    }
}

fn id(source: &str, patient: Option<&str>, study: &str, series: &str, sop: &str) -> Identity {
    Identity {
        source: source.into(),
        patient_id: patient.map(String::from),
        study_date: Some("20240102".into()),
        study_uid: study.into(),
        series_uid: series.into(),
        sop_instance_uid: sop.into(),
        accession_number: Some(format!("ACC{study}")),
    }
}

fn record(
    source: &str,
    status: FileStatus,
    output: Option<&str>,
    forget: Option<&str>,
) -> FileRecord {
    FileRecord {
        source: source.into(),
        status,
        output: output.map(String::from),
        reason: (status != FileStatus::Done).then(|| "Some_Reason".into()),
        detail: None,
        forget_instance: forget.map(String::from),
    }
}

fn sorted<K: Ord, V>(m: HashMap<K, V>) -> BTreeMap<K, V> {
    m.into_iter().collect()
}

/// Every store operation the engine uses, in the order a run uses them,
/// with what each answered.
fn scenario(store: &mut Store) -> Vec<String> {
    let mut log = Vec::new();
    store
        .pin_settings(&[("site_id", "77"), ("uid_root", "1.2.3")])
        .unwrap();
    store.pin_settings(&[("site_id", "77")]).unwrap();
    let refused = store.pin_settings(&[("uid_root", "9.9")]).unwrap_err();
    log.push(refused.message);
    log.push(format!("{:?}", store.setting("site_id").unwrap()));
    log.push(format!("{:?}", store.setting("nothing").unwrap()));
    store.ensure_default_patient("77").unwrap();
    store.ensure_default_patient("77").unwrap();

    let ids = [
        id("a1", Some("P1"), "1.1", "1.1.1", "1.1.1.1"),
        id("a2", Some("P1"), "1.1", "1.1.1", "1.1.1.2"),
        id("b1", Some("P2"), "2.1", "2.1.1", "2.1.1.1"),
        // A study of P1 claimed by P2; a series moved to another study.
        id("x1", Some("P2"), "1.1", "1.1.9", "1.1.9.1"),
        id("x2", Some("P2"), "2.1", "1.1.1", "1.1.1.7"),
        // The same instance from another file.
        id("dup", Some("P1"), "1.1", "1.1.1", "1.1.1.1"),
        // No PatientID: the default patient.
        id("n1", None, "3.1", "3.1.1", "3.1.1.1"),
        id("c1", Some("P3"), "4.1", "4.1.1", "4.1.1.1"),
        id("a1", Some("P1"), "1.1", "1.1.1", "1.1.1.1"),
    ];
    for chunk in ids.chunks(4) {
        let outcomes = store.capture_all(chunk, &ctx(false)).unwrap();
        log.extend(outcomes.iter().map(|o| format!("{o:?}")));
    }
    store
        .record(
            &[
                record("a1", FileStatus::Done, Some("o/a1.dcm"), None),
                record("a2", FileStatus::Done, Some("o/a2.dcm"), None),
                record("b1", FileStatus::Failed, None, Some("2.1.1.1")),
                record("x1", FileStatus::Quarantined, None, None),
                record("x1", FileStatus::Quarantined, None, None),
                record("dup", FileStatus::Skipped, None, None),
            ],
            &[
                ("9.9.1".into(), "2.25.1".into()),
                ("9.9.2".into(), "2.25.2".into()),
                ("9.9.1".into(), "2.25.1".into()),
            ],
            &[
                ("ptid".into(), "A".into(), 1),
                ("ptid".into(), "B".into(), 2),
            ],
            "2026-11-29T00:00:00",
        )
        .unwrap();
    let done = sorted(store.done_files().unwrap());
    log.push(format!("{done:?}"));
    // One by one, the same; a file not done (or unknown) has none.
    for (source, output) in &done {
        assert_eq!(store.output_of(source).unwrap().as_ref(), Some(output));
    }
    log.push(format!(
        "{:?}",
        store.output_of("no/such/file.dcm").unwrap()
    ));
    for (source, _, _) in store.quarantined().unwrap() {
        assert_eq!(store.output_of(&source).unwrap(), None, "{source}");
    }
    log.push(format!("{:?}", store.quarantined().unwrap()));
    let mut integers = store.integers().unwrap();
    integers.sort();
    log.push(format!("{integers:?}"));
    log.push(format!("{}", store.integer("ptid", "C").unwrap()));
    log.push(format!("{}", store.integer("ptid", "A").unwrap()));
    log.push(format!("{}", store.integer("acc", "A").unwrap()));
    log.push(format!("{:?}", sorted(store.instances_by_study().unwrap())));
    log.push(format!(
        "{:?}",
        sorted(store.instances_by_series().unwrap())
    ));

    // The failed file's instance was forgotten: captured again.
    let again = store
        .capture_all(
            &[id("b1", Some("P2"), "2.1", "2.1.1", "2.1.1.1")],
            &ctx(false),
        )
        .unwrap();
    log.push(format!("{again:?}"));

    // The send queue.
    let owed: Vec<String> = store
        .unsent_outputs("D@h:1", 0)
        .unwrap()
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    log.push(format!("{owed:?}"));
    store.record_sent("o/a1.dcm", "D@h:1", 0, "now").unwrap();
    store
        .record_sent("o/a1.dcm", "D@h:1", 0xB000, "now")
        .unwrap();
    let rest = store.unsent_outputs("D@h:1", 0).unwrap();
    log.push(format!(
        "{:?}",
        rest.iter().map(|(_, o)| o).collect::<Vec<_>>()
    ));
    let cursor = rest[0].0;
    log.push(format!(
        "{}",
        store.unsent_outputs("D@h:1", cursor).unwrap().len()
    ));
    let mut sent: Vec<String> = store.sent_to("D@h:1").unwrap().into_iter().collect();
    sent.sort();
    log.push(format!("{sent:?}"));

    // The lookup table decides new patients' IDs.
    let table = parse_table("ptid/L1 = LOOKED-1\ndateoffset/L1 = -30\n").unwrap();
    store.replace_lookup(&table).unwrap();
    store.replace_lookup(&table).unwrap();
    let looked = store
        .capture_all(
            &[
                id("l1", Some("L1"), "5.1", "5.1.1", "5.1.1.1"),
                id("l2", Some("L2"), "6.1", "6.1.1", "6.1.1.1"),
            ],
            &ctx(true),
        )
        .unwrap();
    log.push(format!("{looked:?}"));

    for format in [ExportFormat::Csv, ExportFormat::Json] {
        let mut out = Vec::new();
        export(store, format, &mut out).unwrap();
        log.push(String::from_utf8(out).unwrap());
    }
    log
}

#[test]
fn the_postgres_store_answers_every_operation_as_the_sqlite_store_does() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&dir.path().join("store.sqlite")).unwrap();
    let expected = scenario(&mut sqlite);
    let mut postgres = Store::open(Path::new(&pg.database("same"))).unwrap();
    assert!(postgres.is_shared() && !sqlite.is_shared());
    let got = scenario(&mut postgres);
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "answer {i} differs");
    }
    // The scenario saw what it should: a refusal, both kinds of integrity
    // error, a duplicate, the lookup's ID and miss.
    let all = expected.join("\n");
    for wanted in [
        "this store was made with uid_root",
        "already belongs to another patient",
        "already belongs to another study",
        "Duplicate",
        "LOOKED-1",
        "LookupMiss",
        "77-000003",
    ] {
        assert!(all.contains(wanted), "{wanted} not in\n{all}");
    }
    // Opening again finds the same store.
    drop(postgres);
    let again = Store::open(Path::new(&pg.url("admin", "same"))).unwrap();
    assert_eq!(again.setting("site_id").unwrap().as_deref(), Some("77"));
}

#[test]
fn a_dropped_connection_is_mended_and_a_newer_schema_refused() {
    let pg = Postgres::start();
    let url = pg.database("mend");
    let mut store = Store::open(Path::new(&url)).unwrap();
    store.pin_settings(&[("site_id", "77")]).unwrap();
    let first = store
        .capture_all(
            &[id("a", Some("P1"), "1.1", "1.1.1", "1.1.1.1")],
            &ctx(false),
        )
        .unwrap();
    // The server ends every session of ours.
    let ended = pg.psql(
        "postgres",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'dicom-anonymizer'",
    );
    assert_eq!(ended, "1");
    let second = store
        .capture_all(
            &[id("b", Some("P1"), "1.1", "1.1.1", "1.1.1.2")],
            &ctx(false),
        )
        .unwrap();
    let (CaptureOutcome::Subject(a), CaptureOutcome::Subject(b)) = (&first[0], &second[0]) else {
        panic!("{first:?} {second:?}");
    };
    assert_eq!(a, b);

    pg.psql("mend", "INSERT INTO schema_version (version) VALUES (99)");
    let refused = Store::open(Path::new(&url)).err().expect("refused");
    assert!(
        refused.message.contains("schema version 99"),
        "{}",
        refused.message
    );
    assert!(refused.to_string().contains("postgres://admin@127.0.0.1"));

    // The SQLite store refuses the same way.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("INSERT INTO schema_version (version) VALUES (99)", [])
        .unwrap();
    drop(conn);
    let refused = Store::open(&path).err().expect("refused");
    assert!(refused.message.contains("schema version 99"));
}

/// A store of schema version 1 (no `files.worker`; a SQLite store from
/// before the version was recorded has no version at all) is brought to
/// version 2 when opened, keeping its rows.
#[test]
fn an_older_schema_is_migrated_when_opened() {
    fn use_it(store: &mut Store) {
        store
            .record(
                &[record("new", FileStatus::Done, Some("o/new.dcm"), None)],
                &[],
                &[],
                "now",
            )
            .unwrap();
        let done = store.done_files().unwrap();
        assert_eq!(done.len(), 2, "{done:?}");
    }
    let old = record("old", FileStatus::Done, Some("o/old.dcm"), None);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    let mut store = Store::open(&path).unwrap();
    store
        .record(std::slice::from_ref(&old), &[], &[], "then")
        .unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("ALTER TABLE files DROP COLUMN worker; DROP TABLE schema_version;")
        .unwrap();
    drop(conn);
    let mut store = Store::open(&path).unwrap();
    use_it(&mut store);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (version, worker): (i64, Option<String>) = conn
        .query_row(
            "SELECT (SELECT MAX(version) FROM schema_version), worker FROM files WHERE source = 'new'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(version, 2);
    assert!(worker.is_some_and(|w| w.contains(&format!("pid {}", std::process::id()))));

    let pg = Postgres::start();
    let url = pg.database("v1");
    let mut store = Store::open(Path::new(&url)).unwrap();
    store
        .record(std::slice::from_ref(&old), &[], &[], "then")
        .unwrap();
    drop(store);
    pg.psql(
        "v1",
        "ALTER TABLE files DROP COLUMN worker; UPDATE schema_version SET version = 1",
    );
    let mut store = Store::open(Path::new(&url)).unwrap();
    use_it(&mut store);
    assert_eq!(
        pg.psql(
            "v1",
            "SELECT (SELECT MAX(version) FROM schema_version), count(worker) FROM files"
        ),
        "2|1"
    );
}

/// Several workers capture the files of `plan` (worker, chunk of
/// identities) at once, each on its own connection.
fn capture_concurrently(url: &str, plan: Vec<Vec<Vec<Identity>>>) -> Vec<Vec<CaptureOutcome>> {
    let handles: Vec<_> = plan
        .into_iter()
        .map(|chunks| {
            let url = url.to_string();
            std::thread::spawn(move || {
                let mut store = Store::open(Path::new(&url)).unwrap();
                store.ensure_default_patient("77").unwrap();
                let mut out = Vec::new();
                for chunk in chunks {
                    out.extend(store.capture_all(&chunk, &ctx(false)).unwrap());
                }
                out
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Random files of a few patients, dealt to 4 workers in random chunks:
/// each patient gets one anonymized ID, the IDs are 1..N without a gap,
/// and every worker was told the same ID for the same patient.
#[test]
fn concurrent_captures_never_give_one_patient_two_ids() {
    let pg = Postgres::start();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 12,
        ..ProptestConfig::default()
    });
    let strategy = (
        prop::collection::vec((0u8..6, 0u8..3, 0u8..4), 8..40),
        prop::collection::vec(1usize..5, 4),
    );
    let case = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&strategy, |(files, chunking)| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let db = format!("prop{n}");
            let url = pg.database(&db);
            let mut workers: Vec<Vec<Identity>> = vec![Vec::new(); 4];
            for (n, (patient, study, worker)) in files.iter().enumerate() {
                // A study belongs to one patient; each file is an instance.
                let study_uid = format!("1.{patient}.{study}");
                workers[*worker as usize].push(id(
                    &format!("f{n}"),
                    Some(&format!("P{patient}")),
                    &study_uid,
                    &format!("{study_uid}.1"),
                    &format!("{study_uid}.1.{n}"),
                ));
            }
            let plan: Vec<Vec<Vec<Identity>>> = workers
                .into_iter()
                .zip(&chunking)
                .map(|(files, size)| files.chunks(*size).map(<[Identity]>::to_vec).collect())
                .collect();
            let outcomes = capture_concurrently(&url, plan);
            let mut ids: HashMap<String, String> = HashMap::new();
            for outcome in outcomes.iter().flatten() {
                let CaptureOutcome::Subject(s) = outcome else {
                    panic!("every file is captured: {outcome:?}");
                };
                let known = ids
                    .entry(s.phi_patient_id.clone())
                    .or_insert(s.anon_patient_id.clone());
                prop_assert_eq!(&*known, &s.anon_patient_id);
            }
            let mut numbers: Vec<String> = ids.values().cloned().collect();
            numbers.sort();
            let expected: Vec<String> = (1..=ids.len()).map(|i| format!("77-{i:06}")).collect();
            prop_assert_eq!(numbers, expected);
            let rows = pg.psql(
                &db,
                "SELECT count(*), count(DISTINCT anon_patient_id) FROM patients",
            );
            prop_assert_eq!(rows, format!("{}|{}", ids.len() + 1, ids.len() + 1));
            Ok(())
        })
        .unwrap();
}
