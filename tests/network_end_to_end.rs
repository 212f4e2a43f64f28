//! The network workflow end to end, against real peers on loopback ports:
//! pydicom's corpus (a study per file, each given an accession number) is
//! stored into Orthanc; `retrieve` by a CSV of accession numbers (every
//! study, and one nobody has) anonymizes every present study completely
//! and reports the absent one; `send` delivers the anonymized tree to
//! dcmtk's `storescp`; what arrives there equals, element for element,
//! what `anonymize` writes for the same files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::orthanc::Orthanc;
use common::peers::{Storescp, free_port};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

const BIN: &str = env!("CARGO_BIN_EXE_dicom-anonymizer");

/// Corpus files of the common storage classes and transfer syntaxes.
const CORPUS: &[&str] = &[
    "CT_small.dcm",
    "MR_small.dcm",
    "JPEG2000.dcm",
    "SC_rgb_rle.dcm",
    "SC_rgb_small_odd.dcm",
    "liver_1frame.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
    "rtstruct.dcm",
    "waveform_ecg.dcm",
    "test-SR.dcm",
    "reportsi.dcm",
];

fn text(obj: &dicom_object::InMemDicomObject, tag: dicom_core::Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

/// The corpus files, one instance per SOPInstanceUID, each copied as
/// `NN-name` with the accession number `E2E-NN` of its study (files of one
/// study share their study's number). Returns the files and the accession
/// numbers, in path order.
fn corpus(dir: &Path) -> (Vec<PathBuf>, Vec<String>) {
    let source = common::reference::pydicom_corpus().expect("pydicom's corpus");
    std::fs::create_dir_all(dir).unwrap();
    let (mut files, mut accessions) = (Vec::new(), Vec::new());
    let mut studies: BTreeMap<String, String> = BTreeMap::new();
    let mut instances = std::collections::HashSet::new();
    for (i, name) in CORPUS.iter().enumerate() {
        // (A few corpus files have no meta group; they are not sent.)
        let Ok(mut obj) = dicom_object::open_file(source.join("test_files").join(name)) else {
            eprintln!("{name}: not a DICOM file with a meta group, left out");
            continue;
        };
        if !instances.insert(text(&obj, tags::SOP_INSTANCE_UID)) {
            continue;
        }
        let study = text(&obj, tags::STUDY_INSTANCE_UID);
        let next = format!("E2E-{i:02}");
        let accession = studies.entry(study).or_insert(next).clone();
        if !accessions.contains(&accession) {
            accessions.push(accession.clone());
        }
        obj.put(DataElement::new(
            tags::ACCESSION_NUMBER,
            VR::SH,
            PrimitiveValue::from(accession.as_str()),
        ));
        let path = dir.join(format!("{i:02}-{name}"));
        obj.write_to_file(&path).unwrap();
        files.push(path);
    }
    (files, accessions)
}

/// Every DICOM file under `root` outside the store and quarantine, read
/// whole, with its path, by SOPInstanceUID.
fn by_instance(root: &Path) -> BTreeMap<String, (PathBuf, dicom_object::DefaultDicomObject)> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let p = e.path().to_string_lossy();
            !p.contains(".anonymizer") && !p.contains("quarantine") && !p.ends_with(".csv")
        })
        .map(|e| {
            let obj = dicom_object::open_file(e.path()).unwrap();
            (text(&obj, tags::SOP_INSTANCE_UID), (e.into_path(), obj))
        })
        .collect()
}

