//! Our own `serve`, started for one test on a free loopback port (port 0:
//! it prints the port it got) and stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dicom-anonymizer");

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// `serve --script low`, with `extra` arguments.
    pub fn start(output: &Path, extra: &[&str]) -> Server {
        Server::start_with(output, "low", extra)
    }

    /// `serve --script SCRIPT`, with `extra` arguments.
    pub fn start_with(output: &Path, script: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--aet",
                "ANONSCP",
            ])
            .args(["--script", script, "--site-id", "7", "--jobs", "1"])
            .arg("--output")
            .arg(output)
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let started = Instant::now();
        let port = loop {
            let text = log.lock().unwrap().clone();
            if let Some(rest) = text.split("listening on 127.0.0.1:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                break digits.parse().unwrap();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("serve exited with {status}:\n{text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Server { child, port, log }
    }

    /// SIGTERM, then wait: open associations finish and the spool is emptied.
    pub fn stop(&mut self) -> (ExitStatus, String) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                panic!("serve did not stop:\n{}", self.log.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(50));
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }
}

impl Drop for Server {
    /// A test that fails half-way leaves no receiver running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
