//! Running the `dicom-anonymizer` binary from a test.

use std::path::Path;
use std::process::{Command, Output};

/// `dicom-anonymizer anonymize --input INPUT --output OUTPUT ARGS…`.
pub fn anonymize(input: &Path, output: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .arg("anonymize")
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(args)
        .output()
        .expect("run dicom-anonymizer")
}

/// `anonymize` with `--script SCRIPT --no-deface --site-id SITE EXTRA…`:
/// headers only, with a fixed site.
pub fn anonymize_headers(
    script: &str,
    site: &str,
    input: &Path,
    output: &Path,
    extra: &[&str],
) -> Output {
    let mut args = vec!["--script", script, "--no-deface", "--site-id", site];
    args.extend_from_slice(extra);
    anonymize(input, output, &args)
}
