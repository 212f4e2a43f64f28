//! `send` against dcmtk's `storescp` (a real peer on a loopback port):
//! an anonymized tree arrives whole and element for element as written; a
//! second run sends nothing again; a file the store does not know as an
//! output is refused unless `--any`; a peer that is down is an error that
//! names it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::peers::{Storescp, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_dicom-anonymizer");

fn send(input: &Path, port: u16, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args([
            "send",
            "--aet",
            "SENDER",
            "--timeout",
            "10",
            "--to",
            &format!("RESEARCH@127.0.0.1:{port}"),
        ])
        .arg("--input")
        .arg(input)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn dicom_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| !p.to_string_lossy().contains(".anonymizer"))
        .collect()
}

#[test]
fn an_anonymized_tree_arrives_whole_once_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    for n in 1..=4u32 {
        common::synthetic::mr_file(
            &input.join(format!("{n}.dcm")),
            n,
            &format!("P^{n}"),
            "040Y",
        );
    }
    if let Some(corpus) = common::reference::pydicom_corpus() {
        // Explicit and implicit VR little endian, and JPEG baseline.
        for name in ["CT_small.dcm", "rtplan.dcm", "SC_rgb_jpeg_dcmtk.dcm"] {
            std::fs::copy(corpus.join("test_files").join(name), input.join(name)).unwrap();
        }
    }
    let output = dir.path().join("out");
    let anonymized = Command::new(BIN)
        .args(["anonymize", "--script", "low", "--site-id", "3", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        anonymized.status.success(),
        "{}",
        String::from_utf8_lossy(&anonymized.stderr)
    );
    let written = dicom_files(&output);

    let port = free_port();
    let received_dir = dir.path().join("received");
    let peer = Storescp::start("RESEARCH", &received_dir, port, &[] as &[&str]);
    let (code, log) = send(&output, port, &[]);
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains(&format!("sent {} files", written.len())),
        "{log}"
    );
    let received = dicom_files(&received_dir);
    assert_eq!(received.len(), written.len(), "{log}");
    // Element for element what anonymize wrote.
    let by_uid =
        |files: &[PathBuf]| -> std::collections::BTreeMap<String, dicom_object::InMemDicomObject> {
            files
                .iter()
                .map(|p| {
                    let obj = dicom_object::open_file(p).unwrap();
                    let uid = obj
                        .meta()
                        .media_storage_sop_instance_uid()
                        .trim_end_matches('\0')
                        .to_string();
                    (uid, obj.into_inner())
                })
                .collect()
        };
    let (ours, theirs) = (by_uid(&written), by_uid(&received));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (uid, obj) in &ours {
        let other = &theirs[uid];
        for element in obj.iter() {
            let tag = element.header().tag;
            let got = other
                .get(tag)
                .unwrap_or_else(|| panic!("{uid}: {tag} not delivered"));
            assert_eq!(
                element.value().to_bytes().ok(),
                got.value().to_bytes().ok(),
                "{uid}: {tag} changed on the way"
            );
        }
    }

    // Again: nothing is sent twice.
    let (code, log) = send(&output, port, &[]);
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains(&format!(
            "sent 0 files to RESEARCH@127.0.0.1:{port}; already there {}",
            written.len()
        )),
        "{log}"
    );
    assert_eq!(dicom_files(&received_dir).len(), written.len());

    // A raw file dropped into the tree is not an output: refused.
    std::fs::copy(input.join("1.dcm"), output.join("raw-phi.dcm")).unwrap();
    let (code, log) = send(&output, port, &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("not sent: raw-phi.dcm is not an output"),
        "{log}"
    );
    assert_eq!(dicom_files(&received_dir).len(), written.len());
    let (code, log) = send(&output, port, &["--any"]);
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(dicom_files(&received_dir).len(), written.len() + 1);
    drop(peer);

    // The peer gone: an error naming it, exit 2.
    let (code, log) = send(&output, free_port(), &["--any"]);
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains("cannot associate with RESEARCH@127.0.0.1:"),
        "{log}"
    );
}
