//! Elements after the pixel data of a large file (trailing padding
//! (FFFC,FFFC), digital signatures (FFFA,FFFA), private groups such as
//! 7FE1): read from the bytes after the pixel data's value, anonymized
//! with the rest of the header, and written after the copied pixel data,
//! as the whole data set's reader and writer would read and write them.
//!
//! Both readers and writers keep a character set as they go: the
//! Specific Character Set read or written earlier in the data set decides
//! how the text of these elements is decoded and encoded. Read or written
//! apart, they are given that element first, and it is taken away after.

use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use dicom_core::header::Header;
use dicom_core::{DataElement, Tag};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntax;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use super::{UN_UNDEFINED_LENGTH, bounded, registered};

/// The most bytes after the pixel data a large file may hold and still be
/// read from a prefix: padding and signatures are small; more than this
/// and the file is read whole.
pub const MAX_TRAILER: u64 = 1 << 20;

/// The elements of `file` from `end` (where the pixel data's value ends)
/// to `size`, in transfer syntax `ts`, decoded as the whole-file reader
/// decodes them after `header` (the data set before the pixel data).
/// `Ok(None)`: leave the file to the whole-file reader (too many bytes,
/// bytes it refuses, elements that do not parse, or not after the pixel
/// data).
pub(super) fn read(
    file: &mut File,
    end: u64,
    size: u64,
    ts: &TransferSyntax,
    header: &InMemDicomObject,
) -> std::io::Result<Option<InMemDicomObject>> {
    let len = size.saturating_sub(end);
    if len > MAX_TRAILER {
        return Ok(None);
    }
    let mut bytes = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(end))?;
    file.read_exact(&mut bytes)?;
    // The whole-file reader refuses a file with the bytes of an
    // undefined-length UN header after its pixel data.
    if memchr::memmem::find(&bytes, UN_UNDEFINED_LENGTH).is_some() {
        return Ok(None);
    }
    let charset = header.get(tags::SPECIFIC_CHARACTER_SET).cloned();
    let lead = match &charset {
        Some(element) => encoded(element, ts)?,
        None => Vec::new(),
    };
    let origin = end.checked_sub(lead.len() as u64);
    let mut data = lead;
    data.extend_from_slice(&bytes);
    let Ok((mut obj, None)) = bounded::read_dataset_until(&data, ts, None, origin) else {
        return Ok(None);
    };
    if obj
        .iter()
        .any(|e| e.tag() <= tags::PIXEL_DATA && e.tag() != tags::SPECIFIC_CHARACTER_SET)
    {
        return Ok(None);
    }
    // Text in ISO 2022 code extensions, as the whole-file reader decodes it.
    crate::charset::decode_in_place(&mut obj);
    obj.remove_element(tags::SPECIFIC_CHARACTER_SET);
    Ok(Some(obj))
}

/// `obj` (its pixel data taken out, to be copied) without its elements
/// after the pixel data, and those elements encoded as writing `obj`
/// whole encodes them; `None` when there are none.
pub(super) fn split(
    obj: &DefaultDicomObject,
) -> std::io::Result<(Cow<'_, DefaultDicomObject>, Option<Vec<u8>>)> {
    if obj.iter().last().is_none_or(|e| e.tag() < tags::PIXEL_DATA) {
        return Ok((Cow::Borrowed(obj), None));
    }
    let ts = registered(obj.meta().transfer_syntax())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let after: Vec<Tag> = obj
        .iter()
        .map(|e| e.tag())
        .filter(|&t| t > tags::PIXEL_DATA)
        .collect();
    let mut before = obj.clone();
    let mut trailer = InMemDicomObject::new_empty();
    let charset = obj.get(tags::SPECIFIC_CHARACTER_SET).cloned();
    if let Some(element) = &charset {
        trailer.put(element.clone());
    }
    for tag in after {
        if let Ok(element) = before.take_element(tag) {
            trailer.put(element);
        }
    }
    let mut bytes = Vec::new();
    trailer
        .write_dataset_with_ts(&mut bytes, ts)
        .map_err(|e| super::write_error(&e))?;
    let skip = match &charset {
        Some(element) => encoded(element, ts)?.len(),
        None => 0,
    };
    if bytes.get(skip..).is_none_or(|b| b.is_empty()) {
        return Err(std::io::Error::other(
            "the elements after the pixel data encode to nothing",
        ));
    }
    bytes.drain(..skip);
    Ok((Cow::Owned(before), Some(bytes)))
}

/// One element encoded alone in `ts`.
fn encoded(
    element: &DataElement<InMemDicomObject>,
    ts: &TransferSyntax,
) -> std::io::Result<Vec<u8>> {
    let mut only = InMemDicomObject::new_empty();
    only.put(element.clone());
    let mut bytes = Vec::new();
    only.write_dataset_with_ts(&mut bytes, ts)
        .map_err(|e| super::write_error(&e))?;
    Ok(bytes)
}
