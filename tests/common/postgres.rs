//! A real PostgreSQL server for the shared-store tests: a cluster of its
//! own made with `initdb` in a temporary directory, listening on a free
//! loopback port, stopped when dropped. Run as the `postgres` user when the
//! tests run as root (PostgreSQL refuses root). A missing server fails the
//! test: `tests/run.sh` installs Debian's `postgresql`.
//!
//! Two roles: `admin` (trusted on loopback) and `worker`, who logs in with
//! the password [`WORKER_PASSWORD`] (SCRAM), as a site's workers would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const WORKER_PASSWORD: &str = "w0rker:pass";

pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    running: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is missing (no /usr/lib/postgresql/*/bin/initdb): run the tests with tests/run.sh, which installs Debian's postgresql"
        )
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The tests' settings: no waiting on the disk (a test's cluster is thrown
/// away).
pub const TEST_SETTINGS: &str = "fsync = off\nfull_page_writes = off\n";

impl Postgres {
    /// Make a cluster for a test and start it.
    pub fn start() -> Postgres {
        Postgres::start_with(TEST_SETTINGS)
    }

    /// Make a cluster with `settings` (postgresql.conf lines) and start it.
    pub fn start_with(settings: &str) -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "cannot give {} to the postgres user",
                dir.path().display()
            );
        }
        let pg = Postgres {
            dir,
            port: super::peers::free_port(),
            bin,
            running: false,
        };
        let data = pg.data();
        let out = pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "admin",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        assert!(out.status.success(), "initdb: {}", text(&out));
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nmax_connections = 60\n{settings}",
            pg.port,
            pg.dir.path().display()
        );
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all worker 127.0.0.1/32 scram-sha-256\nhost all admin 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let mut pg = pg;
        pg.start_server();
        pg.psql(
            "postgres",
            &format!("CREATE ROLE worker LOGIN PASSWORD '{WORKER_PASSWORD}'"),
        );
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Run one of the server's programs (as `postgres` when we are root).
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    }

    /// Start the server (again, after [`Postgres::stop_server`]).
    pub fn start_server(&mut self) {
        let log = self.dir.path().join("server.log");
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            text(&out),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        self.running = true;
    }

    /// Stop the server now, dropping every connection.
    pub fn stop_server(&mut self) {
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        assert!(out.status.success(), "pg_ctl stop: {}", text(&out));
        self.running = false;
    }

    /// Run SQL as `admin` in database `db`; panics on an error.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.run(
            "psql",
            &[
                "-h",
                self.dir.path().to_str().unwrap(),
                "-p",
                &self.port.to_string(),
                "-U",
                "admin",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
        );
        assert!(out.status.success(), "psql {sql}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A new database owned by `worker`; its URL for `admin`.
    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER worker"));
        self.url("admin", name)
    }

    pub fn url(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port)
    }

    /// A password file for `worker` (mode 0600) in the cluster's directory.
    pub fn worker_pgpass(&self) -> PathBuf {
        let path = self.dir.path().join("worker.pgpass");
        let escaped = WORKER_PASSWORD.replace('\\', "\\\\").replace(':', "\\:");
        std::fs::write(
            &path,
            format!("127.0.0.1:{}:*:worker:{escaped}\n", self.port),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.run(
                "pg_ctl",
                &[
                    "-D",
                    self.data().to_str().unwrap(),
                    "-m",
                    "immediate",
                    "stop",
                ],
            );
        }
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
