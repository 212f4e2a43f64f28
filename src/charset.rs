//! Text in ISO 2022 code extensions (a multi-valued SpecificCharacterSet,
//! such as `\ISO 2022 IR 87` for Japanese or `\ISO 2022 IR 149` for
//! Korean), decoded as PS3.5 §6.1.2.5 says.
//!
//! dicom-rs 0.10 decodes such text with the first value's character set
//! only, so escape sequences and multi-byte characters come out as
//! stray Latin-1 or Shift_JIS characters: hashes of names would differ from
//! CTP's and pydicom's, and the writer cannot encode the result. So:
//!
//! - after a file is read, [`decode_in_place`] recovers each text value's
//!   bytes (the first value's codec is reversible on the bytes ISO 2022
//!   uses) and decodes them properly: the engines see Unicode text;
//! - before a data set is written, [`encode_in_place`] encodes the text
//!   back with the same code extensions (escape sequences before each run
//!   of another set, a return to the initial set before each delimiter, as
//!   pydicom and dcm4che write them), in the form dicom-rs's writer passes
//!   through unchanged. The SpecificCharacterSet is kept.

use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::text::{SpecificCharacterSet, TextCodec};
use dicom_object::InMemDicomObject;
use encoding_rs::Encoding;

use crate::interpreter::values::for_each_item;

/// The value representations whose text follows SpecificCharacterSet.
fn uses_charset(vr: VR) -> bool {
    matches!(
        vr,
        VR::SH | VR::LO | VR::ST | VR::LT | VR::PN | VR::UT | VR::UC
    )
}

fn charset_values(obj: &InMemDicomObject) -> Option<Vec<String>> {
    let e = obj.get(tags::SPECIFIC_CHARACTER_SET)?;
    let values = e.value().to_multi_str().ok()?;
    Some(values.iter().map(|v| v.trim().to_string()).collect())
}

/// Whether a SpecificCharacterSet uses code extensions dicom-rs cannot read.
fn needs_transcoding(values: &[String]) -> bool {
    values.len() > 1
}

/// Decode every text value of `obj` written with ISO 2022 code
/// extensions; returns whether there were any.
pub fn decode_in_place(obj: &mut InMemDicomObject) -> bool {
    let mut changed = false;
    convert(obj, None, &mut changed, &|s, values, pn| {
        recover_bytes(s, &values[0]).map(|bytes| decode(&bytes, values, pn))
    });
    changed
}

/// Encode the text values of data sets with ISO 2022 code extensions back
/// into the form dicom-rs writes as those bytes; returns whether there were
/// any. Call it once, on the data set about to be written.
pub fn encode_in_place(obj: &mut InMemDicomObject) -> bool {
    let mut changed = false;
    convert(obj, None, &mut changed, &|s, values, pn| {
        dicom_rs_string(&encode(s, values, pn), &values[0])
    });
    changed
}

/// Whether a data set (or any item in it) uses ISO 2022 code extensions.
pub fn uses_code_extensions(obj: &InMemDicomObject) -> bool {
    charset_values(obj).is_some_and(|v| needs_transcoding(&v))
        || obj.iter().any(|e| {
            e.items()
                .is_some_and(|items| items.iter().any(uses_code_extensions))
        })
}

type Convert = dyn Fn(&str, &[String], bool) -> Option<String>;

fn convert(
    obj: &mut InMemDicomObject,
    inherited: Option<&[String]>,
    changed: &mut bool,
    f: &Convert,
) {
    let values: Option<Vec<String>> =
        charset_values(obj).or_else(|| inherited.map(<[String]>::to_vec));
    if let Some(values) = values.as_deref().filter(|v| needs_transcoding(v)) {
        let texts: Vec<(Tag, VR)> = obj
            .iter()
            .filter(|e| uses_charset(e.vr()) && matches!(e.value(), Value::Primitive(_)))
            .map(|e| (e.tag(), e.vr()))
            .collect();
        for (tag, vr) in texts {
            let Some(strings) = obj.get(tag).and_then(|e| e.value().to_multi_str().ok()) else {
                continue;
            };
            let converted: Vec<String> = strings
                .iter()
                .map(|s| f(s, values, vr == VR::PN).unwrap_or_else(|| s.clone()))
                .collect();
            if converted.iter().zip(strings.iter()).any(|(a, b)| a != b) {
                obj.put(DataElement::new(
                    tag,
                    vr,
                    PrimitiveValue::Strs(converted.into()),
                ));
            }
        }
        *changed = true;
    }
    for_each_item(obj, |item| convert(item, values.as_deref(), changed, f));
}

