//! `cargo bench --bench store`: what the shared PostgreSQL store costs
//! beside the SQLite store, on 2,000 small CT files (40 patients, 5 studies
//! each, 10 instances per study), whole `anonymize` processes with the
//! low-level policy: the SQLite store (1 process), PostgreSQL (1 process),
//! and PostgreSQL with 2 processes of `--shard K/2` at once. The server is
//! a cluster of the bench's own on loopback (Debian's postgresql), with
//! `synchronous_commit = off`, the durability the SQLite store has in WAL
//! mode with `synchronous = NORMAL` (a commit may be lost on power loss,
//! never half kept; outputs are durable before they are recorded).
//! Medians of alternating rounds, every round printed; files/s and the
//! ratio to SQLite. Target: PostgreSQL single-process within 1.5× of
//! SQLite. Asserts only that every run anonymized every file.

#[allow(dead_code)]
#[path = "../tests/common/peers.rs"]
mod peers;
#[allow(dead_code)]
#[path = "../tests/common/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "../tests/common/synthetic.rs"]
mod synthetic;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const ROUNDS: usize = 3;
const FILES: usize = 2000;

fn worker(input: &Path, output: &Path, store: &str, shard: Option<&str>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"));
    cmd.arg("anonymize")
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(["--script", "low", "--site-id", "99", "--store", store])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    cmd.spawn().unwrap()
}

/// Run the workers at once; the wall time until the last one ends.
fn timed(workers: Vec<Child>) -> (f64, usize) {
    let start = Instant::now();
    let mut files = 0;
    for w in workers {
        let out = w.wait_with_output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        files += log
            .split("anonymized ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("{log}"));
    }
    (start.elapsed().as_secs_f64(), files)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let mut n = 0;
    for patient in 0..40 {
        for study in 0..5 {
            for instance in 0..10 {
                synthetic::ct_file(
                    &input.join(format!("p{patient}/s{study}/i{instance}.dcm")),
                    patient,
                    study,
                    instance,
                );
                n += 1;
            }
        }
    }
    assert_eq!(n, FILES);
    let pg = postgres::Postgres::start_with("synchronous_commit = off\n");

    let kinds = [
        "sqlite, 1 process",
        "postgres, 1 process",
        "postgres, 2 shards",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    for round in 0..ROUNDS {
        for (k, kind) in kinds.iter().enumerate() {
            let output = dir.path().join(format!("out-{round}-{k}"));
            let workers = match k {
                0 => {
                    let store = output.join(".anonymizer/store.sqlite");
                    vec![worker(&input, &output, store.to_str().unwrap(), None)]
                }
                1 => {
                    let url = pg.database(&format!("one{round}"));
                    vec![worker(&input, &output, &url, None)]
                }
                _ => {
                    let url = pg.database(&format!("two{round}"));
                    vec![
                        worker(&input, &output, &url, Some("0/2")),
                        worker(&input, &output, &url, Some("1/2")),
                    ]
                }
            };
            let (secs, files) = timed(workers);
            assert_eq!(files, FILES, "{kind}: every file");
            println!(
                "round {round}: {kind:<20} {secs:6.3} s  {:7.0} files/s",
                FILES as f64 / secs
            );
            times[k].push(secs);
            let _ = std::fs::remove_dir_all(&output);
        }
    }
    let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    println!("\nmedians over {ROUNDS} rounds, {FILES} files:");
    for (kind, m) in kinds.iter().zip(&medians) {
        println!(
            "  {kind:<20} {m:6.3} s  {:7.0} files/s  {:.2}x the SQLite store's time",
            FILES as f64 / m,
            m / medians[0]
        );
    }
    println!(
        "postgres single-process / sqlite: {:.2}x (target: within 1.5x)",
        medians[1] / medians[0]
    );
}
