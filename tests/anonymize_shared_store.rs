//! `anonymize --shard K/N --store postgres://…`: workers started at once
//! against one real PostgreSQL server make what one process makes with the
//! SQLite store (patients may be numbered in another order: a bijection);
//! a worker killed mid-run and started again finishes its shard; a server
//! gone mid-run stops a worker with exit 2, and a later run resumes.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::postgres::Postgres;

const SITE: &str = "5";

/// 600 files: 12 patients, 2 studies each, 25 instances per study.
fn corpus(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    for patient in 0..12 {
        for study in 0..2 {
            for instance in 0..25 {
                common::synthetic::ct_file(
                    &input.join(format!("p{patient}/s{study}/i{instance}.dcm")),
                    patient,
                    study,
                    instance,
                );
            }
        }
    }
    input
}

/// A worker: `anonymize` with the low-level policy of shard `shard` (or
/// all) into `output`, logging in to `store` as `worker` with the password
/// file `pgpass`.
fn worker(input: &Path, output: &Path, store: &str, shard: Option<&str>, pgpass: &Path) -> Command {
    let mut cmd = worker_with(input, output, store, shard, pgpass);
    cmd.args(["--script", "low"]);
    cmd
}

/// As [`worker`], without a script.
fn worker_with(
    input: &Path,
    output: &Path,
    store: &str,
    shard: Option<&str>,
    pgpass: &Path,
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"));
    cmd.arg("anonymize")
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(["--site-id", SITE, "--jobs", "1"])
        .args(["--store", store])
        .env("PGPASSFILE", pgpass)
        .env_remove("PGPASSWORD")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    cmd
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run the 4 shards at once; each must succeed.
fn run_shards(input: &Path, output: &Path, store: &str, pgpass: &Path, shards: &[usize]) {
    let children: Vec<(usize, Child)> = shards
        .iter()
        .map(|k| {
            let shard = format!("{k}/4");
            let child = worker(input, output, store, Some(&shard), pgpass)
                .spawn()
                .unwrap();
            (*k, child)
        })
        .collect();
    for (k, child) in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "shard {k}/4: {}", text(&out));
    }
}

