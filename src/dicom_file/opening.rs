//! The start of a Part 10 file, read the one way every reader here reads
//! it (the whole-file reader, the header-and-tail reader, the streaming
//! path): the file meta group, the transfer syntax it names, and where
//! the data set begins; and the one check on the data set's bytes that
//! comes before dicom-rs reads them (a UN element of undefined length).

use std::ops::Range;

use dicom_core::{Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_encoding::{TransferSyntax, TransferSyntaxIndex};
use dicom_object::meta::FileMetaTable;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::{ReadError, bounded};

/// A Part 10 file's meta group, read, and its data set's place.
pub(crate) struct Opening<'a> {
    pub meta: FileMetaTable,
    /// The transfer syntax the meta group names.
    pub ts: &'static TransferSyntax,
    /// The data set was written in implicit VR under an explicit VR
    /// syntax ([`explicit_le_written_implicit`]): it is read as implicit
    /// VR little endian.
    pub written_implicit: bool,
    /// The bytes after the meta group.
    pub data: &'a [u8],
    /// Where `data` starts in the file.
    pub origin: u64,
}

impl Opening<'_> {
    /// The transfer syntax the data set is read in (deflate aside).
    pub fn read_as(&self) -> &'static TransferSyntax {
        if self.written_implicit {
            registered(uids::IMPLICIT_VR_LITTLE_ENDIAN).unwrap_or(self.ts)
        } else {
            self.ts
        }
    }
}

/// Read the meta group of a file that has one (`Form::Part10` or
/// `Form::NoPreamble`), `meta_at` bytes into `bytes` (128, or 0).
pub(crate) fn open_meta(bytes: &[u8], meta_at: usize) -> Result<Opening<'_>, ReadError> {
    let from_meta = bytes.get(meta_at..).ok_or(ReadError::NotDicom)?;
    check_meta_lengths(from_meta)?;
    let mut rest = from_meta;
    let meta = FileMetaTable::from_reader(&mut rest)
        .map_err(|e| ReadError::Malformed(bounded::error_chain(&e)))?;
    let ts = registered(meta.transfer_syntax().trim_end_matches('\0'))?;
    Ok(Opening {
        written_implicit: explicit_le_written_implicit(ts, rest),
        origin: (bytes.len() - rest.len()) as u64,
        meta,
        ts,
        data: rest,
    })
}

/// The registry's entry for a transfer syntax UID.
pub(crate) fn registered(uid: &str) -> Result<&'static TransferSyntax, ReadError> {
    TransferSyntaxRegistry
        .get(uid)
        .ok_or_else(|| ReadError::Malformed(format!("unknown transfer syntax {uid}")))
}

/// `UN`, two reserved bytes, and the undefined length: the header of a
/// sequence encoded as UN, in explicit VR.
pub(crate) const UN_UNDEFINED_LENGTH: &[u8] = b"UN\0\0\xff\xff\xff\xff";

/// Refuse a data set (`data`, read in `ts`) holding a UN element of
/// undefined length. dicom-rs 0.10 reads one as a sequence in explicit
/// VR, where the standard encodes its content in implicit VR, and so reads
/// the elements inside (and maybe after) it wrong.
///
/// The header's bytes ([`UN_UNDEFINED_LENGTH`]) are looked for in every
/// byte of the data set but the value of its top-level pixel data, native
/// (OB or OW of defined length) or encapsulated (well-formed fragments):
/// those bytes are never read as elements, and pixel values may hold any
/// bytes. The first occurrence
/// decides where the header is read from: when it lies in the pixel
/// value, no element header before it can be a UN of undefined length.
pub(crate) fn refuse_un_sequences(
    data: &[u8],
    ts: &TransferSyntax,
    origin: Option<u64>,
) -> Result<(), ReadError> {
    let Some(first) = memchr::memmem::find(data, UN_UNDEFINED_LENGTH) else {
        return Ok(());
    };
    let in_pixels = pixel_value(data, ts, origin).is_some_and(|value| {
        value.start <= first
            && memchr::memmem::find(&data[value.end..], UN_UNDEFINED_LENGTH).is_none()
    });
    if in_pixels {
        Ok(())
    } else {
        Err(ReadError::Malformed(
            "a UN element of undefined length (a sequence encoded as UN) is not supported".into(),
        ))
    }
}

