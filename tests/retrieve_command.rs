//! `find` and `retrieve` against a real Orthanc on loopback ports: a CSV of
//! accession numbers (two present, one absent) is found and retrieved
//! whole, anonymized on arrival; a second run retrieves nothing again; a
//! C-MOVE to an AE title the PACS does not know reports the PACS's status.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::orthanc::{Orthanc, variant};
use common::peers::free_port;
use common::trees;

const BIN: &str = env!("CARGO_BIN_EXE_dicom-anonymizer");

/// Two studies (3 and 2 instances) with accession numbers, and a third
/// study nobody asks for.
fn studies(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (study, accession, count) in [(1u32, "ACC-1", 3u32), (2, "ACC-2", 2), (3, "ACC-3", 1)] {
        let base = dir.join(format!("base{study}.dcm"));
        common::synthetic::mr_file(&base, 500 + study, &format!("Study^{study}"), "055Y");
        for k in 0..count {
            let path = dir.join(format!("s{study}-{k}.dcm"));
            variant(&base, &path, &format!("2.25.8{study}.{k}"), accession);
            files.push(path);
        }
    }
    files
}

#[test]
fn accession_numbers_are_found_retrieved_whole_and_anonymized() {
    let dir = tempfile::tempdir().unwrap();
    let receiver_port = free_port();
    let pacs = Orthanc::start(&[("ANONSCP", receiver_port)]);
    pacs.store(&studies(dir.path()));
    let csv = dir.path().join("wanted.csv");
    std::fs::write(&csv, "MRN,AccessionNumber\n1,ACC-1\n2,ACC-2\n9,ACC-404\n").unwrap();

    let find = Command::new(BIN)
        .args([
            "find",
            "--pacs",
            &pacs.address(),
            "--aet",
            "ANONSCP",
            "--format",
            "csv",
        ])
        .arg("--accessions")
        .arg(&csv)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&find.stdout);
    assert_eq!(
        find.status.code(),
        Some(1),
        "{table}{}",
        String::from_utf8_lossy(&find.stderr)
    );
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[1].starts_with("ACC-1,found,MRN-501,Study^1,") && rows[1].contains(",MR,3,"),
        "{table}"
    );
    assert!(
        rows[2].starts_with("ACC-2,found,MRN-502,") && rows[2].contains(",MR,2,"),
        "{table}"
    );
    assert!(rows[3].starts_with("ACC-404,not found,"), "{table}");

    let output = dir.path().join("out");
    // `retrieve` into `output`, receiving on `receiver_port`, asking for `what`.
    let retrieve_with = |what: &[&std::ffi::OsStr]| {
        Command::new(BIN)
            .args(["retrieve", "--pacs", &pacs.address(), "--aet", "ANONSCP"])
            .args(["--bind", "127.0.0.1", "--port", &receiver_port.to_string()])
            .args(["--script", "low", "--site-id", "4"])
            .arg("--output")
            .arg(&output)
            .args(what)
            .output()
            .unwrap()
    };
    let retrieve = |extra: &[&str]| {
        let mut what: Vec<&std::ffi::OsStr> = vec!["--accessions".as_ref(), csv.as_os_str()];
        what.extend(extra.iter().map(std::ffi::OsStr::new));
        retrieve_with(&what)
    };
    let first = retrieve(&[]);
    let (table, log) = (
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr),
    );
    assert_eq!(
        first.status.code(),
        Some(1),
        "ACC-404 is missing\n{table}{log}"
    );
    assert!(table.contains("ACC-404\t\t\t\tnot found"), "{table}");
    assert_eq!(table.matches("\tcomplete").count(), 2, "{table}{log}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ACC-1\t") && l.contains("\t3\t3\tcomplete")),
        "{table}"
    );
    assert_eq!(trees::outputs(&output).len(), 5, "{log}");
    // Nothing identifying came through.
    for entry in walkdir::WalkDir::new(&output).into_iter().flatten() {
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "dcm") {
            let bytes = std::fs::read(entry.path()).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("MRN-50") && !text.contains("Study^"),
                "{}",
                entry.path().display()
            );
        }
    }

    // Again: both studies are known complete, nothing moves.
    let second = retrieve(&[]);
    let log = String::from_utf8_lossy(&second.stderr);
    assert_eq!(log.matches("already complete").count(), 2, "{log}");
    assert_eq!(trees::outputs(&output).len(), 5);

    // The PACS gets a second series of ACC-1: only that series moves.
    let base = dir.path().join("s1-0.dcm");
    let mut added = Vec::new();
    for k in 0..2 {
        let path = dir.path().join(format!("late-{k}.dcm"));
        variant(&base, &path, &format!("2.25.91.{k}"), "ACC-1");
        let mut obj = dicom_object::open_file(&path).unwrap();
        obj.put(dicom_core::DataElement::new(
            dicom_dictionary_std::tags::SERIES_INSTANCE_UID,
            dicom_core::VR::UI,
            dicom_core::PrimitiveValue::from("2.25.9100"),
        ));
        obj.write_to_file(&path).unwrap();
        added.push(path);
    }
    pacs.store(&added);
    let fourth = retrieve(&[]);
    let (table, log) = (
        String::from_utf8_lossy(&fourth.stdout),
        String::from_utf8_lossy(&fourth.stderr),
    );
    assert!(
        log.contains("series 2.25.9100: moved 2 instances"),
        "only the new series is moved: {log}"
    );
    assert_eq!(log.matches("moved ").count(), 1, "{log}");
    assert_eq!(log.matches("already complete").count(), 1, "{log}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ACC-1\t") && l.contains("\t5\t5\tcomplete")),
        "{table}"
    );
    assert_eq!(trees::outputs(&output).len(), 7, "{log}");

    // A destination the PACS does not know: its status, and exit 1.
    let unknown = retrieve(&["--move-dest", "NOBODY"]);
    let (table, log) = (
        String::from_utf8_lossy(&unknown.stdout),
        String::from_utf8_lossy(&unknown.stderr),
    );
    assert_eq!(unknown.status.code(), Some(1), "{table}{log}");
    // (Both studies are complete from before, so nothing is moved: ask by UID
    // for the third study instead.)
    let third = retrieve_with(
        &["--study-uid", "2.25.7503.1", "--move-dest", "NOBODY"].map(std::ffi::OsStr::new),
    );
    let (table, log) = (
        String::from_utf8_lossy(&third.stdout),
        String::from_utf8_lossy(&third.stderr),
    );
    assert_eq!(third.status.code(), Some(1), "{table}{log}");
    assert!(table.contains("failed: C-MOVE status 0x"), "{table}{log}");
    assert_eq!(trees::outputs(&output).len(), 7);
}

