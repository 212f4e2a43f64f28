//! Running the `dicom-anonymizer` binary from a test.

use std::path::Path;
use std::process::{Command, Output};

/// `dicom-anonymizer anonymize --script SCRIPT --no-deface --site-id SITE
/// --input INPUT --output OUTPUT EXTRA…`: headers only, with a fixed site.
pub fn anonymize_headers(
    script: &str,
    site: &str,
    input: &Path,
    output: &Path,
    extra: &[&str],
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args([
            "anonymize",
            "--script",
            script,
            "--no-deface",
            "--site-id",
            site,
        ])
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(extra)
        .output()
        .expect("run dicom-anonymizer")
}
