//! Measuring a child process, for the benches: wall and CPU time and its
//! own peak memory.

use std::process::Command;
use std::time::Instant;

/// What one child process cost.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    pub wall: f64,
    /// User + system CPU seconds.
    pub cpu: f64,
    /// Peak resident set, MB: the child's own high-water mark (`VmHWM`),
    /// read every millisecond while it runs. (`wait4`'s `ru_maxrss` would
    /// also count this bench's own memory, which a spawned child inherits
    /// as its high-water mark until it execs.)
    pub peak_mb: f64,
}

/// Run `cmd` to its end; its cost, and what it wrote on stderr. Fails the
/// bench when it fails.
#[allow(clippy::zombie_processes)] // reaped by wait4, which gives its rusage
pub fn measure(cmd: &mut Command) -> (Cost, String) {
    use std::io::Read;
    let start = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let pid = child.id();
    let watcher = std::thread::spawn(move || {
        let mut peak_kb = 0u64;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        peak_kb
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child's, not yet waited for (the Child
    // is dropped without waiting).
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    assert!(pid > 0, "wait4: {}", std::io::Error::last_os_error());
    let text = reader.join().unwrap();
    let peak_kb = watcher.join().unwrap();
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    assert!(exited_ok, "{cmd:?} failed: {text}");
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cost = Cost {
        wall,
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_mb: peak_kb as f64 / 1024.0,
    };
    (cost, text)
}
