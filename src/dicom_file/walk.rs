//! Where a data set's top-level elements lie in its bytes, found without
//! decoding a value.
//!
//! Element headers are decoded by dicom-rs's own header decoders (explicit
//! or implicit VR little endian, explicit VR big endian), so an element's VR and length are the
//! ones its object reader would see. Sequences and encapsulated pixel data
//! are walked item by item to find where they end, checking on the way
//! that every length fits; nothing is allocated for a value.
//!
//! The walk is strict: anything dicom-rs's reader would read in a way of
//! its own (data after the last element, tags out of order, a length that
//! is not a whole number of the VR's values, a delimiter out of place, a
//! character set or pixel representation declared inside a sequence item,
//! which changes how dicom-rs reads what follows) is refused with the
//! reason, so that the caller reads the file whole instead.

use dicom_core::header::{DataElementHeader, HasLength, Header};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::decode::Decode;
use dicom_encoding::decode::explicit_be::ExplicitVRBigEndianDecoder;
use dicom_encoding::decode::explicit_le::ExplicitVRLittleEndianDecoder;
use dicom_encoding::decode::implicit_le::ImplicitVRLittleEndianDecoder;

use super::bounded::MAX_DEPTH;

/// One top-level element: its tag and VR as dicom-rs reads them, and where
/// its header, its value and its end are in the walked bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    pub tag: Tag,
    pub vr: VR,
    pub start: usize,
    pub value: usize,
    pub end: usize,
    /// Its length was undefined (a sequence or encapsulated pixel data).
    pub undefined: bool,
}

impl Located {
    /// The whole element: header and value.
    pub fn bytes<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.start..self.end]
    }

    /// The value's bytes.
    pub fn value_bytes<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.value..self.end]
    }
}

pub(crate) const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_END: Tag = Tag(0xFFFE, 0xE0DD);

/// How a data set is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    ExplicitLittle,
    ImplicitLittle,
    ExplicitBig,
}

/// The top-level elements of a data set, in order.
pub fn elements(data: &[u8], encoding: Encoding) -> Result<Vec<Located>, String> {
    let walker = Walker { data, encoding };
    let mut out = Vec::with_capacity(64);
    let mut at = 0;
    while at < data.len() {
        let located = walker.element(at, 0)?;
        if located.tag.group() == 0xFFFE {
            return Err(format!("a delimiter {} outside a sequence", located.tag));
        }
        if let Some(last) = out.last().map(|l: &Located| l.tag)
            && last >= located.tag
        {
            return Err(format!("{} follows {last}", located.tag));
        }
        at = located.end;
        out.push(located);
    }
    Ok(out)
}

struct Walker<'a> {
    data: &'a [u8],
    encoding: Encoding,
}

