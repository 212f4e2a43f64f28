//! `@acc`: the anonymized accession number.
//!
//! Reference: `AnonymizerModel._hash_accession_number`. SHA-256 over the
//! project salt `anonymizer::<site id>::<uid root>.<site id>` followed by the
//! stripped accession number (UTF-8); the first 16 hex digits, written
//! `8-4-4`. The value is taken from the first file of each study; a study
//! without an accession number has none, and then (as in the reference) a
//! non-empty `@acc` element is left unchanged.
//!
//! The reference's 18 characters do not fit AccessionNumber (SH, at most
//! 16): by default the same 16 hex digits are written without the
//! dashes; `--rsna-exact` writes the reference's form.

use sha2::{Digest, Sha256};

/// The salt the reference derives from the project settings.
pub fn salt(site_id: &str, uid_root: &str) -> String {
    format!("anonymizer::{site_id}::{}.{site_id}", uid_root.trim())
}

/// The anonymized accession number for `accession`: 16 hex digits, or
/// with `rsna_exact` the reference's `8-4-4` form.
pub fn hash_accession(salt: &str, accession: &str, rsna_exact: bool) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(accession.as_bytes());
    let hex: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    if rsna_exact {
        format!("{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16])
    } else {
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_8_4_4_lowercase_hex() {
        let s = salt("99", "1.2.3");
        assert_eq!(s, "anonymizer::99::1.2.3.99");
        let a = hash_accession(&s, "A123", true);
        assert_eq!(a.len(), 18);
        assert_eq!(a.matches('-').count(), 2);
        assert!(
            a.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, hash_accession(&s, "A124", true));
        // By default the same digits, as a valid SH (16 characters).
        let valid = hash_accession(&s, "A123", false);
        assert_eq!(valid.len(), 16);
        assert_eq!(valid, a.replace('-', ""));
    }
}
