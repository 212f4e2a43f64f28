//! Both bundled policies keep objects valid: dicom3tools' `dciodvfy`
//! (Debian package `dicom3tools`, installed by `tests/run.sh`) finds no
//! error in any output of pydicom's corpus that it did not find in the
//! input. Objects that cannot stay valid (structured reports whose content
//! the policies remove) are quarantined as `Invalid_Output` instead.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// `dciodvfy`'s errors for one file, with values that legitimately differ
/// between input and output (quoted values, UIDs) blanked.
fn errors(path: &Path) -> BTreeSet<String> {
    let out = Command::new("dciodvfy")
        .arg(path)
        .output()
        .expect("dciodvfy (Debian package dicom3tools; tests/run.sh installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .filter(|l| l.starts_with("Error"))
        .map(blank_values)
        .collect()
}

fn blank_values(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for d in chars.by_ref() {
                    if d == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            '<' if chars.peek().is_some_and(char::is_ascii_digit) => {
                for d in chars.by_ref() {
                    if d == '>' {
                        break;
                    }
                }
                out.push_str("<UID>");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Source → (status, output, reason) from the run's store.
fn outcomes(output: &Path) -> BTreeMap<String, (String, Option<String>, Option<String>)> {
    let conn = rusqlite::Connection::open(output.join(".anonymizer/store.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT source, status, output, reason FROM files")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn both_policies_add_no_validity_error_to_the_corpus() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut input_errors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut new = Vec::new();
    for level in ["low", "high"] {
        let output = dir.path().join(level);
        let run = common::cli::anonymize_headers(level, "99", &corpus, &output, &[]);
        assert!(
            run.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let outcomes = outcomes(&output);
        let mut compared = 0;
        for (source, (status, out, _)) in &outcomes {
            let Some(out) = out.as_ref().filter(|_| status == "done") else {
                continue;
            };
            let before = input_errors
                .entry(source.clone())
                .or_insert_with(|| errors(&corpus.join(source)));
            for e in errors(&output.join(out)).difference(before) {
                new.push(format!("{level}: {source}: {e}"));
            }
            compared += 1;
        }
        assert!(compared > 100, "{level}: only {compared} outputs");
        // Reports lose their content at both levels: quarantined, with the
        // attribute named. Nothing else is (the gate must not hide a
        // policy that breaks other objects).
        let invalid: Vec<&str> = outcomes
            .iter()
            .filter(|(_, (_, _, reason))| reason.as_deref() == Some("Invalid_Output"))
            .map(|(source, _)| source.as_str())
            .collect();
        assert_eq!(
            invalid,
            [
                "test_files/reportsi.dcm",
                "test_files/reportsi_with_empty_number_tags.dcm",
                "test_files/test-SR.dcm",
            ],
            "{level}"
        );
        let csv = std::fs::read_to_string(output.join("quarantine/report.csv")).unwrap();
        assert!(
            csv.contains("ContentSequence (Type 1C in Basic Text SR) emptied"),
            "{csv}"
        );
    }
    assert!(new.is_empty(), "new dciodvfy errors:\n{}", new.join("\n"));
}
