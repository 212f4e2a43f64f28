//! Walking an input tree: which files there are, each with the key that
//! names it in the store and the report, and what could not be walked.
//!
//! A file's key is its path relative to the root, components joined with
//! `/`. Names are kept as the bytes they are: a path that is not UTF-8 gets
//! a key that starts with `/` (no relative path does) followed by the path
//! with each byte that is not part of valid UTF-8, and each `%`, written as
//! `%XX`. Keys are therefore distinct for distinct paths, and
//! [`rel_path`] gives the exact path back.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Regular files: (path, key), sorted by path (the order patients are
    /// numbered in).
    pub files: Vec<(PathBuf, String)>,
    /// Directories and entries that could not be read: (key, why).
    pub unreadable: Vec<(String, String)>,
    /// Symbolic links not followed.
    pub symlinks: usize,
    /// FIFOs, sockets and devices: never read.
    pub special: usize,
}

/// Walk `root`. Symbolic links are counted and not followed unless
/// `follow_links`. An entry that cannot be read is listed and the walk
/// goes on; only an unreadable root is an error.
pub fn walk(root: &Path, follow_links: bool) -> std::io::Result<Walk> {
    let mut found = Walk::default();
    for entry in walkdir::WalkDir::new(root).follow_links(follow_links) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let Some(path) = e.path() else {
                    return Err(std::io::Error::other(e));
                };
                if e.depth() == 0 {
                    return Err(std::io::Error::other(e));
                }
                let why = e
                    .io_error()
                    .map_or_else(|| e.to_string(), ToString::to_string);
                found.unreadable.push((key_under(root, path), why));
                continue;
            }
        };
        let kind = entry.file_type();
        if kind.is_file() {
            found
                .files
                .push((entry.path().to_path_buf(), key_under(root, entry.path())));
        } else if kind.is_symlink() {
            found.symlinks += 1;
        } else if !kind.is_dir() {
            found.special += 1;
        }
    }
    // In the order of the names' bytes (a key of a name that is not UTF-8
    // sorts apart from its neighbours).
    found.files.sort_by(|a, b| {
        a.0.as_os_str()
            .as_encoded_bytes()
            .cmp(b.0.as_os_str().as_encoded_bytes())
    });
    Ok(found)
}

/// The regular files under `root` (symbolic links not followed), sorted
/// by path; an entry that cannot be read is an error.
pub fn files(root: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let found = walk(root, false)?;
    match found.unreadable.first() {
        Some((key, why)) => Err(std::io::Error::other(format!("{key}: {why}"))),
        None => Ok(found.files),
    }
}

fn key_under(root: &Path, path: &Path) -> String {
    key_of(path.strip_prefix(root).unwrap_or(path))
}

/// The key of a relative path (see the module's documentation).
pub fn key_of(rel: &Path) -> String {
    let parts: Vec<&std::ffi::OsStr> = rel.components().map(|c| c.as_os_str()).collect();
    if let Some(text) = parts.iter().map(|p| p.to_str()).collect::<Option<Vec<_>>>() {
        return text.join("/");
    }
    let mut key = String::from("/");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push('/');
        }
        escape_into(part.as_encoded_bytes(), &mut key);
    }
    key
}

/// `bytes` with `%` and every byte outside valid UTF-8 as `%XX`.
fn escape_into(mut bytes: &[u8], out: &mut String) {
    loop {
        let (valid, rest) = match std::str::from_utf8(bytes) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (good, bad) = bytes.split_at(e.valid_up_to());
                (std::str::from_utf8(good).unwrap_or_default(), bad)
            }
        };
        for c in valid.chars() {
            match c {
                '%' => out.push_str("%25"),
                c => out.push(c),
            }
        }
        let Some((&bad, after)) = rest.split_first() else {
            return;
        };
        out.push_str(&format!("%{bad:02X}"));
        bytes = after;
    }
}

/// The relative path a key names (the inverse of [`key_of`]).
pub fn rel_path(key: &str) -> PathBuf {
    let Some(escaped) = key.strip_prefix('/') else {
        return PathBuf::from(key);
    };
    let mut bytes = Vec::with_capacity(escaped.len());
    let mut rest = escaped.as_bytes();
    while let Some((&b, after)) = rest.split_first() {
        if b == b'%'
            && let Some(hex) = after.get(..2)
            && let Some(v) = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            bytes.push(v);
            rest = &after[2..];
        } else {
            bytes.push(b);
            rest = after;
        }
    }
    PathBuf::from(os_string_from_bytes(bytes))
}

#[cfg(unix)]
fn os_string_from_bytes(bytes: Vec<u8>) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes)
}

#[cfg(not(unix))]
fn os_string_from_bytes(bytes: Vec<u8>) -> OsString {
    OsString::from(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn keys_are_distinct_and_give_the_exact_path_back() {
        let paths: Vec<PathBuf> = [
            &b"a\xe9.dcm"[..],
            b"a\xff.dcm",
            b"a%E9.dcm",
            b"a\xef\xbf\xbd.dcm", // U+FFFD itself
            b"dir\xe9/b%25.dcm",
            b"plain/b.dcm",
        ]
        .iter()
        .map(|b| PathBuf::from(std::ffi::OsStr::from_bytes(b)))
        .collect();
        let keys: Vec<String> = paths.iter().map(|p| key_of(p)).collect();
        let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{keys:?}");
        for (p, k) in paths.iter().zip(&keys) {
            assert_eq!(&rel_path(k), p, "{k}");
        }
        assert_eq!(keys[0], "/a%E9.dcm");
        assert_eq!(keys[2], "a%E9.dcm", "UTF-8 names are their own key");
        assert_eq!(keys[4], "/dir%E9/b%2525.dcm");
    }
}
