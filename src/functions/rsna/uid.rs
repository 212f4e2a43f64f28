//! `@uid`: replace a UID with a deterministic one.
//!
//! Reference: `AnonymizerModel._create_anon_uid`. The new UID is
//! `<uid root>.<site id>.2.` followed by the decimal MD5 digest of the
//! original UID (UTF-8), reduced modulo 10^k where k is what is left of the
//! 64 characters a UID may have. The same original always gives the same
//! new UID, in any run, on any machine.
//!
//! Like the reference, this does not check that the root and site ID are
//! numeric: a non-numeric site ID gives UIDs that are not valid DICOM UIDs.

use md5::{Digest, Md5};

/// A UI value is at most 64 characters.
pub const MAX_LEN: usize = 64;

/// The prefix `<uid root>.<site id>.2.` leaves no room for digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixTooLong(pub String);

/// The generator for one project: `<uid root>.<site id>`.
#[derive(Debug, Clone)]
pub struct UidGenerator {
    prefix: String,
    modulus: Option<u128>,
}

impl UidGenerator {
    pub fn new(uid_root: &str, site_id: &str) -> Result<Self, PrefixTooLong> {
        let prefix = format!("{}.{}.2.", uid_root.trim(), site_id);
        if prefix.len() >= MAX_LEN {
            return Err(PrefixTooLong(prefix));
        }
        let digits = MAX_LEN - prefix.len();
        // 10^39 exceeds every 128-bit digest: no reduction is needed then.
        let modulus = u32::try_from(digits)
            .ok()
            .and_then(|d| 10u128.checked_pow(d));
        Ok(UidGenerator { prefix, modulus })
    }

    /// The anonymized UID for `phi_uid`.
    pub fn anon_uid(&self, phi_uid: &str) -> String {
        let digest = u128::from_be_bytes(Md5::digest(phi_uid.as_bytes()).into());
        let reduced = match self.modulus {
            Some(m) => digest % m,
            None => digest,
        };
        format!("{}{}", self.prefix, reduced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_deterministic_prefixed_and_at_most_64_characters() {
        let g = UidGenerator::new("1.2.826.0.1.3680043.10.474", "99").unwrap();
        let a = g.anon_uid("1.2.3.4");
        assert_eq!(a, g.anon_uid("1.2.3.4"));
        assert_ne!(a, g.anon_uid("1.2.3.5"));
        assert!(a.starts_with("1.2.826.0.1.3680043.10.474.99.2."));
        assert!(a.len() <= 64);
    }

    #[test]
    fn reduction_matches_python_modulo() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        let g = UidGenerator::new("1.2", "3").unwrap();
        let n = u128::from_str_radix("d41d8cd98f00b204e9800998ecf8427e", 16).unwrap();
        // prefix "1.2.3.2." leaves 56 digits: more than any 128-bit number has.
        assert_eq!(g.anon_uid(""), format!("1.2.3.2.{n}"));
        let long_root = "1".repeat(40);
        let g = UidGenerator::new(&long_root, "7").unwrap();
        let digits = 64 - (40 + 5);
        assert_eq!(
            g.anon_uid(""),
            format!("{long_root}.7.2.{}", n % 10u128.pow(digits as u32))
        );
    }

    #[test]
    fn a_prefix_without_room_is_refused() {
        assert!(UidGenerator::new(&"1".repeat(60), "1").is_err());
    }
}