fn codec(first: &str) -> SpecificCharacterSet {
    let code = if first.is_empty() { "ISO_IR 6" } else { first };
    SpecificCharacterSet::from_code(code).unwrap_or_default()
}

/// The string dicom-rs's writer turns into `bytes` (the inverse of
/// [`recover_bytes`]).
fn dicom_rs_string(bytes: &[u8], first: &str) -> Option<String> {
    codec(first).decode(bytes).ok()
}

/// The bytes dicom-rs decoded into `s`, with the codec of the first value.
fn recover_bytes(s: &str, first: &str) -> Option<Vec<u8>> {
    codec(first).encode(s).ok()
}

/// What a graphic set (G0 or G1) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    Ascii,
    /// JIS X 0201 Roman (G0): ASCII with ¥ and ‾.
    JisRoman,
    /// JIS X 0201 Katakana (G1).
    JisKatakana,
    /// JIS X 0208 (G0, two bytes).
    Jis0208,
    /// JIS X 0212 (G0, two bytes).
    Jis0212,
    /// KS X 1001 (G1, two bytes).
    Ksx1001,
    /// GB 2312 (G1, two bytes).
    Gb2312,
    /// A 96-character set in G1, read through its single-byte encoding.
    Single(&'static Encoding),
    None,
}

/// The sets a defined term designates initially: (G0, G1).
fn initial(term: &str) -> (Set, Set) {
    match term {
        "ISO 2022 IR 13" => (Set::JisRoman, Set::JisKatakana),
        "ISO 2022 IR 87" => (Set::Jis0208, Set::None),
        "ISO 2022 IR 159" => (Set::Jis0212, Set::None),
        "ISO 2022 IR 149" => (Set::Ascii, Set::Ksx1001),
        "ISO 2022 IR 58" => (Set::Ascii, Set::Gb2312),
        other => (Set::Ascii, single(other).map_or(Set::None, Set::Single)),
    }
}

/// The single-byte encoding of a 96-character set's defined term.
fn single(term: &str) -> Option<&'static Encoding> {
    Some(match term.trim_start_matches("ISO 2022 ") {
        "IR 100" => encoding_rs::WINDOWS_1252,
        "IR 101" => encoding_rs::ISO_8859_2,
        "IR 109" => encoding_rs::ISO_8859_3,
        "IR 110" => encoding_rs::ISO_8859_4,
        "IR 144" => encoding_rs::ISO_8859_5,
        "IR 127" => encoding_rs::ISO_8859_6,
        "IR 126" => encoding_rs::ISO_8859_7,
        "IR 138" => encoding_rs::ISO_8859_8,
        "IR 148" => encoding_rs::WINDOWS_1254,
        "IR 166" => encoding_rs::WINDOWS_874,
        _ => return None,
    })
}

/// Decode one value. The sets return to their initial designation at the
/// start, and (PS3.5 §6.1.2.5.3) at each `^` and `=` of a person name and
/// at each control character of other text.
pub fn decode(bytes: &[u8], values: &[String], person_name: bool) -> String {
    let first = values.first().map(String::as_str).unwrap_or("");
    let start = initial(first);
    let (mut g0, mut g1) = start;
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0x1B
            && let Some((len, set, slot)) = escape(&bytes[i + 1..])
        {
            match slot {
                0 => g0 = set,
                _ => g1 = set,
            }
            i += 1 + len;
            continue;
        }
        let resets = if person_name {
            b == b'^' || b == b'='
        } else {
            matches!(b, b'\r' | b'\n' | b'\t' | 0x0C)
        };
        if b < 0x80 {
            match g0 {
                Set::Jis0208 | Set::Jis0212 if b > 0x20 && i + 1 < bytes.len() => {
                    let pair = [b | 0x80, bytes[i + 1] | 0x80];
                    let euc: Vec<u8> = if g0 == Set::Jis0212 {
                        vec![0x8F, pair[0], pair[1]]
                    } else {
                        pair.to_vec()
                    };
                    out.push_str(&encoding_rs::EUC_JP.decode_without_bom_handling(&euc).0);
                    i += 2;
                    continue;
                }
                Set::JisRoman if b == 0x5C => out.push('¥'),
                Set::JisRoman if b == 0x7E => out.push('‾'),
                _ => out.push(b as char),
            }
            if resets {
                (g0, g1) = start;
            }
            i += 1;
            continue;
        }
        match g1 {
            Set::JisKatakana if (0xA1..=0xDF).contains(&b) => {
                out.push(char::from_u32(0xFF61 + (b - 0xA1) as u32).unwrap_or('\u{FFFD}'));
                i += 1;
            }
            Set::Ksx1001 | Set::Gb2312 if i + 1 < bytes.len() => {
                let enc = if g1 == Set::Ksx1001 {
                    encoding_rs::EUC_KR
                } else {
                    encoding_rs::GBK
                };
                out.push_str(&enc.decode_without_bom_handling(&bytes[i..i + 2]).0);
                i += 2;
            }
            Set::Single(enc) => {
                out.push_str(&enc.decode_without_bom_handling(&bytes[i..i + 1]).0);
                i += 1;
            }
            _ => {
                out.push('\u{FFFD}');
                i += 1;
            }
        }
    }
    out
}

