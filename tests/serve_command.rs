//! `serve` and `echo` against real DICOM peers: dcmtk's `storescu` and
//! `echoscu` (Debian's dcmtk, installed by `tests/run.sh`), on loopback
//! ports only. What `serve` receives comes out byte for byte as
//! `anonymize` writes the same files; a sender that goes away mid-instance
//! leaves nothing; a restart finishes the spool; concurrent senders each
//! get every instance stored once; unknown AE titles are turned away.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dicom-anonymizer");

use common::peers::{Storescp, free_port, tool as dcmtk};
use common::server::Server;
use common::trees::outputs;

fn storescu(port: u16, calling: &str, files: &[PathBuf]) -> std::process::Output {
    dcmtk("storescu")
        .args([
            "-aet",
            calling,
            "-aec",
            "ANONSCP",
            "127.0.0.1",
            &port.to_string(),
        ])
        .args(files)
        .output()
        .unwrap()
}

/// `storescu`, which must succeed (every instance acknowledged).
fn send_all(port: u16, calling: &str, files: &[PathBuf]) {
    let out = storescu(port, calling, files);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `anonymize` of files on disk with the settings `Server::start` serves
/// with (script low, site 7, one job, the RSNA layout), and `extra`.
fn anonymize_as_served(input: &Path, output: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args([
            "anonymize",
            "--script",
            "low",
            "--site-id",
            "7",
            "--jobs",
            "1",
        ])
        .args(["--layout", "rsna"])
        .args(extra)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .output()
        .unwrap()
}

/// Input files named so that their sorted order is the order they are sent
/// in (patients are numbered in order of first sight in both commands).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for n in 1..=6u32 {
        let path = dir.join(format!("{n:02}-synthetic.dcm"));
        common::synthetic::mr_file(&path, n, &format!("Patient^{n}"), "042Y");
        files.push(path);
    }
    // Two real files in explicit VR little endian, which storescu sends as
    // they are (no transfer syntax conversion).
    let corpus = common::reference::pydicom_corpus();
    for (i, name) in ["CT_small.dcm", "MR_small.dcm"].iter().enumerate() {
        if let Some(corpus) = &corpus {
            let path = dir.join(format!("{:02}-{name}", 7 + i));
            std::fs::copy(corpus.join("test_files").join(name), &path).unwrap();
            files.push(path);
        }
    }
    files
}

#[test]
fn received_instances_come_out_as_anonymize_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let files = inputs(&input);
    let served = dir.path().join("served");
    let mut server = Server::start(&served, &["--allow", "TESTER@127.0.0.1"]);

    // Verification, from dcmtk and from our own echo.
    let echo = dcmtk("echoscu")
        .args([
            "-aet",
            "TESTER",
            "-aec",
            "ANONSCP",
            "127.0.0.1",
            &server.port.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        echo.status.success(),
        "{}",
        String::from_utf8_lossy(&echo.stderr)
    );
    let ours = Command::new(BIN)
        .args([
            "echo",
            "--aet",
            "TESTER",
            &format!("ANONSCP@127.0.0.1:{}", server.port),
        ])
        .output()
        .unwrap();
    assert_eq!(
        ours.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    // An AE title not allowed is turned away at association.
    let intruder = dcmtk("echoscu")
        .args([
            "-aet",
            "INTRUDER",
            "-aec",
            "ANONSCP",
            "127.0.0.1",
            &server.port.to_string(),
        ])
        .output()
        .unwrap();
    assert!(!intruder.status.success());
    assert!(
        String::from_utf8_lossy(&intruder.stderr).contains("Calling AE Title Not Recognized"),
        "{}",
        String::from_utf8_lossy(&intruder.stderr)
    );

    send_all(server.port, "TESTER", &files);
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert!(
        log.contains("association from TESTER@127.0.0.1:")
            && log.contains(&format!("{} stored, 0 failed", files.len())),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("association from INTRUDER@127.0.0.1:") && l.contains("refused")),
        "the refused association is logged with its calling AE title: {log}"
    );
    let spool = served.join(".anonymizer/spool");
    assert_eq!(
        std::fs::read_dir(&spool).unwrap().count(),
        0,
        "the spool is emptied"
    );

    // The same files from disk, with a store of their own.
    let from_disk = dir.path().join("from-disk");
    let anonymized = anonymize_as_served(&input, &from_disk, &[]);
    assert!(
        anonymized.status.success(),
        "{}",
        String::from_utf8_lossy(&anonymized.stderr)
    );
    let (a, b) = (outputs(&served), outputs(&from_disk));
    assert_eq!(a.len(), files.len());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (rel, bytes) in &a {
        assert!(
            bytes == &b[rel],
            "{rel} differs between serve and anonymize"
        );
    }
}

