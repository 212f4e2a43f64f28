//! `@hashuid(Root,Element[,Element2])`: a UID made of a root and the
//! base-10 MD5 of the original UID (`AnonymizerFunctions.hashUID`): the
//! root gets a trailing `.`, a digest starting with `0` gets a `9` before
//! it (no UID component may start with 0), and the result is cut to 64
//! characters.

use super::hash::us_md5;

pub fn hash_uid(root: &str, uid: &str) -> String {
    let mut root = root.trim().to_string();
    if !root.is_empty() && !root.ends_with('.') {
        root.push('.');
    }
    let digits = us_md5(uid);
    let extra = if digits.starts_with('0') { "9" } else { "" };
    let mut out = format!("{root}{extra}{digits}");
    out.truncate(64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_dot_digest_cut_to_64() {
        let u = hash_uid("1.2.3", "1.2.840.1");
        assert_eq!(u, format!("1.2.3.{}", us_md5("1.2.840.1")));
        let long = hash_uid("1.2.826.0.1.3680043.10.474.99.1.2.3.4.5", "9");
        assert_eq!(long.len(), 64);
        assert!(long.starts_with("1.2.826.0.1.3680043.10.474.99.1.2.3.4.5."));
    }
}