impl Walker<'_> {
    fn header(&self, at: usize) -> Result<(DataElementHeader, usize), String> {
        let mut source = self
            .data
            .get(at..)
            .ok_or_else(|| format!("an element at byte {at} past the end"))?;
        let decoded = match self.encoding {
            Encoding::ExplicitLittle => {
                ExplicitVRLittleEndianDecoder::default().decode_header(&mut source)
            }
            Encoding::ImplicitLittle => {
                ImplicitVRLittleEndianDecoder::with_std_dict().decode_header(&mut source)
            }
            Encoding::ExplicitBig => {
                ExplicitVRBigEndianDecoder::default().decode_header(&mut source)
            }
        };
        decoded.map_err(|e| format!("an element header at byte {at}: {e}"))
    }

    /// An item or delimiter header: tag and length.
    fn item_header(&self, at: usize) -> Result<(Tag, u32), String> {
        let h = self
            .data
            .get(at..at + 8)
            .ok_or_else(|| format!("an item header at byte {at} past the end"))?;
        Ok(match self.encoding {
            Encoding::ExplicitBig => (
                Tag(
                    u16::from_be_bytes([h[0], h[1]]),
                    u16::from_be_bytes([h[2], h[3]]),
                ),
                u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            ),
            _ => (
                Tag(
                    u16::from_le_bytes([h[0], h[1]]),
                    u16::from_le_bytes([h[2], h[3]]),
                ),
                u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
            ),
        })
    }

    fn fits(&self, at: usize, len: u32, tag: Tag) -> Result<usize, String> {
        let end = at
            .checked_add(len as usize)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "{tag} declares {len} bytes at byte {at}, but only {} remain",
                    self.data.len().saturating_sub(at)
                )
            })?;
        Ok(end)
    }

    /// The element whose header starts at `at`, `depth` sequences deep.
    fn element(&self, at: usize, depth: usize) -> Result<Located, String> {
        let (header, header_len) = self.header(at)?;
        let tag = header.tag();
        let value = at + header_len;
        if depth > 0 && (tag == tags::SPECIFIC_CHARACTER_SET || tag == tags::PIXEL_REPRESENTATION) {
            return Err(format!("{tag} inside a sequence item"));
        }
        let located = |end, undefined| Located {
            tag,
            vr: header.vr(),
            start: at,
            value,
            end,
            undefined,
        };
        if tag.group() == 0xFFFE {
            // A delimiter where an element belongs: the caller decides.
            return Ok(located(value, false));
        }
        let len = header.length();
        if header.is_encapsulated_pixeldata() {
            return Ok(located(self.fragments(value)?, true));
        }
        if header.vr() == VR::SQ || len.is_undefined() {
            if depth + 1 > MAX_DEPTH {
                return Err(format!("sequences nest more than {MAX_DEPTH} deep"));
            }
            let end = match len.get() {
                Some(n) => {
                    let end = self.fits(value, n, tag)?;
                    self.items(value, Some(end), depth + 1)?
                }
                None => self.items(value, None, depth + 1)?,
            };
            return Ok(located(end, len.is_undefined()));
        }
        let n = len.get().unwrap_or_default();
        if n % 2 == 1 {
            return Err(format!("{tag} has an odd length ({n})"));
        }
        let unit = unit_size(header.vr());
        if !(n as usize).is_multiple_of(unit) {
            return Err(format!(
                "{tag} ({:?}) has {n} bytes, not a whole number of values",
                header.vr()
            ));
        }
        Ok(located(self.fits(value, n, tag)?, false))
    }

    /// The items of a sequence starting at `at`, up to `end` when its
    /// length is defined, else up to its delimiter; where it ends.
    fn items(&self, mut at: usize, end: Option<usize>, depth: usize) -> Result<usize, String> {
        loop {
            if end == Some(at) {
                return Ok(at);
            }
            let (tag, len) = self.item_header(at)?;
            at += 8;
            match tag {
                ITEM if len == u32::MAX => at = self.item_elements(at, None, depth)?,
                ITEM if len % 2 == 0 => {
                    let item_end = self.fits(at, len, tag)?;
                    at = self.item_elements(at, Some(item_end), depth)?;
                }
                SEQUENCE_END if end.is_none() && len == 0 => return Ok(at),
                _ => return Err(format!("{tag} (length {len}) where an item belongs")),
            }
            if end.is_some_and(|e| at > e) {
                return Err(format!("an item runs past its sequence at byte {at}"));
            }
        }
    }

    /// The elements of an item, up to `end` or its delimiter.
    fn item_elements(
        &self,
        mut at: usize,
        end: Option<usize>,
        depth: usize,
    ) -> Result<usize, String> {
        loop {
            if end == Some(at) {
                return Ok(at);
            }
            if end.is_some_and(|e| at > e) {
                return Err(format!("an element runs past its item at byte {at}"));
            }
            let located = self.element(at, depth)?;
            match located.tag {
                ITEM_END if end.is_none() && self.item_header(at)?.1 == 0 => {
                    return Ok(located.value);
                }
                t if t.group() == 0xFFFE => {
                    return Err(format!("{t} where an element belongs"));
                }
                _ => at = located.end,
            }
        }
    }

    /// Encapsulated pixel data from `at`: defined-length items up to the
    /// sequence delimiter; where it ends.
    fn fragments(&self, at: usize) -> Result<usize, String> {
        let end = fragments_end(
            |a| self.item_header(a as usize),
            at as u64,
            self.data.len() as u64,
        )?;
        Ok(end as usize)
    }
}

