//! Real network peers for the tests, on loopback only: ports, the tools'
//! presence (a missing one fails the test: `tests/run.sh` installs them),
//! and waiting for a peer to listen.

use std::process::Command;
use std::time::{Duration, Instant};

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command-line peer (dcmtk's tools, Orthanc); its absence fails the test.
pub fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is missing: run the tests with tests/run.sh, which installs dcmtk and orthanc"
    );
    Command::new(name)
}

/// Wait until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// dcmtk's `storescp` as AE `aet` on 127.0.0.1:`port`, writing what it
/// receives into `dir` (created), with `options` before the rest (TLS,
/// bit-preserving…); killed when dropped.
pub struct Storescp(std::process::Child);

impl Storescp {
    pub fn start<S: AsRef<std::ffi::OsStr>>(
        aet: &str,
        dir: &std::path::Path,
        port: u16,
        options: &[S],
    ) -> Storescp {
        std::fs::create_dir_all(dir).unwrap();
        let child = tool("storescp")
            .args(options)
            .args(["-aet", aet, "+xa", "-od"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let peer = Storescp(child);
        wait_for_port(port, "storescp");
        peer
    }
}

impl Drop for Storescp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