/// Original PatientID → anonymized PatientID, from `lookup export`.
fn patients(store: &str, pgpass: &Path) -> BTreeMap<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args(["lookup", "export", "--format", "json", "--store", store])
        .env("PGPASSFILE", pgpass)
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Every original UID mapped once, to a UID no other one got.
    let uids = json["uids"].as_array().unwrap();
    let mut anon: Vec<&str> = uids
        .iter()
        .map(|u| u["anon_uid"].as_str().unwrap())
        .collect();
    anon.sort();
    anon.dedup();
    assert_eq!(anon.len(), uids.len(), "two UIDs mapped to one");
    json["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["patient_id"].as_str().unwrap().to_string(),
                p["anon_patient_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Replace every anonymized patient ID of `from` by the one `to` gave the
/// same patient, after checking the two numberings are a bijection.
fn renumber(
    tree: BTreeMap<String, Vec<u8>>,
    from: &BTreeMap<String, String>,
    to: &BTreeMap<String, String>,
) -> BTreeMap<String, Vec<u8>> {
    assert_eq!(
        from.keys().collect::<Vec<_>>(),
        to.keys().collect::<Vec<_>>(),
        "the same patients"
    );
    let mut seen = std::collections::HashSet::new();
    assert!(from.values().all(|a| seen.insert(a)), "no duplicate IDs");
    let map: HashMap<&[u8], &[u8]> = from
        .iter()
        .map(|(phi, anon)| (anon.as_bytes(), to[phi].as_bytes()))
        .collect();
    let pattern = regex::bytes::Regex::new(&format!(r"{SITE}-\d{{6}}")).unwrap();
    tree.into_iter()
        .map(|(k, bytes)| {
            let replaced =
                pattern.replace_all(&bytes, |c: &regex::bytes::Captures| map[&c[0]].to_vec());
            (k, replaced.into_owned())
        })
        .collect()
}

/// The outputs of `output`, renumbered to `baseline`'s patients; asserted
/// equal to `expected`.
fn assert_same_as_one_process(
    output: &Path,
    store: &str,
    pgpass: &Path,
    baseline: &BTreeMap<String, String>,
    expected: &BTreeMap<String, Vec<u8>>,
) {
    let tree = common::trees::outputs(output);
    assert_eq!(tree.len(), 600, "every file once");
    let numbering = patients(store, pgpass);
    let renumbered = renumber(tree, &numbering, baseline);
    assert_eq!(
        renumbered.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (key, bytes) in expected {
        assert!(renumbered[key] == *bytes, "{key} differs");
    }
}

/// The first output file under `output` (outside `.anonymizer/`), once one
/// appears.
fn wait_for_output(output: &Path, child: &mut Child) {
    let start = Instant::now();
    loop {
        let any = walkdir::WalkDir::new(output)
            .into_iter()
            .flatten()
            .any(|e| {
                e.file_type().is_file() && !e.path().to_string_lossy().contains(".anonymizer")
            });
        if any {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the worker ended before writing anything"
        );
        assert!(start.elapsed() < Duration::from_secs(60), "no output");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn shards_on_postgres_make_what_one_process_makes_even_when_one_is_killed() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path());
    let pgpass = pg.worker_pgpass();

    // One process, the SQLite store.
    let one = dir.path().join("one");
    let out = common::cli::anonymize(
        &input,
        &one,
        &["--script", "low", "--site-id", SITE, "--jobs", "1"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let one_store = one.join(".anonymizer/store.sqlite");
    let baseline = patients(one_store.to_str().unwrap(), &pgpass);
    assert_eq!(baseline.len(), 13, "12 patients and the one without an ID");
    let expected = common::trees::outputs(&one);
    assert_eq!(expected.len(), 600);

    // Four workers at once, logging in with a password from the password
    // file.
    pg.database("four");
    let four_url = pg.url("worker", "four");
    let four = dir.path().join("four");
    run_shards(&input, &four, &four_url, &pgpass, &[0, 1, 2, 3]);
    assert_same_as_one_process(&four, &four_url, &pgpass, &baseline, &expected);
    // The audit names the worker of each file: four, each with its shard.
    let workers = pg.psql("four", "SELECT DISTINCT worker FROM files ORDER BY 1");
    let workers: Vec<&str> = workers.lines().collect();
    assert_eq!(workers.len(), 4, "{workers:?}");
    for k in 0..4 {
        let shard = format!("shard {k}/4");
        assert!(workers.iter().any(|w| w.ends_with(&shard)), "{workers:?}");
    }
    // A rerun of a shard finds its files done.
    let again = worker(&input, &four, &four_url, Some("2/4"), &pgpass)
        .output()
        .unwrap();
    assert!(
        text(&again).contains("anonymized 0 files"),
        "{}",
        text(&again)
    );

    // Shard 0 killed mid-run, then started again beside the other three.
    pg.database("killed");
    let killed_url = pg.url("worker", "killed");
    let killed = dir.path().join("killed");
    let mut victim = worker(&input, &killed, &killed_url, Some("0/4"), &pgpass)
        .spawn()
        .unwrap();
    wait_for_output(&killed, &mut victim);
    victim.kill().unwrap();
    let status = victim.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed mid-run, not finished");
    run_shards(&input, &killed, &killed_url, &pgpass, &[0, 1, 2, 3]);
    assert_same_as_one_process(&killed, &killed_url, &pgpass, &baseline, &expected);
    let counts = pg.psql(
        "killed",
        "SELECT count(*), count(DISTINCT anon_sop_instance_uid) FROM instances",
    );
    assert_eq!(counts, "600|600");
}

#[test]
fn a_server_gone_mid_run_stops_the_worker_with_exit_2_and_a_later_run_resumes() {
    let mut pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path());
    let pgpass = pg.worker_pgpass();
    pg.database("gone");
    let url = pg.url("worker", "gone");
    let output = dir.path().join("out");

    let mut run = worker(&input, &output, &url, None, &pgpass);
    run.env("DICOM_ANONYMIZER_PG_RETRY_SECONDS", "1");
    let mut child = run.spawn().unwrap();
    wait_for_output(&output, &mut child);
    pg.stop_server();
    let out = child.wait_with_output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("gave up after"), "{log}");
    assert!(
        log.contains(&format!("postgres://worker@127.0.0.1:{}/gone", pg.port)),
        "{log}"
    );
    assert!(!log.contains(common::postgres::WORKER_PASSWORD), "{log}");

    pg.start_server();
    let out = worker(&input, &output, &url, None, &pgpass)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(common::trees::outputs(&output).len(), 600);
    assert_eq!(
        pg.psql("gone", "SELECT count(*) FROM files WHERE status = 'done'"),
        "600"
    );

    // Without the password the worker is refused at once, with the reason.
    let empty = dir.path().join("none.pgpass");
    std::fs::write(&empty, "").unwrap();
    let out = worker(&input, &output, &url, None, &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cannot connect"), "{}", text(&out));
}

/// CTP's `@integer` numbers patients in the store: 4 workers at once give
/// each patient one number wherever its files are, the numbers 1..12.
#[test]
fn integer_numbers_agree_across_shard_workers() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path());
    let pgpass = pg.worker_pgpass();
    pg.database("integers");
    let url = pg.url("worker", "integers");
    let script = dir.path().join("integer.script");
    std::fs::write(
        &script,
        r#"<script>
 <e en="T" t="00100010" n="PatientName">@integer(PatientID,subjects,4)</e>
 <e en="T" t="00100020" n="PatientID">@hash(this,10)</e>
</script>"#,
    )
    .unwrap();
    let output = dir.path().join("out");
    let children: Vec<Child> = (0..4)
        .map(|k| {
            let mut cmd = worker_with(&input, &output, &url, Some(&format!("{k}/4")), &pgpass);
            cmd.args(["--dialect", "ctp", "--script"]).arg(&script);
            cmd.spawn().unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let tree = common::trees::outputs(&output);
    assert_eq!(tree.len(), 600);
    // Patient directory p<N> → the numbers its files were given.
    let mut numbers: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for key in tree.keys() {
        let obj = dicom_object::open_file(output.join(key)).unwrap();
        let name = obj
            .element(dicom_dictionary_std::tags::PATIENT_NAME)
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_string();
        let patient = key.split('/').next().unwrap().to_string();
        numbers.entry(patient).or_default().insert(name);
    }
    assert_eq!(numbers.len(), 12);
    let mut all: Vec<String> = numbers
        .values()
        .map(|n| {
            assert_eq!(n.len(), 1, "one number per patient: {n:?}");
            n.iter().next().unwrap().clone()
        })
        .collect();
    all.sort();
    let expected: Vec<String> = (1..=12).map(|i| format!("{i:04}")).collect();
    assert_eq!(all, expected);
}
