//! A run killed with SIGKILL in the middle loses nothing: no output is
//! half-written, and a second run finishes the job with exactly the outputs
//! an uninterrupted run writes (same IDs and UIDs, byte for byte).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILES: u32 = 3000;

fn anonymize(input: &Path, output: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"));
    c.args(["anonymize", "--script", "low", "--site-id", "42", "--input"])
        .arg(input)
        .arg("--output")
        .arg(output);
    c
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
        .filter(|p| !p.starts_with(".anonymizer"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_killed_run_resumes_to_the_same_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    for n in 0..FILES {
        // Ten files per patient, so patients span the kill.
        common::synthetic::mr_file(
            &input.join(format!("{:03}/{n:05}.dcm", n / 10)),
            n,
            &format!("Patient^{}", n / 10),
            "040Y",
        );
    }

    // The reference: one uninterrupted run.
    let clean = dir.path().join("clean");
    let out = anonymize(&input, &clean).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Kill a run once its first chunk (512 files) is committed and the
    // second is being written.
    let killed = dir.path().join("killed");
    let mut child = anonymize(&input, &killed)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let written = walkdir::WalkDir::new(&killed)
            .into_iter()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "dcm"))
            .count();
        if written > 700 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the run must be killed before it finishes"
    );
    let written = files(&killed)
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .count();
    assert!(
        (written as u32) < FILES,
        "killed after only {written} of {FILES} outputs"
    );
    // Whatever is under a final name is a whole, readable file.
    for rel in files(&killed) {
        let name = rel.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".dcm") {
            dicom_object::open_file(killed.join(&rel))
                .unwrap_or_else(|e| panic!("{}: half-written: {e}", rel.display()));
        }
    }

    // The second run finishes the job.
    let out = anonymize(&input, &killed).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let already: u32 = stderr
        .split("already done ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        already >= 512,
        "the resumed run skips the committed files: {stderr}"
    );
    assert_eq!(
        files(&killed),
        files(&clean),
        "same files, no temporaries left"
    );
    for rel in files(&clean) {
        assert_eq!(
            std::fs::read(clean.join(&rel)).unwrap(),
            std::fs::read(killed.join(&rel)).unwrap(),
            "{}: differs from the uninterrupted run",
            rel.display()
        );
    }
    eprintln!("killed after {written} outputs; the resumed run matches byte for byte");
}
