//! `anonymize --sync filesystem|files|none` (and `--no-sync`): each way of
//! making outputs durable writes the same outputs and records them done.
//! (What a crash leaves behind is `tests/anonymize_kill_resume.rs`'s
//! subject; the cost of each choice is `cargo bench --bench sync`'s.)

mod common;

use std::process::Command;

#[test]
fn every_sync_choice_writes_the_same_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    for n in 1..=3 {
        common::synthetic::mr_file(&input.join(format!("p{n}/a.dcm")), n, "Sync^Me", "047Y");
    }
    let mut trees = Vec::new();
    for choice in [
        &["--sync", "filesystem"][..],
        &["--sync", "files"],
        &["--sync", "none"],
        &["--no-sync"],
        &[],
    ] {
        let output = dir.path().join(format!("out{}", trees.len()));
        let out = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
            .args(["anonymize", "--script", "low", "--site-id", "3"])
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&output)
            .args(choice)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{choice:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = common::trees::outputs(&output);
        assert_eq!(tree.len(), 3, "{choice:?}");
        trees.push(tree);
    }
    assert!(trees.windows(2).all(|w| w[0] == w[1]));

    // `--no-sync` and `--sync` together are a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args([
            "anonymize",
            "--script",
            "low",
            "--no-sync",
            "--sync",
            "files",
        ])
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(dir.path().join("both"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