/// Where the value of the top-level pixel data of `data` lies, when it is
/// native, or encapsulated in fragments that are well formed (up to and
/// with its sequence delimiter).
fn pixel_value(data: &[u8], ts: &TransferSyntax, origin: Option<u64>) -> Option<Range<usize>> {
    let (_, stopped) =
        bounded::read_dataset_until(data, ts, Some(tags::PIXEL_DATA), origin).ok()?;
    let at = usize::try_from(stopped?).ok()?;
    let explicit = ts.uid() != uids::IMPLICIT_VR_LITTLE_ENDIAN;
    let big = ts.endianness() == dicom_encoding::transfer_syntax::Endianness::Big;
    let element = data.get(at..)?;
    if explicit && !big && is_encapsulated_pixel_header(element) {
        let start = at + ENCAPSULATED_HEADER.len();
        let end = super::walk::fragments_end(|a| item_at(data, a), start as u64, data.len() as u64)
            .ok()?;
        return Some(start..usize::try_from(end).ok()?);
    }
    let (_, len, header) = native_pixel_header(element, explicit, big)?;
    let start = at + header;
    let end = start
        .checked_add(len as usize)
        .filter(|&e| e <= data.len())?;
    Some(start..end)
}

/// The tag and length of the item header at `at` in `data` (little
/// endian).
pub(crate) fn item_at(data: &[u8], at: u64) -> Result<(Tag, u32), String> {
    let h = usize::try_from(at)
        .ok()
        .and_then(|a| data.get(a..a.checked_add(8)?))
        .ok_or_else(|| format!("an item header at byte {at} past the end"))?;
    Ok((
        Tag(
            u16::from_le_bytes([h[0], h[1]]),
            u16::from_le_bytes([h[2], h[3]]),
        ),
        u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
    ))
}

/// The header of encapsulated pixel data in explicit VR little endian.
pub(crate) const ENCAPSULATED_HEADER: &[u8] = b"\xe0\x7f\x10\x00OB\0\0\xff\xff\xff\xff";

/// Whether `element` starts with encapsulated pixel data's header.
pub(crate) fn is_encapsulated_pixel_header(element: &[u8]) -> bool {
    element.starts_with(ENCAPSULATED_HEADER)
}

