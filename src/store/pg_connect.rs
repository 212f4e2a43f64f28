//! Where a PostgreSQL store is, and how to log in: a
//! `postgres://USER@HOST:PORT/DB` (or `postgresql://`) URL, with the
//! password taken as libpq takes it, from `PGPASSWORD` or the password file
//! (`PGPASSFILE`, else `~/.pgpass`), never from the command line, where
//! every user of the machine could read it.

use std::path::PathBuf;
use std::str::FromStr;

use postgres::config::Host;

/// A PostgreSQL store's address and login.
#[derive(Clone)]
pub struct Target {
    pub config: postgres::Config,
}

impl std::fmt::Display for Target {
    /// The address without the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = self.host();
        let port = self.port();
        let user = self.config.get_user().unwrap_or("");
        let db = self.config.get_dbname().unwrap_or("");
        write!(f, "postgres://{user}@{host}:{port}/{db}")
    }
}

impl Target {
    /// Read a store URL; the password comes from the environment or the
    /// password file.
    pub fn parse(url: &str) -> Result<Target, String> {
        let mut config = postgres::Config::from_str(url).map_err(|e| {
            format!("not a PostgreSQL URL ({e}); expected postgres://USER@HOST:PORT/DB")
        })?;
        if config.get_password().is_some() {
            return Err(
                "the URL holds a password, which any user of this machine could read in the process list; put it in PGPASSWORD or ~/.pgpass instead".into(),
            );
        }
        if config.get_hosts().is_empty() {
            return Err("the URL names no host; expected postgres://USER@HOST:PORT/DB".into());
        }
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER")
                .ok()
                .or_else(|| std::env::var("USER").ok())
                .ok_or("the URL names no user, and neither PGUSER nor USER is set")?;
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            let user = config.get_user().unwrap_or_default().to_string();
            config.dbname(&user);
        }
        config.application_name("dicom-anonymizer");
        let mut target = Target { config };
        if let Some(password) = target.password()? {
            target.config.password(password);
        }
        Ok(target)
    }

    /// The first host, as the password file names it (a socket directory
    /// is `localhost`).
    fn host(&self) -> String {
        match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => String::new(),
        }
    }

    fn port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    /// `PGPASSWORD`, else the first matching line of the password file.
    fn password(&self) -> Result<Option<String>, String> {
        if let Ok(p) = std::env::var("PGPASSWORD") {
            return Ok(Some(p));
        }
        let Some(file) = password_file() else {
            return Ok(None);
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            return Ok(None);
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(&file)
                && meta.permissions().mode() & 0o077 != 0
            {
                eprintln!(
                    "warning: password file {} is readable by others (as libpq does, it is not used); chmod 0600 it",
                    file.display()
                );
                return Ok(None);
            }
        }
        let host = match self.config.get_hosts().first() {
            #[cfg(unix)]
            Some(Host::Unix(_)) => "localhost".to_string(),
            _ => self.host(),
        };
        let port = self.port().to_string();
        let wanted = [
            host.as_str(),
            port.as_str(),
            self.config.get_dbname().unwrap_or(""),
            self.config.get_user().unwrap_or(""),
        ];
        Ok(find_password(&text, &wanted))
    }
}

/// `PGPASSFILE`, else `~/.pgpass`.
fn password_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGPASSFILE") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass"))
}

/// The password of the first line of a password file whose host, port,
/// database and user fields match `wanted` (`*` matches anything; `\:` and
/// `\\` are a colon and a backslash).
pub fn find_password(text: &str, wanted: &[&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = fields[..4]
            .iter()
            .zip(wanted)
            .all(|(field, want)| field == "*" || field == want);
        if matches {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().unwrap().push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_file_matches_field_by_field_with_wildcards_and_escapes() {
        let file = "# comment\n\
                    otherhost:5432:*:alice:wrong\n\
                    127.0.0.1:5432:research:alice:s3cr\\:et\n\
                    *:*:*:*:fallback\n";
        let want = |h, p, d, u| find_password(file, &[h, p, d, u]);
        assert_eq!(
            want("127.0.0.1", "5432", "research", "alice").as_deref(),
            Some("s3cr:et")
        );
        assert_eq!(
            want("127.0.0.1", "5433", "research", "alice").as_deref(),
            Some("fallback")
        );
        assert_eq!(find_password("h:1:d:u:p\n", &["h", "1", "d", "v"]), None);
    }

    #[test]
    fn a_password_in_the_url_is_refused_and_the_address_shown_without_it() {
        let e = Target::parse("postgres://alice:hunter2@127.0.0.1:5432/db")
            .err()
            .unwrap();
        assert!(e.contains("PGPASSWORD"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let t = Target::parse("postgresql://alice@127.0.0.1:6543/research").unwrap();
        assert_eq!(t.to_string(), "postgres://alice@127.0.0.1:6543/research");
        assert!(Target::parse("postgres://").is_err());
    }
}