/// The escape sequence that designates `set`.
fn designation(set: Set) -> &'static [u8] {
    match set {
        Set::Ascii => b"\x1b(B",
        Set::JisRoman => b"\x1b(J",
        Set::JisKatakana => b"\x1b)I",
        Set::Jis0208 => b"\x1b$B",
        Set::Jis0212 => b"\x1b$(D",
        Set::Ksx1001 => b"\x1b$)C",
        Set::Gb2312 => b"\x1b$)A",
        Set::Single(enc) => match enc.name() {
            "windows-1252" => b"\x1b-A",
            "ISO-8859-2" => b"\x1b-B",
            "ISO-8859-3" => b"\x1b-C",
            "ISO-8859-4" => b"\x1b-D",
            "ISO-8859-7" => b"\x1b-F",
            "ISO-8859-6" => b"\x1b-G",
            "ISO-8859-8" => b"\x1b-H",
            "ISO-8859-5" => b"\x1b-L",
            "windows-1254" => b"\x1b-M",
            "windows-874" => b"\x1b-T",
            _ => b"",
        },
        Set::None => b"",
    }
}

/// How a character is written in the set a defined term names: the set,
/// and the bytes (7-bit for G0 sets, 8-bit for G1 sets).
fn encode_char(c: char, term: &str) -> Option<(Set, Vec<u8>)> {
    let mut buf = [0u8; 4];
    let s: &str = c.encode_utf8(&mut buf);
    let two = |enc: &'static Encoding| -> Option<Vec<u8>> {
        let (bytes, _, bad) = enc.encode(s);
        (!bad && bytes.len() == 2 && bytes.iter().all(|&b| b >= 0xA1)).then(|| bytes.to_vec())
    };
    match term {
        "ISO 2022 IR 87" => {
            two(encoding_rs::EUC_JP).map(|b| (Set::Jis0208, b.iter().map(|x| x & 0x7F).collect()))
        }
        "ISO 2022 IR 159" => {
            let (bytes, _, bad) = encoding_rs::EUC_JP.encode(s);
            (!bad && bytes.len() == 3 && bytes[0] == 0x8F)
                .then(|| (Set::Jis0212, bytes[1..].iter().map(|x| x & 0x7F).collect()))
        }
        "ISO 2022 IR 13" => ('\u{FF61}'..='\u{FF9F}')
            .contains(&c)
            .then(|| (Set::JisKatakana, vec![(c as u32 - 0xFF61 + 0xA1) as u8])),
        "ISO 2022 IR 149" => two(encoding_rs::EUC_KR).map(|b| (Set::Ksx1001, b)),
        "ISO 2022 IR 58" => two(encoding_rs::GBK).map(|b| (Set::Gb2312, b)),
        other => {
            let enc = single(other)?;
            let (bytes, _, bad) = enc.encode(s);
            (!bad && bytes.len() == 1 && bytes[0] >= 0xA0)
                .then(|| (Set::Single(enc), bytes.to_vec()))
        }
    }
}

