//! `AET@HOST:PORT`: an application entity's title and where it listens.

use std::fmt;
use std::str::FromStr;

/// A remote application entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AeAddress {
    pub ae_title: String,
    pub host: String,
    pub port: u16,
}

/// Whether `title` is a valid AE title: 1 to 16 characters of the default
/// repertoire, no backslash or control character, not all spaces.
pub fn valid_ae_title(title: &str) -> Result<(), String> {
    if title.trim().is_empty() || title.len() > 16 {
        return Err(format!("AE title {title:?} must have 1 to 16 characters"));
    }
    if !title
        .bytes()
        .all(|b| (0x20..0x7F).contains(&b) && b != b'\\')
    {
        return Err(format!(
            "AE title {title:?} may hold only printable ASCII characters other than `\\`"
        ));
    }
    Ok(())
}

impl FromStr for AeAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let shape = || format!("{s:?} is not AET@HOST:PORT");
        let (ae_title, rest) = s.split_once('@').ok_or_else(shape)?;
        valid_ae_title(ae_title)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(shape)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(shape());
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{s:?}: the port must be a number from 1 to 65535"))?;
        Ok(AeAddress {
            ae_title: ae_title.to_string(),
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for AeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}@[{}]:{}", self.ae_title, self.host, self.port)
        } else {
            write!(f, "{}@{}:{}", self.ae_title, self.host, self.port)
        }
    }
}

impl AeAddress {
    /// `HOST:PORT`, for connecting.
    pub fn socket(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_back() {
        let a: AeAddress = "ORTHANC@127.0.0.1:4242".parse().unwrap();
        assert_eq!(a.ae_title, "ORTHANC");
        assert_eq!(a.socket(), "127.0.0.1:4242");
        assert_eq!(a.to_string(), "ORTHANC@127.0.0.1:4242");
        let b: AeAddress = "PACS@[::1]:104".parse().unwrap();
        assert_eq!(b.host, "::1");
        assert_eq!(b.socket(), "[::1]:104");
        assert_eq!(b.to_string(), "PACS@[::1]:104");
        for bad in [
            "ORTHANC",
            "@127.0.0.1:4242",
            "A@:4242",
            "A@host",
            "A@host:0",
            "A@host:70000",
            "SEVENTEEN_CHARS_X@h:1",
            "A\\B@h:1",
        ] {
            assert!(bad.parse::<AeAddress>().is_err(), "{bad}");
        }
    }
}
