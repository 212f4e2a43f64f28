//! `@hash(Element[,maxlen])`: the MD5 digest of a value's UTF-8 bytes,
//! written as an unsigned base-10 integer (`DigestUtil.getUSMD5`), cut to
//! `maxlen` characters when `maxlen` is at least 1.

use md5::{Digest, Md5};

/// The MD5 digest of `text` as a base-10 number (no leading zeros).
pub fn us_md5(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    let mut n = u128::from_be_bytes(digest.into());
    if n == 0 {
        return "0".into();
    }
    let mut digits = Vec::with_capacity(39);
    while n > 0 {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

/// `AnonymizerFunctions.hash`: [`us_md5`] cut to `maxlen` characters; a
/// `maxlen` below 1 means no limit.
pub fn hash(text: &str, maxlen: i64) -> String {
    let digits = us_md5(text);
    if maxlen < 1 || digits.len() as i64 <= maxlen {
        digits
    } else {
        digits[..maxlen as usize].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_md5_in_decimal() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e.
        assert_eq!(
            us_md5(""),
            u128::from_str_radix("d41d8cd98f00b204e9800998ecf8427e", 16)
                .unwrap()
                .to_string()
        );
        assert_eq!(hash("", 5), us_md5("")[..5]);
        assert_eq!(hash("abc", 0), us_md5("abc"));
        assert_eq!(hash("abc", 1000), us_md5("abc"));
    }
}
