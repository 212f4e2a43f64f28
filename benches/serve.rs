//! `cargo bench --bench serve`: dcmtk's `storescu` sends 2,000 files (the
//! explicit VR little endian, uncompressed files of pydicom's test data,
//! repeated with fresh SOPInstanceUIDs) over loopback, once into
//! `dicom-anonymizer serve` and once into dcmtk's `storescp` (which only
//! stores them), in alternating rounds. Prints the median times and their
//! ratio; asserts nothing (target: `serve` within 1.3× of `storescp`).
//! For `serve` two times are printed: until the sender is done (every
//! instance acknowledged, i.e. synced into the spool) and until every
//! instance is anonymized (the receiver stopped after its spool emptied).
//! Needs dcmtk (`tests/run.sh` installs it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};

const FILES: usize = 2000;
const ROUNDS: usize = 3;

fn fetch(what: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("tests/fetch_reference.sh"))
        .arg(what)
        .output()
        .expect("run fetch_reference.sh");
    assert!(out.status.success(), "fetch {what}");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Uncompressed explicit VR little endian files with the UIDs a store needs.
fn sources(corpus: &Path) -> Vec<dicom_object::DefaultDicomObject> {
    let mut names: Vec<_> = std::fs::read_dir(corpus.join("test_files"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    names.sort();
    names
        .iter()
        .filter_map(|p| dicom_object::open_file(p).ok())
        .filter(|obj| {
            obj.meta().transfer_syntax().trim_end_matches('\0') == uids::EXPLICIT_VR_LITTLE_ENDIAN
                && [
                    tags::SOP_CLASS_UID,
                    tags::SOP_INSTANCE_UID,
                    tags::STUDY_INSTANCE_UID,
                    tags::SERIES_INSTANCE_UID,
                ]
                .iter()
                .all(|t| obj.get(*t).is_some())
                && obj
                    .get(tags::SOP_INSTANCE_UID)
                    .is_some_and(|e| e.to_str().unwrap_or_default().len() <= 56)
                // storescu proposes no context for segmentations.
                && !obj
                    .meta()
                    .media_storage_sop_class_uid()
                    .starts_with("1.2.840.10008.5.1.4.1.1.66")
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn send(port: u16, input: &Path) -> f64 {
    let started = Instant::now();
    // dcmtk leaves Nagle's algorithm on unless TCP_NODELAY is set: each
    // file would then wait out a delayed ACK (~40 ms) on loopback.
    let out = Command::new("storescu")
        .env("TCP_NODELAY", "1")
        .args([
            "-aet",
            "BENCH",
            "-aec",
            "TARGET",
            "+sd",
            "127.0.0.1",
            &port.to_string(),
        ])
        .arg(input)
        .output()
        .expect("run storescu (dcmtk)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}

fn stop(mut child: Child) {
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    child.wait().unwrap();
}

fn storescp_round(input: &Path, out: &Path) -> f64 {
    std::fs::create_dir_all(out).unwrap();
    let port = free_port();
    let child = Command::new("storescp")
        .env("TCP_NODELAY", "1")
        .args(["-aet", "TARGET", "-pm", "-od"])
        .arg(out)
        .arg(port.to_string())
        .stderr(Stdio::null())
        .spawn()
        .expect("run storescp (dcmtk)");
    wait_for_port(port);
    let t = send(port, input);
    stop(child);
    assert_eq!(std::fs::read_dir(out).unwrap().count(), FILES);
    t
}

fn serve_round(input: &Path, out: &Path) -> (f64, f64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args([
            "serve",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--aet",
            "TARGET",
        ])
        .args(["--script", "low", "--site-id", "9", "--output"])
        .arg(out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("serve printed its port").unwrap();
        if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
            break rest.split(';').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let started = Instant::now();
    let acknowledged = send(port, input);
    stop(child);
    (acknowledged, started.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let corpus = fetch("pydicom-corpus");
    let sources = sources(&corpus);
    assert!(!sources.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let mut bytes = 0u64;
    for i in 0..FILES {
        let mut obj = sources[i % sources.len()].clone();
        let sop = format!(
            "{}.{i}",
            obj.get(tags::SOP_INSTANCE_UID)
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches('\0')
        );
        // Keep UIDs of even length: the meta group is written as given.
        let sop = if sop.len() % 2 == 1 {
            format!("{sop}.10")
        } else {
            sop
        };
        obj.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(sop.as_str()),
        ));
        let obj = obj
            .into_inner()
            .with_meta(
                dicom_object::meta::FileMetaTableBuilder::new()
                    .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN),
            )
            .unwrap();
        let path = input.join(format!("{i:05}.dcm"));
        obj.write_to_file(&path).unwrap();
        bytes += std::fs::metadata(&path).unwrap().len();
    }
    println!(
        "serve bench: {FILES} files ({:.1} MB, {} sources) sent by storescu over loopback, {ROUNDS} rounds",
        bytes as f64 / 1e6,
        sources.len()
    );
    let (mut scp, mut acked, mut done) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        scp.push(storescp_round(
            &input,
            &tmp.path().join(format!("scp{round}")),
        ));
        let (a, d) = serve_round(&input, &tmp.path().join(format!("serve{round}")));
        acked.push(a);
        done.push(d);
    }
    let (scp, acked, done) = (median(scp), median(acked), median(done));
    println!("  storescp (stores only):              {scp:.2} s");
    println!(
        "  serve, until every instance is acknowledged: {acked:.2} s ({:.2}x storescp)",
        acked / scp
    );
    println!(
        "  serve, until every instance is anonymized:  {done:.2} s ({:.2}x storescp)",
        done / scp
    );
}
