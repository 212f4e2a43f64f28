//! `anonymize --shard K/N`: N workers over one input tree take every file
//! exactly once, by a hash of its relative path. With the SQLite store the
//! shards must run on one machine, one after another (`--single-machine`);
//! other uses are refused with the reason.

mod common;

use std::path::Path;
use std::process::Output;

/// `anonymize` with site 4 and `extra`.
fn anonymize(input: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--site-id", "4"];
    args.extend_from_slice(extra);
    common::cli::anonymize(input, output, &args)
}

#[test]
fn shards_cover_every_file_once_and_agree_with_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    for n in 1..=12 {
        let patient = format!("Shard^Patient{}", n % 4);
        common::synthetic::mr_file(&input.join(format!("p{n}/a.dcm")), n, &patient, "047Y");
    }
    // Three shards, one after another, into one output and store.
    let sharded = dir.path().join("sharded");
    let mut taken = 0;
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = anonymize(
            &input,
            &sharded,
            &["--script", "low", "--shard", &shard, "--single-machine"],
        );
        let log = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{shard}: {log}");
        let files: usize = log
            .split("anonymized ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{log}"));
        assert!(files > 0, "shard {shard} took nothing");
        taken += files;
    }
    assert_eq!(taken, 12, "every file once");
    let sharded_tree = common::trees::outputs(&sharded);
    assert_eq!(sharded_tree.len(), 12);

    // A second pass of one shard finds its files done.
    let again = anonymize(
        &input,
        &sharded,
        &["--script", "low", "--shard", "1/3", "--single-machine"],
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("anonymized 0 files"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The same paths as one unsharded run (patients are numbered by first
    // sight, so the values may differ: the shards saw them in another order).
    let whole = dir.path().join("whole");
    assert_eq!(
        anonymize(&input, &whole, &["--script", "low"])
            .status
            .code(),
        Some(0)
    );
    let whole_tree = common::trees::outputs(&whole);
    assert_eq!(
        sharded_tree.keys().collect::<Vec<_>>(),
        whole_tree.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_shard_without_a_shared_store_or_with_defacing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    common::synthetic::mr_file(&input.join("a.dcm"), 1, "A^B", "047Y");
    let refused = |extra: &[&str], why: &str| {
        let out = anonymize(&input, &dir.path().join("out"), extra);
        let log = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {log}");
        assert!(log.contains(why), "{extra:?}: {log}");
    };
    refused(&["--script", "low", "--shard", "0/2"], "--single-machine");
    refused(
        &["--script", "high", "--shard", "0/2", "--single-machine"],
        "a shard may hold part of a series",
    );
    refused(
        &["--script", "low", "--shard", "2/2", "--single-machine"],
        "0 ≤ K < N",
    );
    refused(&["--script", "low", "--single-machine"], "--shard");
    // With headers only, the high level shards.
    let out = anonymize(
        &input,
        &dir.path().join("out"),
        &[
            "--script",
            "high",
            "--no-deface",
            "--shard",
            "0/1",
            "--single-machine",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