/// Where encapsulated pixel data whose value starts at `at` ends (after
/// its sequence delimiter), within `size` bytes, reading each item's tag
/// and length with `item_at`. Refused: an item of undefined or odd length
/// or longer than the bytes left, an offset table whose length is not a
/// multiple of 4 (dicom-rs reads `len / 4` offsets from it and skips any
/// remainder), anything but an item or the delimiter (of length 0).
pub fn fragments_end(
    mut item_at: impl FnMut(u64) -> Result<(Tag, u32), String>,
    mut at: u64,
    size: u64,
) -> Result<u64, String> {
    let mut first = true;
    loop {
        let (tag, len) = item_at(at)?;
        at += 8;
        match tag {
            ITEM if first && len % 4 != 0 => {
                return Err(format!("an offset table of {len} bytes"));
            }
            ITEM if len != u32::MAX && len % 2 == 0 => {
                at = at
                    .checked_add(u64::from(len))
                    .filter(|&e| e <= size)
                    .ok_or_else(|| {
                        format!(
                            "a fragment declares {len} bytes at byte {at}, but only {} remain",
                            size.saturating_sub(at)
                        )
                    })?;
            }
            SEQUENCE_END if len == 0 => return Ok(at),
            _ => return Err(format!("{tag} (length {len}) in encapsulated pixel data")),
        }
        first = false;
    }
}

/// The size of one value of a VR dicom-rs reads as numbers (it reads
/// `len / size` of them and skips the rest, so a remainder would shift
/// everything after); 1 for the others.
pub fn unit_size(vr: VR) -> usize {
    match vr {
        VR::US | VR::SS | VR::OW => 2,
        VR::AT | VR::FL | VR::OF | VR::SL | VR::UL | VR::OL => 4,
        VR::FD | VR::OD | VR::SV | VR::UV | VR::OV => 8,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue};
    use dicom_encoding::TransferSyntaxIndex;
    use dicom_object::InMemDicomObject;
    use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

    fn encoded(obj: &InMemDicomObject, uid: &str) -> Vec<u8> {
        let ts = TransferSyntaxRegistry.get(uid).unwrap();
        let mut out = Vec::new();
        obj.write_dataset_with_ts(&mut out, ts).unwrap();
        out
    }

    fn sample() -> InMemDicomObject {
        let item = InMemDicomObject::from_element_iter([DataElement::new(
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3"),
        )]);
        InMemDicomObject::from_element_iter([
            DataElement::new(tags::PATIENT_NAME, VR::PN, PrimitiveValue::from("DOE^JOHN")),
            DataElement::new(
                tags::REFERENCED_IMAGE_SEQUENCE,
                VR::SQ,
                dicom_core::value::DataSetSequence::from(vec![item.clone(), item]),
            ),
            DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(4u16)),
        ])
    }

    #[test]
    fn every_top_level_element_is_found_in_both_syntaxes() {
        for (uid, encoding) in [
            (
                dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN,
                Encoding::ExplicitLittle,
            ),
            (
                dicom_dictionary_std::uids::IMPLICIT_VR_LITTLE_ENDIAN,
                Encoding::ImplicitLittle,
            ),
            (
                "1.2.840.10008.1.2.2", // explicit VR big endian (retired)
                Encoding::ExplicitBig,
            ),
        ] {
            let bytes = encoded(&sample(), uid);
            let found = elements(&bytes, encoding).unwrap();
            let tags: Vec<Tag> = found.iter().map(|l| l.tag).collect();
            assert_eq!(
                tags,
                [
                    tags::REFERENCED_IMAGE_SEQUENCE,
                    tags::PATIENT_NAME,
                    tags::ROWS
                ]
            );
            assert_eq!(found.last().unwrap().end, bytes.len());
            assert_eq!(found[1].value_bytes(&bytes), b"DOE^JOHN");
            assert_eq!(found[2].vr, VR::US);
            for pair in found.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
        }
    }

    #[test]
    fn what_dicom_rs_would_read_its_own_way_is_refused() {
        let bytes = encoded(
            &sample(),
            dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN,
        );
        // Cut short, and with a byte left over.
        assert!(elements(&bytes[..bytes.len() - 1], Encoding::ExplicitLittle).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(elements(&longer, Encoding::ExplicitLittle).is_err());
        // Rows (US) with 3 bytes.
        let rows = InMemDicomObject::from_element_iter([DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(4u16),
        )]);
        let mut odd = encoded(&rows, dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN);
        odd[6] = 3;
        odd.push(0);
        assert!(
            elements(&odd, Encoding::ExplicitLittle)
                .unwrap_err()
                .contains("odd length")
        );
        // Two elements out of order.
        let mut swapped = Vec::new();
        let found = elements(&bytes, Encoding::ExplicitLittle).unwrap();
        swapped.extend_from_slice(found[2].bytes(&bytes));
        swapped.extend_from_slice(found[1].bytes(&bytes));
        assert!(
            elements(&swapped, Encoding::ExplicitLittle)
                .unwrap_err()
                .contains("follows")
        );
    }
}
