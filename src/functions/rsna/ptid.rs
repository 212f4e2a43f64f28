//! `@ptid`: the anonymized patient ID.
//!
//! Reference: `AnonymizerModel._format_anon_patient_id` and
//! `_get_or_create_phi`. Patients are numbered in the order they are first
//! seen (index 0 is the patient with an empty or missing PatientID) and
//! written `<site id>-<index zero-padded to 6 digits>`.

/// The number of digits the index is padded to (`len(str(1000000)) - 1`).
pub const INDEX_WIDTH: usize = 6;

/// `<site id>-<index>`.
pub fn format(site_id: &str, index: u64) -> String {
    format!("{site_id}-{index:0INDEX_WIDTH$}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn zero_padded_to_six_digits() {
        assert_eq!(super::format("99", 0), "99-000000");
        assert_eq!(super::format("S", 1234567), "S-1234567");
    }
}
