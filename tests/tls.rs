//! DICOM over TLS, against dcmtk built with OpenSSL (an independent TLS
//! stack), on loopback ports: `serve` with a certificate and a CA takes
//! instances from dcmtk's `storescu +tls` and refuses plain TCP and
//! clients without a certificate from the CA; `echo` and `send` reach
//! dcmtk's `storescp +tls` and refuse a server whose certificate is not
//! from the CA they trust. Certificates are made by the test (rcgen).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::peers::{Storescp, free_port, tool as dcmtk};
use common::server::Server;
use common::trees::outputs;

const BIN: &str = env!("CARGO_BIN_EXE_dicom-anonymizer");

/// PEM files: a CA, a server and a client certificate it signed (both for
/// 127.0.0.1 and localhost), and a second CA nobody uses.
struct Pki {
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
    other_ca: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca = |name: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::CrlSign,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert, Issuer::new(params, key))
    };
    let (ca_cert, issuer) = ca("Test DICOM CA");
    let (other_cert, _) = ca("Another CA");
    let leaf = |name: &str, usage: rcgen::ExtendedKeyUsagePurpose| {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        (
            write(&format!("{name}.crt"), cert.pem()),
            write(&format!("{name}.key"), key.serialize_pem()),
        )
    };
    Pki {
        ca: write("ca.crt", ca_cert.pem()),
        server: leaf("server", rcgen::ExtendedKeyUsagePurpose::ServerAuth),
        client: leaf("client", rcgen::ExtendedKeyUsagePurpose::ClientAuth),
        other_ca: write("other-ca.crt", other_cert.pem()),
    }
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (1..=3u32)
        .map(|n| {
            let path = dir.join(format!("{n:02}.dcm"));
            common::synthetic::mr_file(&path, n, &format!("Secure^{n}"), "031Y");
            path
        })
        .collect()
}

fn echo(port: u16, tls: &[&Path]) -> (Option<i32>, String) {
    let mut command = Command::new(BIN);
    command.args([
        "echo",
        &format!("SECURE@127.0.0.1:{port}"),
        "--aet",
        "TESTER",
        "--timeout",
        "10",
    ]);
    let flags = ["--tls-ca", "--tls-cert", "--tls-key"];
    for (flag, path) in flags.iter().zip(tls) {
        command.arg(flag).arg(path);
    }
    let out = command.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_takes_instances_over_tls_only_from_certified_peers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let files = inputs(&dir.path().join("in"));
    let output = dir.path().join("out");
    let tls = |p: &Path| p.to_str().unwrap().to_string();
    let mut server = Server::start(
        &output,
        &[
            "--tls-cert",
            &tls(&pki.server.0),
            "--tls-key",
            &tls(&pki.server.1),
            "--tls-ca",
            &tls(&pki.ca),
        ],
    );
    let port = server.port.to_string();

    // dcmtk over TLS, presenting the client certificate.
    let sent = dcmtk("storescu")
        .args(["+tls"])
        .arg(&pki.client.1)
        .arg(&pki.client.0)
        .arg("+cf")
        .arg(&pki.ca)
        .args(["-aet", "TESTER", "-aec", "SECURE", "127.0.0.1", &port])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "storescu +tls: {}",
        String::from_utf8_lossy(&sent.stderr)
    );

    // Plain TCP gets nowhere.
    let plain = dcmtk("echoscu")
        .args([
            "-to",
            "5",
            "-aet",
            "TESTER",
            "-aec",
            "SECURE",
            "127.0.0.1",
            &port,
        ])
        .output()
        .unwrap();
    assert!(!plain.status.success(), "a plain association was accepted");

    // Our echo: with the client certificate it passes; without one, or
    // trusting another CA, it fails and says why.
    let (code, log) = echo(server.port, &[&pki.ca, &pki.client.0, &pki.client.1]);
    assert_eq!(code, Some(0), "{log}");
    let (code, log) = echo(server.port, &[&pki.ca]);
    assert_eq!(
        code,
        Some(1),
        "no client certificate must be refused: {log}"
    );
    let (code, log) = echo(server.port, &[&pki.other_ca]);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.to_lowercase().contains("certificate"),
        "the reason names the certificate: {log}"
    );
    // A certificate without its key is a usage error.
    let (code, log) = echo(server.port, &[&pki.ca, &pki.client.0]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("--tls-key"), "{log}");

    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("(TLS)"), "{log}");
    assert!(
        log.contains(&format!("{} stored, 0 failed", files.len())),
        "{log}"
    );
    assert_eq!(outputs(&output).len(), files.len(), "{log}");
}

#[test]
fn send_and_echo_reach_a_tls_peer_they_trust_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let files = inputs(&dir.path().join("in"));
    // An anonymized tree to send.
    let anon = dir.path().join("anon");
    let out = Command::new(BIN)
        .args(["anonymize", "--script", "low", "--site-id", "3"])
        .arg("--input")
        .arg(dir.path().join("in"))
        .arg("--output")
        .arg(&anon)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // dcmtk's storescp over TLS, requiring a client certificate from the CA.
    let port = free_port();
    let received = dir.path().join("received");
    let tls: [&std::ffi::OsStr; 5] = [
        "+tls".as_ref(),
        pki.server.1.as_os_str(),
        pki.server.0.as_os_str(),
        "+cf".as_ref(),
        pki.ca.as_os_str(),
    ];
    let _peer = Storescp::start("SECURE", &received, port, &tls);

    let (code, log) = echo(port, &[&pki.ca, &pki.client.0, &pki.client.1]);
    assert_eq!(code, Some(0), "{log}");
    let (code, log) = echo(port, &[&pki.other_ca, &pki.client.0, &pki.client.1]);
    assert_eq!(
        code,
        Some(1),
        "a server from another CA must not be trusted: {log}"
    );

    let send = |extra: &[&Path]| {
        let mut command = Command::new(BIN);
        command
            .args(["send", "--aet", "TESTER", "--timeout", "10"])
            .args(["--to", &format!("SECURE@127.0.0.1:{port}")])
            .arg("--input")
            .arg(&anon);
        for (flag, path) in ["--tls-ca", "--tls-cert", "--tls-key"].iter().zip(extra) {
            command.arg(flag).arg(path);
        }
        let out = command.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, log) = send(&[&pki.ca, &pki.client.0, &pki.client.1]);
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains(&format!("sent {} files", files.len())),
        "{log}"
    );
    assert_eq!(outputs(&received).len(), files.len());
}
