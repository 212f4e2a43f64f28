//! `@encrypt(Element,key)` and `@decrypt(Element,key)`: Blowfish (ECB,
//! PKCS#5 padding, as Java's default `Blowfish` cipher) over the value's
//! UTF-8 bytes, written in Base64 (`AnonymizerFunctions.encrypt` and
//! `decrypt`). The 128-bit key is made from the key text as CTP makes it:
//! characters outside the Base64 alphabet dropped, the text repeated with
//! the nonce `tszyihnnphlyeaglle` to 22 characters, and Base64-decoded.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use blowfish::Blowfish;
use blowfish::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};

const NONCE: &str = "tszyihnnphlyeaglle";

/// Base64 as CTP's `org.rsna.util.Base64` reads it: padding optional,
/// stray trailing bits accepted.
fn lenient() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// The 16-byte key CTP derives from `key_text`.
pub fn key_bytes(key_text: &str) -> Vec<u8> {
    let mut k: String = key_text
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .collect();
    while k.len() < 22 {
        k.push_str(NONCE);
    }
    k.truncate(22);
    lenient().decode(&k).expect("22 Base64 characters decode")
}

fn cipher(key_text: &str) -> Blowfish {
    Blowfish::new_from_slice(&key_bytes(key_text)).expect("a 16-byte Blowfish key")
}

pub fn encrypt(value: &str, key_text: &str) -> String {
    let c = cipher(key_text);
    let mut data = value.as_bytes().to_vec();
    let pad = 8 - data.len() % 8;
    data.extend(std::iter::repeat_n(pad as u8, pad));
    for block in data.chunks_exact_mut(8) {
        c.encrypt_block(GenericArray::from_mut_slice(block));
    }
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `None` when the text is not a whole number of blocks or the padding is
/// wrong (CTP then keeps the call's text).
pub fn decrypt(value: &str, key_text: &str) -> Option<String> {
    let c = cipher(key_text);
    let cleaned: String = value
        .chars()
        .filter(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '/' | '='))
        .collect();
    let mut data = lenient().decode(cleaned.trim_end_matches('=')).ok()?;
    if data.is_empty() || data.len() % 8 != 0 {
        return None;
    }
    for block in data.chunks_exact_mut(8) {
        c.decrypt_block(GenericArray::from_mut_slice(block));
    }
    let pad = *data.last()? as usize;
    if pad == 0 || pad > 8 || data[data.len() - pad..].iter().any(|&b| b as usize != pad) {
        return None;
    }
    data.truncate(data.len() - pad);
    String::from_utf8(data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_depends_on_the_key() {
        let e = encrypt("Doe^John", "secret key");
        assert_ne!(e, encrypt("Doe^John", "other"));
        assert_eq!(decrypt(&e, "secret key").as_deref(), Some("Doe^John"));
        assert_ne!(decrypt(&e, "other").as_deref(), Some("Doe^John"));
        assert_eq!(key_bytes("").len(), 16);
        // Characters outside the Base64 alphabet do not count.
        assert_eq!(key_bytes("secret key"), key_bytes("secretkey"));
    }
}