#[test]
fn a_restart_finishes_the_spool_and_drops_partial_instances() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let spool = output.join(".anonymizer/spool");
    // What a killed receiver left: one instance committed, one half-written.
    common::synthetic::mr_file(
        &spool.join("00000000000000000001-1-000000.dcm"),
        1,
        "Left^Over",
        "030Y",
    );
    std::fs::write(
        spool.join(".incoming-00000000000000000002-1-000001.dcm"),
        b"partial",
    )
    .unwrap();
    let mut server = Server::start(&output, &[]);
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0, "{log}");
    let written = outputs(&output);
    assert_eq!(written.len(), 1, "{log}");
    let (rel, _) = written.iter().next().unwrap();
    let obj = dicom_object::open_file(output.join(rel)).unwrap();
    let name = obj
        .element(dicom_dictionary_std::tags::PATIENT_NAME)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(!name.contains("Left"), "{name}");
}

#[test]
fn concurrent_senders_each_instance_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let mut server = Server::start(&output, &["--max-associations", "4"]);
    let mut sets = Vec::new();
    for s in 0..4u32 {
        let mut files = Vec::new();
        for k in 0..5u32 {
            let n = 100 + s * 10 + k;
            let path = dir.path().join(format!("in{s}/{k}.dcm"));
            common::synthetic::mr_file(&path, n, &format!("Sender{s}^{k}"), "050Y");
            files.push(path);
        }
        sets.push(files);
    }
    let port = server.port;
    let senders: Vec<_> = sets
        .into_iter()
        .enumerate()
        .map(|(s, files)| std::thread::spawn(move || send_all(port, &format!("SENDER{s}"), &files)))
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert_eq!(log.matches(": 5 stored, 0 failed").count(), 4, "{log}");
    assert_eq!(outputs(&output).len(), 20, "{log}");
    let conn = rusqlite::Connection::open(output.join(".anonymizer/store.sqlite")).unwrap();
    let done: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM files WHERE status = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(done, 20);
}

