//! `serve` with the high-level policy (DEFACE=yes): a head series sent by
//! dcmtk's `storescu` is held until it is complete, then defaced whole, and
//! comes out byte for byte as `anonymize` writes the same files (same
//! script, layout and site); an image that is not a head is not held back.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::head_phantom::{Contrast, Identity, Rng, Template, axial_volume, write_series};
use common::peers::tool as dcmtk;
use common::server::Server;
use common::trees::outputs;
use dicom_anonymizer::deface::canonical::Modality;
use dicom_anonymizer::deface::resample::pose;

const BIN: &str = env!("CARGO_BIN_EXE_dicom-anonymizer");

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

#[test]
fn a_head_series_received_is_defaced_whole_as_anonymize_defaces_it() {
    let template = Template::load().expect("pydeface's template (tests/fetch_reference.sh)");
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let mut rng = Rng::new(21);
    let ct = axial_volume(
        &template,
        Contrast::Ct,
        pose([4.0, -2.0, 5.0], 1.0, [2.0, -3.0, 1.0], template.centre),
        [128, 90],
        2.0,
        &mut rng,
    );
    let head = Identity {
        patient_name: "Face^OnTheWire",
        patient_id: "P-31",
        uid: 431,
        body_part: "HEAD",
        description: "Head",
    };
    write_series(&input.join("head"), &ct, Modality::Ct, &head);
    // An image that is no head (no volume: one MR slice).
    common::synthetic::mr_file(&input.join("other/one.dcm"), 9, "Not^AHead", "050Y");
    let files = files_under(&input);

    let served = tmp.path().join("served");
    let qa = tmp.path().join("qa");
    let mut server = Server::start_with(
        &served,
        "high",
        &["--series-quiet", "1", "--deface-qa", qa.to_str().unwrap()],
    );
    // The head in two associations: its series stays held in between.
    let (first, second) = files.split_at(files.len() / 2);
    for part in [first, second] {
        let out = dcmtk("storescu")
            .args(["-aet", "MODALITY", "-aec", "ANONSCP", "127.0.0.1"])
            .arg(server.port.to_string())
            .args(part)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert_eq!(
        log.matches("serve: deface: series").count(),
        1,
        "the head series is judged once, whole: {log}"
    );
    assert!(log.contains("(90 files): defaced ("), "{log}");
    // The slice that is no head went through on its own, not held with it.
    assert!(log.contains("anonymized 1 instances"), "{log}");

    let from_disk = tmp.path().join("from-disk");
    let anonymized = Command::new(BIN)
        .args([
            "anonymize",
            "--script",
            "high",
            "--site-id",
            "7",
            "--jobs",
            "1",
        ])
        .args(["--layout", "rsna"])
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&from_disk)
        .output()
        .unwrap();
    assert!(
        anonymized.status.success(),
        "{}",
        String::from_utf8_lossy(&anonymized.stderr)
    );
    let (a, b) = (outputs(&served), outputs(&from_disk));
    assert_eq!(a.len(), files.len(), "{log}");
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (rel, bytes) in &a {
        assert!(
            bytes == &b[rel],
            "{rel} differs between serve and anonymize"
        );
    }
    // One QA sheet, for the head, named after its series' output folder.
    let sheets = files_under(&qa);
    assert_eq!(sheets.len(), 1, "{sheets:?}\n{log}");
    assert!(log.contains("serve: deface: QA sheet "), "{log}");
    let sheet = sheets[0]
        .strip_prefix(&qa)
        .unwrap()
        .to_string_lossy()
        .to_string();
    let sheet = PathBuf::from(sheet.strip_suffix(".png").expect("a .png"));
    let head_folder = a
        .keys()
        .map(|rel| Path::new(rel).parent().unwrap().to_path_buf())
        .filter(|folder| *folder == sheet)
        .count();
    assert_eq!(head_folder, 90, "{sheet:?} is not the head's output folder");
    let png = std::fs::read(&sheets[0]).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sheets[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