/// Encode one value with the code extensions `values` declare: the
/// inverse of [`decode`]. A character no declared set holds becomes `?`.
pub fn encode(text: &str, values: &[String], person_name: bool) -> Vec<u8> {
    let first = values.first().map(String::as_str).unwrap_or("");
    let start = initial(first);
    let (mut g0, mut g1) = start;
    let mut out = Vec::with_capacity(text.len() * 2);
    for c in text.chars() {
        let delimiter = if person_name {
            c == '^' || c == '='
        } else {
            matches!(c, '\r' | '\n' | '\t' | '\u{c}')
        };
        if c.is_ascii() {
            if !matches!(g0, Set::Ascii | Set::JisRoman) {
                out.extend_from_slice(designation(start.0));
                g0 = start.0;
            }
            out.push(c as u8);
            if delimiter {
                (g0, g1) = start;
            }
            continue;
        }
        let found = values.iter().find_map(|term| encode_char(c, term));
        let Some((set, bytes)) = found else {
            out.push(b'?');
            continue;
        };
        let is_g0 = matches!(set, Set::Jis0208 | Set::Jis0212);
        if is_g0 && g0 != set {
            out.extend_from_slice(designation(set));
            g0 = set;
        } else if !is_g0 && g1 != set {
            out.extend_from_slice(designation(set));
            g1 = set;
        }
        out.extend_from_slice(&bytes);
    }
    if !matches!(g0, Set::Ascii | Set::JisRoman) {
        out.extend_from_slice(designation(start.0));
    }
    out
}

/// An escape sequence after ESC: (its length, the set, 0 for G0 or 1 for G1).
fn escape(rest: &[u8]) -> Option<(usize, Set, u8)> {
    let s = |n: usize| rest.get(..n);
    Some(match rest {
        [b'(', b'B', ..] => (2, Set::Ascii, 0),
        [b'(', b'J', ..] => (2, Set::JisRoman, 0),
        [b')', b'I', ..] => (2, Set::JisKatakana, 1),
        [b'$', b'B', ..] | [b'$', b'@', ..] => (2, Set::Jis0208, 0),
        [b'$', b'(', b'D', ..] => (3, Set::Jis0212, 0),
        [b'$', b')', b'C', ..] => (3, Set::Ksx1001, 1),
        [b'$', b')', b'A', ..] => (3, Set::Gb2312, 1),
        [b'-', f, ..] => {
            let term = match f {
                b'A' => "IR 100",
                b'B' => "IR 101",
                b'C' => "IR 109",
                b'D' => "IR 110",
                b'F' => "IR 126",
                b'G' => "IR 127",
                b'H' => "IR 138",
                b'L' => "IR 144",
                b'M' => "IR 148",
                b'T' => "IR 166",
                _ => return None,
            };
            s(2)?;
            (2, Set::Single(single(term)?), 1)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn japanese_korean_and_katakana_names() {
        // The names of pydicom's chrH31, chrI2 and chrH32 test files.
        let h31 =
            b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B";
        assert_eq!(
            decode(h31, &terms(&["", "ISO 2022 IR 87"]), true),
            "Yamada^Tarou=山田^太郎=やまだ^たろう"
        );
        let i2 = b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf";
        assert_eq!(
            decode(i2, &terms(&["", "ISO 2022 IR 149"]), true),
            "Hong^Gildong=洪^吉洞=홍^길동"
        );
        let h32 = b"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J";
        assert_eq!(
            decode(h32, &terms(&["ISO 2022 IR 13", "ISO 2022 IR 87"]), true),
            "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"
        );
    }

    #[test]
    fn single_byte_extensions() {
        let greek = b"\x1b-F\xc4\xe9\xef";
        assert_eq!(
            decode(greek, &terms(&["", "ISO 2022 IR 126"]), false),
            "Διο"
        );
    }

    #[test]
    fn encoding_gives_the_original_bytes_back() {
        let cases: [(&[u8], &[&str]); 4] = [
            (b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B", &["", "ISO 2022 IR 87"]),
            (b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf", &["", "ISO 2022 IR 149"]),
            (b"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J", &["ISO 2022 IR 13", "ISO 2022 IR 87"]),
            (b"\x1b-F\xc4\xe9\xef", &["", "ISO 2022 IR 126"]),
        ];
        for (bytes, v) in cases {
            let v = terms(v);
            let text = decode(bytes, &v, true);
            assert_eq!(encode(&text, &v, true), bytes.to_vec(), "{text}");
        }
    }

    #[test]
    fn bytes_round_trip_through_the_first_values_codec() {
        let s = "Hong^\u{1b}$)C\u{fb}\u{f3}";
        assert_eq!(
            recover_bytes(s, "").unwrap(),
            b"Hong^\x1b$)C\xfb\xf3".to_vec()
        );
    }
}
