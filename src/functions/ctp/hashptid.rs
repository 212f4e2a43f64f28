//! `@hashptid(SiteID,Element[,maxlen])`: [`super::hash::hash`] of
//! `[siteid]ptid`, both trimmed (`AnonymizerFunctions.hashPtID`).

use super::hash::hash;

pub fn hash_ptid(site_id: &str, patient_id: &str, maxlen: i64) -> String {
    hash(
        &format!("[{}]{}", site_id.trim(), patient_id.trim()),
        maxlen,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::ctp::hash::us_md5;

    #[test]
    fn the_site_is_bracketed_before_the_id() {
        assert_eq!(hash_ptid(" 12 ", " MRN7 ", 0), us_md5("[12]MRN7"));
        assert_eq!(hash_ptid("12", "MRN7", 8), us_md5("[12]MRN7")[..8]);
    }
}