#[test]
fn c_get_brings_the_same_studies_over_our_own_association() {
    let dir = tempfile::tempdir().unwrap();
    let receiver_port = free_port();
    let pacs = Orthanc::start(&[("ANONSCP", receiver_port)]);
    pacs.store(&studies(dir.path()));
    let csv = dir.path().join("wanted.txt");
    std::fs::write(&csv, "ACC-1\nACC-2\n").unwrap();
    let run = |output: &Path, how: &[&str]| {
        let out = Command::new(BIN)
            .args(["retrieve", "--pacs", &pacs.address(), "--aet", "ANONSCP"])
            .args(["--script", "low", "--site-id", "4"])
            .arg("--accessions")
            .arg(&csv)
            .arg("--output")
            .arg(output)
            .args(how)
            .output()
            .unwrap();
        let (table, log) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(out.status.code(), Some(0), "{table}{log}");
        assert_eq!(table.matches("\tcomplete").count(), 2, "{table}{log}");
        log
    };
    let by_get = dir.path().join("get");
    let log = run(&by_get, &["--get"]);
    assert_eq!(trees::outputs(&by_get).len(), 5, "{log}");
    let port = receiver_port.to_string();
    let by_move = dir.path().join("move");
    run(&by_move, &["--bind", "127.0.0.1", "--port", &port]);
    let (get, moved) = (trees::outputs(&by_get), trees::outputs(&by_move));
    assert_eq!(
        get.keys().collect::<Vec<_>>(),
        moved.keys().collect::<Vec<_>>()
    );
    assert!(get == moved, "C-GET and C-MOVE give the same bytes");
    // A rerun by C-GET finds both complete.
    let log = run(&by_get, &["--get"]);
    assert_eq!(log.matches("already complete").count(), 2, "{log}");
}

#[test]
fn a_pacs_that_is_down_is_named_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pacs = format!("DOWN@127.0.0.1:{port}");
    for command in ["find", "retrieve"] {
        let mut run = Command::new(BIN);
        run.args([
            command,
            "--pacs",
            &pacs,
            "--timeout",
            "2",
            "--patient-id",
            "X",
        ]);
        if command == "retrieve" {
            run.args(["--get", "--script", "low", "--output"])
                .arg(dir.path().join("out"));
        }
        let out = run.output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {log}");
        assert!(log.contains(&pacs), "{command} names the PACS: {log}");
    }
}