#[test]
fn a_sender_that_goes_away_mid_instance_leaves_nothing() {
    use dicom_ul::pdu::{PDataValue, PDataValueType};
    use dicom_ul::{ClientAssociationOptions, Pdu};
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let mut server = Server::start(&output, &[]);
    let mut association = ClientAssociationOptions::new()
        .calling_ae_title("HALFWAY")
        .called_ae_title("ANONSCP")
        .with_presentation_context("1.2.840.10008.5.1.4.1.1.4", vec!["1.2.840.10008.1.2.1"])
        .establish(("127.0.0.1", server.port))
        .unwrap();
    let context = association.presentation_contexts()[0].id;
    // A C-STORE-RQ command set (implicit VR little endian, with its group length).
    let mut command = Vec::new();
    let mut element = |tag: (u16, u16), value: &[u8]| {
        command.extend_from_slice(&tag.0.to_le_bytes());
        command.extend_from_slice(&tag.1.to_le_bytes());
        command.extend_from_slice(&(value.len() as u32).to_le_bytes());
        command.extend_from_slice(value);
    };
    element((0x0000, 0x0002), b"1.2.840.10008.5.1.4.1.1.4\0");
    element((0x0000, 0x0100), &1u16.to_le_bytes());
    element((0x0000, 0x0110), &1u16.to_le_bytes());
    element((0x0000, 0x0700), &0u16.to_le_bytes());
    element((0x0000, 0x0800), &0u16.to_le_bytes());
    element((0x0000, 0x1000), b"2.25.999\0");
    let mut full = Vec::new();
    full.extend_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
    full.extend_from_slice(&(command.len() as u32).to_le_bytes());
    full.extend_from_slice(&command);
    association
        .send(&Pdu::PData {
            data: vec![
                PDataValue {
                    presentation_context_id: context,
                    value_type: PDataValueType::Command,
                    is_last: true,
                    data: full,
                },
                PDataValue {
                    presentation_context_id: context,
                    value_type: PDataValueType::Data,
                    is_last: false,
                    data: vec![
                        0x10, 0x00, 0x10, 0x00, b'P', b'N', 8, 0, b'H', b'a', b'l', b'f',
                    ],
                },
            ],
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(association); // the connection closes mid-instance
    std::thread::sleep(Duration::from_millis(200));
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert!(
        log.contains("HALFWAY") && log.contains("0 stored, 1 failed"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_dir(output.join(".anonymizer/spool"))
            .unwrap()
            .count(),
        0
    );
    assert!(outputs(&output).is_empty(), "{log}");
}

#[test]
fn echo_names_the_peer_it_could_not_reach() {
    // A port nothing listens on: bind one, then free it.
    let port = free_port();
    let out = Command::new(BIN)
        .args([
            "echo",
            "--timeout",
            "2",
            &format!("NOBODY@127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("NOBODY@127.0.0.1:{port}")),
        "{stderr}"
    );
    let bad = Command::new(BIN)
        .args(["echo", "no-at-sign"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_receiver_killed_mid_transfer_then_restarted_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for n in 0..300u32 {
        let path = dir.path().join(format!("in/{n:03}.dcm"));
        common::synthetic::mr_file(&path, 1000 + n, &format!("Kill^{}", n % 7), "060Y");
        files.push(path);
    }
    let output = dir.path().join("out");
    let mut server = Server::start(&output, &[]);
    let port = server.port;
    let sender = {
        let files = files.clone();
        std::thread::spawn(move || storescu(port, "TESTER", &files))
    };
    // Once some instances are in, SIGKILL: no chance to finish anything.
    let spool = output.join(".anonymizer/spool");
    let started = Instant::now();
    while outputs(&output).len() + std::fs::read_dir(&spool).map_or(0, |d| d.count()) < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let first = sender.join().unwrap();
    // The sender retries everything, into a restarted receiver.
    let mut server = Server::start(&output, &[]);
    send_all(server.port, "TESTER", &files);
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0, "{log}");
    let written = outputs(&output);
    assert_eq!(
        written.len(),
        files.len(),
        "every instance once (the first sender {} before the kill)\n{log}",
        if first.status.success() {
            "had finished"
        } else {
            "was cut off"
        }
    );
    assert!(written.keys().all(|k| !k.contains(".anon-tmp")), "{log}");
    let conn = rusqlite::Connection::open(output.join(".anonymizer/store.sqlite")).unwrap();
    let instances: i64 = conn
        .query_row("SELECT COUNT(*) FROM instances", [], |r| r.get(0))
        .unwrap();
    assert_eq!(instances as usize, files.len());
}

#[test]
fn forwarded_instances_reach_a_destination_that_comes_up_late() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let port = free_port();
    let destination = format!("RESEARCH@127.0.0.1:{port}");
    let mut server = Server::start(&output, &["--forward", &destination]);
    let mut files = Vec::new();
    for n in 0..3u32 {
        let path = dir.path().join(format!("in/{n}.dcm"));
        common::synthetic::mr_file(&path, 2000 + n, "Forward^Me", "045Y");
        files.push(path);
    }
    send_all(server.port, "TESTER", &files);
    // The destination is down: the worker keeps what it could not forward.
    let started = Instant::now();
    while !server.log.lock().unwrap().contains("kept for a retry") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            server.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let received = dir.path().join("received");
    std::fs::create_dir_all(&received).unwrap();
    let storescp = Storescp::start("RESEARCH", &received, port, &[] as &[&str]);
    let (status, log) = server.stop();
    drop(storescp);
    assert!(status.success(), "{log}");
    assert!(
        log.contains(&format!("forwarded 3 to {destination}")),
        "{log}"
    );
    assert_eq!(std::fs::read_dir(&received).unwrap().count(), 3, "{log}");
    let conn = rusqlite::Connection::open(output.join(".anonymizer/store.sqlite")).unwrap();
    let recorded: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sent WHERE destination = ?1",
            [&destination],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded, 3);
    drop(conn);

    // Owed across a restart: one more instance while the destination is
    // down, then a run with the destination up and nothing new to receive.
    let mut server = Server::start(&output, &["--forward", &destination]);
    let late = dir.path().join("in/late.dcm");
    common::synthetic::mr_file(&late, 2100, "Forward^Later", "045Y");
    send_all(server.port, "TESTER", &[late]);
    let (status, log) = server.stop();
    assert!(log.contains("kept for a retry"), "{log}");
    let _ = status;
    let storescp = Storescp::start("RESEARCH", &received, port, &[] as &[&str]);
    let mut server = Server::start(&output, &["--forward", &destination]);
    let (status, log) = server.stop();
    drop(storescp);
    assert!(status.success(), "{log}");
    assert!(
        log.contains(&format!("forwarded 1 to {destination}")),
        "only what is owed goes: {log}"
    );
    assert_eq!(std::fs::read_dir(&received).unwrap().count(), 4, "{log}");
}

#[test]
fn unknown_sop_classes_and_unwritable_transfer_syntaxes_are_refused_at_negotiation() {
    use dicom_ul::pdu::{
        AssociationRQ, Pdu, PresentationContextProposed, PresentationContextResultReason as Reason,
        UserVariableItem, read_pdu, write_pdu,
    };
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("out"), &[]);
    let ct = "1.2.840.10008.5.1.4.1.1.2";
    let context = |id: u8, class: &str, ts: &str| PresentationContextProposed {
        id,
        abstract_syntax: class.to_string(),
        transfer_syntaxes: vec![ts.to_string()],
    };
    // The A-ASSOCIATE-RQ by hand, to read the result of each context.
    let request = Pdu::AssociationRQ(AssociationRQ {
        protocol_version: 1,
        calling_ae_title: "TESTER".into(),
        called_ae_title: "ANONSCP".into(),
        application_context_name: "1.2.840.10008.3.1.1.1".into(),
        presentation_contexts: vec![
            // Not a storage SOP class of the standard.
            context(1, "1.2.3.4.5.6.7", "1.2.840.10008.1.2.1"),
            // A storage class, in a transfer syntax nobody can read.
            context(3, ct, "1.2.3.999"),
            // One the receiver takes.
            context(5, ct, "1.2.840.10008.1.2.1"),
        ],
        user_variables: vec![
            UserVariableItem::MaxLength(16384),
            UserVariableItem::ImplementationClassUID("1.2.3.4".into()),
        ],
    });
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut bytes = Vec::new();
    write_pdu(&mut bytes, &request).unwrap();
    std::io::Write::write_all(&mut stream, &bytes).unwrap();
    let mut head = [0u8; 6];
    stream.read_exact(&mut head).unwrap();
    let length = u32::from_be_bytes(head[2..6].try_into().unwrap()) as usize;
    let mut answer = head.to_vec();
    answer.resize(6 + length, 0);
    stream.read_exact(&mut answer[6..]).unwrap();
    let Some(Pdu::AssociationAC(ac)) = read_pdu(&answer[..], 65536, false).unwrap() else {
        panic!("not an A-ASSOCIATE-AC");
    };
    let reasons: Vec<(u8, Reason)> = ac
        .presentation_contexts
        .iter()
        .map(|pc| (pc.id, pc.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        [
            (1, Reason::AbstractSyntaxNotSupported),
            (3, Reason::TransferSyntaxesNotSupported),
            (5, Reason::Acceptance),
        ],
    );
    let mut release = Vec::new();
    write_pdu(&mut release, &Pdu::ReleaseRQ).unwrap();
    std::io::Write::write_all(&mut stream, &release).unwrap();
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
}

#[test]
fn received_instances_are_filtered_and_their_burned_in_text_blanked() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let files = inputs(&input);
    if files.len() < 8 {
        return; // no pydicom corpus here (said loudly by the fetch)
    }
    let pixel = dir.path().join("p.script");
    std::fs::write(&pixel, "{ Modality.equals(\"CT\") }\n(0,0,20,20)\n").unwrap();
    let filter = dir.path().join("f.filter");
    std::fs::write(&filter, "!PatientName.equals(\"Patient^3\")").unwrap();
    let stages = [
        "--pixel-script",
        pixel.to_str().unwrap(),
        "--filter",
        filter.to_str().unwrap(),
    ];
    let served = dir.path().join("served");
    let mut extra = vec!["--allow", "TESTER@127.0.0.1"];
    extra.extend(stages);
    let mut server = Server::start(&served, &extra);
    send_all(server.port, "TESTER", &files);
    let (_, log) = server.stop();
    // Instances are anonymized in batches as they arrive: one blanked, one
    // quarantined by the filter (the default action), in some batch.
    assert!(log.contains("burned-in text blanked 1;"), "{log}");
    assert!(log.contains("quarantined 1"), "{log}");
    let filtered = walkdir::WalkDir::new(served.join("quarantine/Filtered"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(filtered, 1);

    let from_disk = dir.path().join("from-disk");
    let anonymized = anonymize_as_served(&input, &from_disk, &stages);
    let stderr = String::from_utf8_lossy(&anonymized.stderr);
    assert!(
        stderr.contains("cleaned from the pixels (pixel script, text detector): 1 files"),
        "{stderr}"
    );
    let (a, b) = (outputs(&served), outputs(&from_disk));
    assert_eq!(a.len(), files.len() - 1);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (rel, bytes) in &a {
        assert!(
            bytes == &b[rel],
            "{rel} differs between serve and anonymize"
        );
    }
}
