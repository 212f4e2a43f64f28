//! The `ctp` dialect against CTP itself: what CTP's own DICOMAnonymizer
//! wrote for three test scripts (`tests/scripts/valid/ctp_reference*.script`,
//! `ctp_params.script` with parameters given on the command line and one
//! defined nowhere, and `ctp_lenient.script`, whose mistakes `check` warns
//! about and CTP runs anyway)
//! over 14 of pydicom's test files, recorded by
//! `tests/reference/record_ctp_golden.sh` into `tests/reference/ctp_golden/`
//! (CTP is on no package registry, so CI cannot run it), is compared file by
//! file and element by element with what our engine writes.
//!
//! Both outputs are read by the same dump (`tests/reference/ctp_dump.py`,
//! pydicom), so only the engines differ. Every difference fails the test
//! unless it is listed in [`KNOWN_DIFFERENCES`], and the README.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// (script, file, element path, why): where we deliberately differ from
/// CTP. A file of `*` stands for every file.
const KNOWN_DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    // `ctp_lenient`: a rule writes text that dcm4che cannot write as a date
    // (`late`; a hash). CTP then keeps the original date; we remove the
    // element (README, deliberate differences).
    (
        "ctp_lenient",
        "*",
        "(0008,0020)",
        "a value the DA cannot hold is removed",
    ),
    (
        "ctp_lenient",
        "*",
        "(0010,0030)",
        "a value the DA cannot hold is removed",
    ),
    // `@uppercase(OperatorsName)`: CTP resolves element names with dcm4che
    // 1.x's dictionary, which calls (0008,1070) `OperatorName`; the standard
    // keyword `OperatorsName` is unknown there, so CTP reads an empty value.
    // We read names as standard keywords (and dcm4che's Ref…/…Seq forms).
    (
        "ctp_reference",
        "test_files/MR_small.dcm",
        "(0008,1070)",
        "standard keyword OperatorsName",
    ),
    (
        "ctp_reference",
        "test_files/MR_small_bigendian.dcm",
        "(0008,1070)",
        "standard keyword OperatorsName",
    ),
    (
        "ctp_reference",
        "test_files/MR_small_implicit.dcm",
        "(0008,1070)",
        "standard keyword OperatorsName",
    ),
    (
        "ctp_reference",
        "test_files/rtplan.dcm",
        "(0008,1070)",
        "standard keyword OperatorsName",
    ),
];

fn run_ours(script: &str, input: &Path, output: &Path) -> String {
    let root = common::reference::repo_root();
    // The parameters CTP was given (`-pNAME VALUE`), as `--param`.
    let params =
        std::fs::read_to_string(root.join(format!("tests/reference/ctp_golden/{script}.params")))
            .unwrap_or_default();
    let params: Vec<String> = params
        .lines()
        .filter(|l| !l.is_empty())
        .flat_map(|l| ["--param".to_string(), l.to_string()])
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args([
            "anonymize",
            "--dialect",
            "ctp",
            "--jobs",
            "1",
            "--site-id",
            "1",
        ])
        .args(&params)
        .arg("--script")
        .arg(root.join(format!("tests/scripts/valid/{script}.script")))
        .arg("--lookup-table")
        .arg(root.join("tests/scripts/valid/ctp_reference.lookup.properties"))
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The outcome of each file, as CtpRun.java prints CTP's.
    let conn = rusqlite::Connection::open(output.join(".anonymizer/store.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT source, status, reason FROM files ORDER BY source")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .unwrap();
    let mut tsv = String::new();
    for row in rows {
        let (source, status, reason) = row.unwrap();
        let status = match (status.as_str(), reason.as_deref()) {
            ("done", _) => "OK",
            ("skipped", Some("skipped by the script")) => "SKIP",
            _ => "QUARANTINE",
        };
        tsv.push_str(&format!("{source}\t{status}\t\n"));
    }
    tsv
}

fn dump(python: &Path, tree: &Path, tsv: &str) -> BTreeMap<String, Value> {
    let status = tree.join("status.tsv");
    std::fs::write(&status, tsv).unwrap();
    let out = Command::new(python)
        .arg(common::reference::repo_root().join("tests/reference/ctp_dump.py"))
        .arg(tree)
        .arg(&status)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn compare(script: &str) {
    let (Some(corpus), Some(python)) = (
        common::reference::pydicom_corpus(),
        common::reference::rsna_engine_python(),
    ) else {
        return;
    };
    let root = common::reference::repo_root();
    let golden: BTreeMap<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join(format!("tests/reference/ctp_golden/{script}.json")))
            .unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    let corpus_list =
        std::fs::read_to_string(root.join("tests/reference/ctp_golden/corpus.txt")).unwrap();
    for rel in corpus_list.lines() {
        let dest = input.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(corpus.join(rel), dest).unwrap();
    }
    let output = tmp.path().join("output");
    let tsv = run_ours(script, &input, &output);
    let ours = dump(&python, &output, &tsv);

    let known = |file: &str, path: &str| {
        KNOWN_DIFFERENCES.iter().any(|(s, f, p, _)| {
            *s == script
                && (*f == file || *f == "*")
                && (*p == path || path.starts_with(&format!("{p}[")))
        })
    };
    let mut differences = Vec::new();
    let mut elements = 0;
    for (file, theirs) in &golden {
        let Some(mine) = ours.get(file) else {
            differences.push(format!("{file}: not processed by us"));
            continue;
        };
        if mine["status"] != theirs["status"] {
            differences.push(format!(
                "{file}: CTP {} / ours {}",
                theirs["status"], mine["status"]
            ));
            continue;
        }
        let empty = serde_json::Map::new();
        let a = theirs["elements"].as_object().unwrap_or(&empty);
        let b = mine["elements"].as_object().unwrap_or(&empty);
        for path in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
            elements += 1;
            if a.get(path) != b.get(path) && !known(file, path) {
                differences.push(format!(
                    "{file}: {path}: CTP {} / ours {}",
                    a.get(path).map_or("absent".into(), Value::to_string),
                    b.get(path).map_or("absent".into(), Value::to_string)
                ));
            }
        }
    }
    eprintln!(
        "{script}: {} files, {elements} elements compared with CTP's output",
        golden.len()
    );
    assert!(elements > 300, "too little compared: {elements}");
    assert!(
        differences.is_empty(),
        "{} differences from CTP:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn every_construct_script_writes_what_ctp_writes() {
    compare("ctp_reference");
}

#[test]
fn strict_profile_with_sequences_writes_what_ctp_writes() {
    compare("ctp_reference_strict");
}

#[test]
fn mistakes_ctp_runs_anyway_give_what_ctp_gives() {
    compare("ctp_lenient");
}

#[test]
fn command_line_and_undefined_parameters_give_what_ctp_gives() {
    compare("ctp_params");
}