/// The pixel data element whose header starts `element`, when native:
/// its VR (OW in implicit VR), its defined length, and the header's size.
pub(crate) fn native_pixel_header(
    element: &[u8],
    explicit: bool,
    big: bool,
) -> Option<(VR, u32, usize)> {
    let u16_at = |i: usize| {
        let b = [element[i], element[i + 1]];
        if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    let u32_at = |i: usize| {
        let b = [element[i], element[i + 1], element[i + 2], element[i + 3]];
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let header = if explicit { 12 } else { 8 };
    if element.len() < header || Tag(u16_at(0), u16_at(2)) != tags::PIXEL_DATA {
        return None;
    }
    let (vr, len) = if explicit {
        let vr = VR::from_binary([element[4], element[5]])?;
        if element[6..8] != [0, 0] {
            return None;
        }
        (vr, u32_at(8))
    } else {
        (VR::OW, u32_at(4))
    };
    (matches!(vr, VR::OB | VR::OW) && len != u32::MAX && len % 2 == 0).then_some((vr, len, header))
}

/// The file meta group (explicit VR little endian), walked before
/// dicom-rs reads it: dicom-rs allocates each value's declared length
/// before reading it. As dicom-rs, the elements after the group length
/// are read for as many bytes as it says, whatever their tags.
fn check_meta_lengths(from_meta: &[u8]) -> Result<(), ReadError> {
    let u16_at = |i: usize| u16::from_le_bytes([from_meta[i], from_meta[i + 1]]);
    // `DICM`, then (0002,0000) UL 4: the group's length.
    let end = match from_meta.get(4..20) {
        Some(h) if h[..8] == *b"\x02\x00\x00\x00UL\x04\x00" => {
            16 + u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize
        }
        _ => return Ok(()), // dicom-rs refuses such a meta group outright
    };
    let mut at = 16;
    while at < end && from_meta.len() >= at + 8 {
        let tag = Tag(u16_at(at), u16_at(at + 2));
        let vr = [from_meta[at + 4], from_meta[at + 5]];
        // dicom-rs reads a VR it does not know as UN: a 4-byte length.
        let (len, header) = match dicom_core::VR::from_binary(vr) {
            Some(vr) if !long_length(vr) => (u32::from(u16_at(at + 6)), 8),
            _ => {
                let Some(l) = from_meta.get(at + 8..at + 12) else {
                    break;
                };
                (u32::from_le_bytes([l[0], l[1], l[2], l[3]]), 12)
            }
        };
        let left = from_meta.len() - (at + header);
        if len as usize > left {
            return Err(ReadError::Malformed(format!(
                "file meta element {tag} declares {len} bytes at byte {} of the meta group, but only {left} remain",
                at + header
            )));
        }
        at += header + len as usize;
    }
    Ok(())
}

/// Whether explicit VR uses a 4-byte length for this VR.
fn long_length(vr: dicom_core::VR) -> bool {
    use dicom_core::VR::*;
    matches!(
        vr,
        OB | OD | OF | OL | OV | OW | SQ | SV | UC | UN | UR | UT | UV
    )
}

/// Whether a data set declared in `ts` (explicit VR little endian, or an
/// encapsulated syntax) was written in implicit VR: its first element has
/// no valid VR where the VR belongs (pydicom notices and reads such files
/// so).
fn explicit_le_written_implicit(ts: &TransferSyntax, data: &[u8]) -> bool {
    let explicit_le =
        ts.uid() == uids::EXPLICIT_VR_LITTLE_ENDIAN || ts.is_encapsulated_pixel_data();
    explicit_le
        && data.len() >= 8
        && u16::from_le_bytes([data[0], data[1]]) != 0xFFFE
        && dicom_core::VR::from_binary([data[4], data[5]]).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIXELS: [u8; 4] = [0xE0, 0x7F, 0x10, 0x00];

    /// An explicit VR little endian element of defined length.
    fn element(tag: [u8; 4], vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut out = tag.to_vec();
        out.extend_from_slice(vr);
        if matches!(vr, b"OB" | b"OW" | b"UN" | b"SQ" | b"UT") {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        out.extend_from_slice(value);
        out
    }

    /// A UN element of undefined length holding one empty item.
    fn un_sequence() -> Vec<u8> {
        let mut out = vec![0x09, 0x00, 0x10, 0x10];
        out.extend_from_slice(UN_UNDEFINED_LENGTH);
        out.extend_from_slice(b"\xfe\xff\x00\xe0\x00\x00\x00\x00");
        out.extend_from_slice(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00");
        out
    }

    fn pixels_holding_the_pattern() -> Vec<u8> {
        let mut value = vec![0u8; 64];
        value[20..28].copy_from_slice(UN_UNDEFINED_LENGTH);
        value
    }

    fn check(data: &[u8], uid: &str) -> Result<(), ReadError> {
        refuse_un_sequences(data, registered(uid).unwrap(), Some(0))
    }

    fn name() -> Vec<u8> {
        element([0x10, 0x00, 0x10, 0x00], b"PN", b"Doe^Jane")
    }

    #[test]
    fn the_pattern_inside_native_pixel_data_is_pixel_values() {
        let explicit = uids::EXPLICIT_VR_LITTLE_ENDIAN;
        let plain = [name(), element(PIXELS, b"OW", &[0; 64])].concat();
        assert!(check(&plain, explicit).is_ok());
        let last = [
            name(),
            element(PIXELS, b"OW", &pixels_holding_the_pattern()),
        ]
        .concat();
        assert!(check(&last, explicit).is_ok());
        // Trailing padding after the pixel data, as CT_small.dcm has.
        let padded = [
            last.clone(),
            element([0xFC, 0xFF, 0xFC, 0xFF], b"OB", &[0; 4]),
        ]
        .concat();
        assert!(check(&padded, explicit).is_ok());
        // Implicit VR: tag and length only.
        let mut implicit = vec![0x10, 0x00, 0x10, 0x00, 8, 0, 0, 0];
        implicit.extend_from_slice(b"Doe^Jane");
        implicit.extend_from_slice(&PIXELS);
        implicit.extend_from_slice(&64u32.to_le_bytes());
        implicit.extend_from_slice(&pixels_holding_the_pattern());
        assert!(check(&implicit, uids::IMPLICIT_VR_LITTLE_ENDIAN).is_ok());
    }

    #[test]
    fn the_pattern_anywhere_else_is_refused() {
        let explicit = uids::EXPLICIT_VR_LITTLE_ENDIAN;
        let in_pixels = element(PIXELS, b"OW", &pixels_holding_the_pattern());
        // A real UN sequence before the pixel data.
        let real = [name(), un_sequence(), in_pixels.clone()].concat();
        assert!(check(&real, explicit).is_err());
        // In the value of another element: refused, as it may be read.
        let other = [
            name(),
            element(
                [0x09, 0x00, 0x10, 0x10],
                b"OB",
                &pixels_holding_the_pattern(),
            ),
            element(PIXELS, b"OW", &[0; 64]),
        ]
        .concat();
        assert!(check(&other, explicit).is_err());
        // After the pixel data.
        let after = [
            name(),
            in_pixels,
            element(
                [0xFC, 0xFF, 0xFC, 0xFF],
                b"OB",
                &pixels_holding_the_pattern(),
            ),
        ]
        .concat();
        assert!(check(&after, explicit).is_err());
        // No pixel data at all.
        assert!(check(&[name(), un_sequence()].concat(), explicit).is_err());
    }

    /// Encapsulated pixel data: an offset table of `table` bytes, then one
    /// fragment holding the pattern.
    fn encapsulated(table: u32) -> Vec<u8> {
        let mut out = name();
        out.extend_from_slice(ENCAPSULATED_HEADER);
        out.extend_from_slice(b"\xfe\xff\x00\xe0");
        out.extend_from_slice(&table.to_le_bytes());
        out.extend_from_slice(&vec![0; table as usize]);
        out.extend_from_slice(b"\xfe\xff\x00\xe0\x40\x00\x00\x00");
        out.extend_from_slice(&pixels_holding_the_pattern());
        out.extend_from_slice(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00");
        out
    }

    #[test]
    fn the_pattern_inside_well_formed_fragments_is_pixel_values() {
        let jpeg = uids::JPEG_BASELINE8_BIT;
        assert!(check(&encapsulated(0), jpeg).is_ok());
        assert!(check(&encapsulated(8), jpeg).is_ok());
        // An offset table dicom-rs would read short: refused.
        assert!(check(&encapsulated(6), jpeg).is_err());
        // A fragment running past the end: refused.
        let cut = encapsulated(0);
        assert!(check(&cut[..cut.len() - 12], jpeg).is_err());
        // Elements after the delimiter are looked at.
        let after = [
            encapsulated(0),
            element(
                [0xFC, 0xFF, 0xFC, 0xFF],
                b"OB",
                &pixels_holding_the_pattern(),
            ),
        ]
        .concat();
        assert!(check(&after, jpeg).is_err());
    }

    #[test]
    fn a_deflated_data_set_is_checked_once_inflated() {
        use std::io::Write;
        let data = [name(), un_sequence()].concat();
        let mut deflater =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflater.write_all(&data).unwrap();
        let deflated = deflater.finish().unwrap();
        assert!(memchr::memmem::find(&deflated, UN_UNDEFINED_LENGTH).is_none());
        let meta = dicom_object::meta::FileMetaTableBuilder::new()
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
            .media_storage_sop_instance_uid("1.2.3.4")
            .transfer_syntax(uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
            .build()
            .unwrap();
        let mut file = vec![0u8; 128];
        file.extend_from_slice(b"DICM");
        meta.write(&mut file).unwrap();
        file.extend_from_slice(&deflated);
        let refused = super::super::parse(&file, None).unwrap_err().to_string();
        assert!(
            refused.contains("UN element of undefined length"),
            "{refused}"
        );
    }
}