#[test]
fn retrieve_then_send_delivers_what_anonymize_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (files, accessions) = corpus(&dir.path().join("in"));
    assert!(files.len() >= 8, "{files:?}");
    let receiver_port = free_port();
    let pacs = Orthanc::start(&[("ANONSCP", receiver_port)]);
    pacs.store(&files);

    // Every study in path order (patients are numbered in order of first
    // sight by both commands), and one that does not exist.
    let csv = dir.path().join("wanted.csv");
    let mut rows = String::from("AccessionNumber,Note\n");
    for a in &accessions {
        rows.push_str(&format!("{a},x\n"));
    }
    rows.push_str("E2E-404,absent\n");
    std::fs::write(&csv, rows).unwrap();
    let retrieved = dir.path().join("retrieved");
    let out = Command::new(BIN)
        .args(["retrieve", "--pacs", &pacs.address(), "--aet", "ANONSCP"])
        .args(["--bind", "127.0.0.1", "--port", &receiver_port.to_string()])
        .args(["--script", "low", "--site-id", "5", "--jobs", "1"])
        .arg("--accessions")
        .arg(&csv)
        .arg("--output")
        .arg(&retrieved)
        .output()
        .unwrap();
    let (table, log) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "E2E-404 is absent\n{table}{log}"
    );
    assert!(table.contains("E2E-404\t\t\t\tnot found"), "{table}");
    // The structured reports lose their content under the low level: each
    // is quarantined on arrival (Invalid_Output), so its study is not
    // complete. Every other study is.
    let reports: Vec<&String> = accessions
        .iter()
        .filter(|a| {
            files.iter().any(|f| {
                let name = f.file_name().unwrap().to_string_lossy();
                name.starts_with(&a[4..])
                    && (name.ends_with("-test-SR.dcm") || name.ends_with("-reportsi.dcm"))
            })
        })
        .collect();
    assert_eq!(reports.len(), 2, "{accessions:?}");
    for a in &accessions {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("{a}\t")))
            .unwrap_or_else(|| panic!("no line for {a}:\n{table}"));
        if reports.contains(&a) {
            assert!(line.contains("\tincomplete: "), "{line}");
        } else {
            assert!(
                line.ends_with("\tcomplete"),
                "{a} is not complete:\n{table}{log}"
            );
        }
    }
    let report = std::fs::read_to_string(retrieved.join("quarantine/report.csv")).unwrap();
    assert_eq!(report.matches("Invalid_Output").count(), 2, "{report}");

    // The same files from disk, with a store of their own.
    let from_disk = dir.path().join("from-disk");
    let out = Command::new(BIN)
        .args([
            "anonymize",
            "--script",
            "low",
            "--site-id",
            "5",
            "--jobs",
            "1",
        ])
        .args(["--layout", "rsna"])
        .arg("--input")
        .arg(dir.path().join("in"))
        .arg("--output")
        .arg(&from_disk)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the reports are quarantined: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Deliver the retrieved tree to storescp.
    let port = free_port();
    let delivered = dir.path().join("delivered");
    // Bit-preserving: each data set is written exactly as it came.
    let _peer = Storescp::start("RESEARCH", &delivered, port, &["+B"]);
    let out = Command::new(BIN)
        .args([
            "send",
            "--aet",
            "ANONSCP",
            "--to",
            &format!("RESEARCH@127.0.0.1:{port}"),
        ])
        .arg("--input")
        .arg(&retrieved)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");

    let (sent, expected) = (by_instance(&delivered), by_instance(&from_disk));
    assert_eq!(sent.len(), files.len() - reports.len(), "{log}");
    assert_eq!(
        sent.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    // storescp wrote each data set exactly as it arrived (+B), behind a
    // meta group of its own: the data sets must be the bytes `anonymize`
    // wrote, so every element is equal, encoding included.
    for (uid, (path, obj)) in &sent {
        let (want_path, want) = &expected[uid];
        let tags_of = |o: &dicom_object::DefaultDicomObject| -> Vec<dicom_core::Tag> {
            o.iter().map(|e| e.header().tag).collect()
        };
        assert_eq!(tags_of(obj), tags_of(want), "{uid}: elements differ");
        let (got, wanted) = (data_set(path), data_set(want_path));
        if let Some(at) = got.iter().zip(&wanted).position(|(a, b)| a != b) {
            panic!(
                "{uid}: the data sets differ at byte {at} ({} vs {})",
                path.display(),
                want_path.display()
            );
        }
        assert_eq!(got.len(), wanted.len(), "{uid}: data set lengths differ");
    }
}

/// A DICOM file's data set: the bytes after its meta group.
fn data_set(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[128..132], b"DICM", "{}", path.display());
    let group = u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
    bytes[144 + group..].to_vec()
}
