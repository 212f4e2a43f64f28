//! Large files without holding their pixel data: the header is read from a
//! prefix of the file, and the pixel data, when it is in little endian,
//! native (defined length) or encapsulated (well-formed fragments), and
//! followed by no more than [`trailer::MAX_TRAILER`] bytes of other
//! elements (read apart: `trailer.rs`), is copied from the input to the
//! output in chunks, never decoded nor held whole.
//!
//! The output is the same, byte for byte, as reading the whole file and
//! writing it back (`tests/anonymize_tail_copy.rs` runs both over a
//! corpus): the header is written by the same encoder, and the pixel data
//! element by the same rule (tag, VR, two zero bytes, length, in explicit
//! VR; tag and length in implicit VR; tag, OB, two zero bytes and the
//! undefined length when encapsulated), followed by the input's value
//! bytes (for fragments: their items and delimiter, which dicom-rs writes
//! back as it read them when the walk accepts them).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use dicom_core::VR;
use dicom_dictionary_std::{tags, uids};
use dicom_encoding::transfer_syntax::Endianness;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use super::{
    Form, Opening, ReadError, Staged, UN_UNDEFINED_LENGTH, bounded, native_pixel_header, open_meta,
    registered, sniff, stage, trailer,
};

/// The pixel data a header read left in the file.
#[derive(Debug, Clone, Copy)]
pub struct Tail {
    /// Where the value starts in the file.
    pub value_offset: u64,
    /// The value's bytes (for fragments: up to and with the sequence
    /// delimiter).
    pub len: u64,
    pub vr: VR,
    pub explicit: bool,
    /// Fragments (items, then the sequence delimiter), copied as they
    /// are: the element's length is undefined.
    pub encapsulated: bool,
}

/// The header prefix is read at this size first, then four times larger,
/// up to [`MAX_PREFIX`]; a header longer than that takes the whole-file
/// path.
const FIRST_PREFIX: usize = 256 << 10;
const MAX_PREFIX: usize = 64 << 20;

/// The data set of `path` but for its pixel data's value (the elements
/// after it included), and where that value is, when the file qualifies:
/// a Part 10 file in explicit or implicit VR little endian whose pixel
/// data are native (OB or OW) of defined length, or in an encapsulated
/// syntax with pixel data in fragments, followed by at most
/// [`trailer::MAX_TRAILER`] bytes. `Ok(None)`: it does not (read it whole
/// instead).
pub fn open_header(path: &Path) -> Result<Option<(DefaultDicomObject, Tail)>, ReadError> {
    let Some(Header {
        mut obj,
        tail,
        trailer,
    }) = read_header(path)?
    else {
        return Ok(None);
    };
    for element in trailer.into_iter().flat_map(|t| t.into_iter()) {
        obj.put(element);
    }
    Ok(tail.map(|tail| (obj, tail)))
}

/// The data set of `path` up to its pixel data (as [`super::open`] with
/// `until` the pixel data gives it), read from a prefix of the file
/// instead of the whole of it where the file is in explicit or implicit VR
/// little endian; else read whole.
pub fn open_until_pixel_data(path: &Path) -> Result<DefaultDicomObject, ReadError> {
    match read_header(path)? {
        Some(header) => Ok(header.obj),
        None => super::open(path, Some(tags::PIXEL_DATA)),
    }
}

/// A header read from a prefix: the data set before the pixel data, and
/// the pixel data when it can be copied as bytes, with the elements after
/// it.
struct Header {
    obj: DefaultDicomObject,
    tail: Option<Tail>,
    trailer: Option<InMemDicomObject>,
}

/// Read `path` up to its pixel data from a growing prefix. `Ok(None)`:
/// the file is not one this reader takes (another syntax, no pixel data,
/// a header beyond [`MAX_PREFIX`], or bytes the whole-file reader refuses).
fn read_header(path: &Path) -> Result<Option<Header>, ReadError> {
    let mut file = File::open(path).map_err(ReadError::Io)?;
    let size = file.metadata().map_err(ReadError::Io)?.len();
    let mut prefix_len = FIRST_PREFIX;
    loop {
        let want = (prefix_len as u64).min(size) as usize;
        let mut prefix = vec![0u8; want];
        file.seek(SeekFrom::Start(0)).map_err(ReadError::Io)?;
        file.read_exact(&mut prefix).map_err(ReadError::Io)?;
        match header_from(&prefix, size)? {
            Step::Done(None) => return Ok(None),
            Step::Done(Some((mut header, pattern))) => {
                if let Some(tail) = header.tail.as_mut()
                    && tail.encapsulated
                {
                    match items(&mut file, tail, size) {
                        Ok((_, end)) => tail.len = end - tail.value_offset,
                        Err(_) => header.tail = None,
                    }
                }
                if let Some(tail) = header.tail
                    && tail.value_offset + tail.len < size
                {
                    let ts = registered(header.obj.meta().transfer_syntax())?;
                    let end = tail.value_offset + tail.len;
                    header.trailer = trailer::read(&mut file, end, size, ts, &header.obj)
                        .map_err(ReadError::Io)?;
                    if header.trailer.is_none() {
                        header.tail = None;
                    }
                }
                // The whole-file reader refuses a file holding the bytes
                // of an undefined-length UN header anywhere but in its
                // pixel data's value ([`super::refuse_un_sequences`]);
                // when the pixel data is not copied, let it decide.
                match (&header.tail, pattern) {
                    (Some(t), Some(p)) if p < t.value_offset || p >= t.value_offset + t.len => {
                        return Ok(None);
                    }
                    (Some(_), _) => {}
                    (None, Some(_)) => return Ok(None),
                    (None, None) => {
                        let from =
                            (want as u64).saturating_sub(UN_UNDEFINED_LENGTH.len() as u64 - 1);
                        if has_pattern_after(&mut file, from)? {
                            return Ok(None);
                        }
                    }
                }
                return Ok(Some(*header));
            }
            Step::Longer if want as u64 >= size || prefix_len >= MAX_PREFIX => return Ok(None),
            Step::Longer => prefix_len *= 4,
        }
    }
}

/// Where each item of the encapsulated pixel data of `tail` holds its
/// value (offset in the file, length), the offset table first, when the
/// items are well formed and their sequence delimiter within the file; and
/// where the delimiter ends. `size`: the file's.
fn items(file: &mut File, tail: &Tail, size: u64) -> Result<(Vec<(u64, u32)>, u64), String> {
    let mut found = Vec::new();
    let item_at = |at: u64| {
        // One positioned read per item (no seek).
        let mut h = [0u8; 8];
        std::os::unix::fs::FileExt::read_exact_at(&*file, &mut h, at)
            .map_err(|e| format!("an item header at byte {at}: {e}"))?;
        let (tag, len) = super::item_at(&h, 0)?;
        if tag == super::walk::ITEM {
            found.push((at + 8, len));
        }
        Ok((tag, len))
    };
    let end = super::walk::fragments_end(item_at, tail.value_offset, size)?;
    Ok((found, end))
}

/// The fragments of each of `frames` frames of the encapsulated pixel
/// data of `tail` in `path`: one fragment per frame, all of them for one
/// frame, or as the basic offset table groups them; `Err` when none of
/// these says which fragments make a frame.
pub fn frame_fragments(
    path: &Path,
    tail: &Tail,
    frames: usize,
) -> Result<Vec<Vec<(u64, u32)>>, String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let (found, _) = items(&mut file, tail, size)?;
    let Some(((table_at, table_len), fragments)) = found.split_first() else {
        return Err("no offset table item".into());
    };
    if fragments.is_empty() {
        return Err("no fragments".into());
    }
    if frames == fragments.len() {
        return Ok(fragments.iter().map(|f| vec![*f]).collect());
    }
    if frames == 1 {
        return Ok(vec![fragments.to_vec()]);
    }
    // The offset table: each frame's first fragment item, from the first
    // fragment's item header.
    let mut table = vec![0u8; *table_len as usize];
    file.seek(SeekFrom::Start(*table_at))
        .and_then(|_| file.read_exact(&mut table))
        .map_err(|e| e.to_string())?;
    let offsets: Vec<u64> = table
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    if offsets.len() != frames || offsets.first() != Some(&0) || !offsets.is_sorted() {
        return Err(format!(
            "{} fragments for {frames} frames, and an offset table of {} entries",
            fragments.len(),
            offsets.len()
        ));
    }
    let first_item = fragments[0].0 - 8;
    let mut grouped: Vec<Vec<(u64, u32)>> = vec![Vec::new(); frames];
    for &(at, len) in fragments {
        let offset = at - 8 - first_item;
        let frame = offsets.partition_point(|&o| o <= offset) - 1;
        grouped[frame].push((at, len));
    }
    if grouped
        .iter()
        .zip(&offsets)
        .any(|(g, &o)| g.first().is_none_or(|f| f.0 - 8 - first_item != o))
    {
        return Err("the offset table does not point at fragment items".into());
    }
    Ok(grouped)
}

/// Read the values of `fragments` from `file`.
fn read_fragments(file: &mut File, fragments: &[(u64, u32)]) -> std::io::Result<Vec<Vec<u8>>> {
    fragments
        .iter()
        .map(|&(at, len)| {
            let mut value = vec![0u8; len as usize];
            file.seek(SeekFrom::Start(at))?;
            file.read_exact(&mut value)?;
            Ok(value)
        })
        .collect()
}

/// Frame `n` (from 0) of the native pixel data of `tail` in `path`, of
/// `frame_bytes` bytes.
pub fn read_native_frame(
    path: &Path,
    tail: &Tail,
    n: usize,
    frame_bytes: usize,
) -> std::io::Result<Vec<u8>> {
    let start = (n as u64) * frame_bytes as u64;
    if tail.encapsulated || start + frame_bytes as u64 > tail.len {
        return Err(std::io::Error::other(format!(
            "no frame {} of {frame_bytes} bytes in the pixel data",
            n + 1
        )));
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(tail.value_offset + start))?;
    let mut frame = vec![0u8; frame_bytes];
    file.read_exact(&mut frame)?;
    Ok(frame)
}

/// The values of one frame's fragments (see [`frame_fragments`]).
pub fn read_frame(path: &Path, fragments: &[(u64, u32)]) -> std::io::Result<Vec<Vec<u8>>> {
    read_fragments(&mut File::open(path)?, fragments)
}

enum Step {
    /// The header, and where in the file the prefix first holds the bytes
    /// of an undefined-length UN header, if it does.
    Done(Option<(Box<Header>, Option<u64>)>),
    /// The prefix ended before the pixel data.
    Longer,
}

fn header_from(prefix: &[u8], size: u64) -> Result<Step, ReadError> {
    let meta_at = match sniff(&prefix[..prefix.len().min(132)]) {
        Some(Form::Part10) => 128,
        Some(Form::NoPreamble) => 0,
        _ => return Ok(Step::Done(None)),
    };
    let shorter = (prefix.len() as u64) < size;
    let opening = match open_meta(prefix, meta_at) {
        Ok(opening) => opening,
        Err(_) if shorter => return Ok(Step::Longer),
        Err(_) => return Ok(Step::Done(None)),
    };
    let explicit = match opening.ts.uid() {
        uids::EXPLICIT_VR_LITTLE_ENDIAN => true,
        uids::IMPLICIT_VR_LITTLE_ENDIAN => false,
        // JPEG, JPEG-LS, JPEG 2000, RLE…: explicit VR little endian.
        _ if opening.ts.is_encapsulated_pixel_data()
            && opening.ts.endianness() == Endianness::Little =>
        {
            true
        }
        _ => return Ok(Step::Done(None)),
    };
    if opening.written_implicit {
        return Ok(Step::Done(None));
    }
    let Opening {
        mut meta,
        ts,
        data: rest,
        origin,
        ..
    } = opening;
    // The first bytes of an undefined-length UN header, if any: the
    // whole-file reader refuses the file unless they lie in the value of
    // the pixel data it copies ([`super::refuse_un_sequences`]).
    let pattern = memchr::memmem::find(rest, UN_UNDEFINED_LENGTH);
    let Ok((obj, stopped)) =
        bounded::read_dataset_until(rest, ts, Some(tags::PIXEL_DATA), Some(origin))
    else {
        return Ok(if shorter {
            Step::Longer
        } else {
            Step::Done(None)
        });
    };
    let Some(at) = stopped else {
        return Ok(if shorter {
            Step::Longer
        } else {
            Step::Done(None)
        });
    };
    let tail = pixel_tail(&rest[at as usize..], explicit, origin + at, size);
    let pattern = pattern.map(|p| origin + p as u64);
    // As the whole-file reader.
    super::fill_meta_uids(&mut meta, &obj);
    let mut obj: DefaultDicomObject = obj.with_exact_meta(meta);
    crate::charset::decode_in_place(&mut obj);
    Ok(Step::Done(Some((
        Box::new(Header {
            obj,
            tail,
            trailer: None,
        }),
        pattern,
    ))))
}

/// The pixel data element at the start of `element` (at `offset` in a
/// file of `size` bytes), when it is native, of defined length, and within
/// the file; or encapsulated (its fragments are walked by the caller,
/// which then knows where they end).
fn pixel_tail(element: &[u8], explicit: bool, offset: u64, size: u64) -> Option<Tail> {
    if explicit && super::is_encapsulated_pixel_header(element) {
        let value_offset = offset + super::ENCAPSULATED_HEADER.len() as u64;
        return Some(Tail {
            value_offset,
            len: size.checked_sub(value_offset)?,
            vr: VR::OB,
            explicit,
            encapsulated: true,
        });
    }
    let (vr, len, header_len) = native_pixel_header(element, explicit, false)?;
    let value_offset = offset + header_len as u64;
    (value_offset + u64::from(len) <= size).then_some(Tail {
        value_offset,
        len: u64::from(len),
        vr,
        explicit,
        encapsulated: false,
    })
}

/// Whether the file from `from` to its end holds the bytes the
/// whole-file reader refuses a file for (an undefined-length UN header),
/// read in chunks.
fn has_pattern_after(file: &mut File, from: u64) -> Result<bool, ReadError> {
    const CHUNK: usize = 1 << 20;
    let keep = UN_UNDEFINED_LENGTH.len() - 1;
    file.seek(SeekFrom::Start(from)).map_err(ReadError::Io)?;
    let mut buf = vec![0u8; CHUNK + keep];
    let mut carried = 0;
    loop {
        let n = file.read(&mut buf[carried..]).map_err(ReadError::Io)?;
        if n == 0 {
            return Ok(false);
        }
        let filled = carried + n;
        if memchr::memmem::find(&buf[..filled], UN_UNDEFINED_LENGTH).is_some() {
            return Ok(true);
        }
        carried = keep.min(filled);
        buf.copy_within(filled - carried..filled, 0);
    }
}

/// A small stand-in for the pixel data while the header is anonymized,
/// so that rules and checks see the element; [`is_probe`] tells whether
/// the script left it as it was.
pub fn probe(tail: &Tail) -> dicom_core::DataElement<InMemDicomObject> {
    use dicom_core::value::{PixelFragmentSequence, Value};
    let value = if tail.encapsulated {
        Value::PixelSequence(PixelFragmentSequence::new(Vec::new(), vec![PROBE.to_vec()]))
    } else {
        Value::Primitive(dicom_core::PrimitiveValue::U8(PROBE.to_vec().into()))
    };
    dicom_core::DataElement::new(tags::PIXEL_DATA, tail.vr, value)
}

const PROBE: [u8; 2] = [0x5A, 0xA5];

/// Whether `obj` holds the probe unchanged.
pub fn is_probe(obj: &InMemDicomObject, tail: &Tail) -> bool {
    obj.get(tags::PIXEL_DATA).is_some_and(|e| {
        let value = e.value();
        e.header().vr == tail.vr
            && if tail.encapsulated {
                value.offset_table().is_some_and(|t| t.is_empty())
                    && value
                        .fragments()
                        .is_some_and(|f| f.len() == 1 && f[0] == PROBE)
            } else {
                value.to_bytes().is_ok_and(|b| b.as_ref() == PROBE)
            }
    })
}

/// A change made to the pixel data as they are copied: `units` pieces of
/// `unit_bytes` from the start of the value (frames, or planes of frames),
/// each passed to `apply` with its number; the bytes after them are
/// copied as they are. One piece is held at a time.
pub struct UnitEdit<'a> {
    pub unit_bytes: usize,
    pub units: usize,
    pub apply: &'a dyn Fn(usize, &mut [u8]),
}

/// Copy up to `left` bytes from `input` to `out` in chunks of 1 MiB (a
/// few hundred reads and writes for a large file, where `std::io::copy`
/// into a `dyn Write` makes one read per 8 KiB); the bytes copied.
fn copy_chunks(
    input: &mut File,
    mut left: u64,
    out: &mut dyn std::io::Write,
) -> std::io::Result<u64> {
    const CHUNK: u64 = 1 << 20;
    let mut buffer = vec![0u8; CHUNK.min(left) as usize];
    let mut copied = 0;
    while left > 0 {
        let want = CHUNK.min(left) as usize;
        let n = match input.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buffer[..n])?;
        copied += n as u64;
        left -= n as u64;
    }
    Ok(copied)
}

/// Encapsulated pixel data written native, one frame at a time: each
/// frame's fragments (see [`frame_fragments`]) are read and passed to
/// `decode`, which gives the frame's `frame_bytes` native bytes.
pub struct FrameDecode<'a> {
    pub frames: Vec<Vec<(u64, u32)>>,
    pub frame_bytes: usize,
    pub decode: &'a (dyn Fn(usize, Vec<Vec<u8>>) -> std::io::Result<Vec<u8>> + Sync),
}

/// The most decoded bytes [`stage_decoded`] holds at once (one frame at
/// least, whatever its size).
const DECODED_AT_ONCE: usize = 32 << 20;

/// Write `obj` (without pixel data) under a temporary name beside `path`,
/// then the pixel data element decoded by `decode` as
/// [`FrameDecode`] says, as OB (what the whole data set's path writes
/// decoded encapsulated pixel data as).
pub fn stage_decoded(
    path: &Path,
    obj: &DefaultDicomObject,
    source: &Path,
    decode: &FrameDecode,
) -> std::io::Result<Staged> {
    let total = decode
        .frames
        .len()
        .checked_mul(decode.frame_bytes)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| n % 2 == 0 && *n != u32::MAX)
        .ok_or_else(|| std::io::Error::other("decoded pixel data of odd length or over 4 GiB"))?;
    let obj = &*super::encoded_for_writing(obj);
    let (obj, after) = trailer::split(obj)?;
    let mut input = File::open(source)?;
    stage(path, |out| {
        obj.write_all(&mut *out)
            .map_err(|e| super::write_error(&e))?;
        let mut header = vec![0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0];
        header.extend_from_slice(&total.to_le_bytes());
        out.write_all(&header)?;
        // Frames are decoded a batch at a time on the thread pool (a
        // single large file uses every core), the batch held decoded
        // within DECODED_AT_ONCE bytes, and written in order.
        use rayon::prelude::*;
        let batch = (DECODED_AT_ONCE / decode.frame_bytes.max(1))
            .clamp(1, 2 * rayon::current_num_threads());
        for (first, frames) in decode.frames.chunks(batch).enumerate() {
            let first = first * batch;
            let read: Vec<Vec<Vec<u8>>> = frames
                .iter()
                .map(|fragments| read_fragments(&mut input, fragments))
                .collect::<std::io::Result<_>>()?;
            let decoded: Vec<std::io::Result<Vec<u8>>> = read
                .into_par_iter()
                .enumerate()
                .map(|(i, fragments)| (decode.decode)(first + i, fragments))
                .collect();
            for (i, frame) in decoded.into_iter().enumerate() {
                let frame = frame?;
                if frame.len() != decode.frame_bytes {
                    return Err(std::io::Error::other(format!(
                        "frame {} decoded to {} bytes, not {}",
                        first + i + 1,
                        frame.len(),
                        decode.frame_bytes
                    )));
                }
                out.write_all(&frame)?;
            }
        }
        out.write_all(after.as_deref().unwrap_or_default())
    })
    .map(|staged| Staged {
        pixel_framewise: true,
        ..staged
    })
}

/// Write `obj` (without pixel data) under a temporary name beside `path`,
/// with the pixel data element in its place, its value copied from
/// `source` (changed by `edit` on the way, when given).
pub fn stage_with_tail(
    path: &Path,
    obj: &DefaultDicomObject,
    source: &Path,
    tail: &Tail,
    edit: Option<&UnitEdit>,
) -> std::io::Result<Staged> {
    let obj = &*super::encoded_for_writing(obj);
    let (obj, after) = trailer::split(obj)?;
    stage(path, |out| {
        obj.write_all(&mut *out)
            .map_err(|e| super::write_error(&e))?;
        let mut header = vec![0xE0, 0x7F, 0x10, 0x00];
        if tail.explicit {
            header.extend_from_slice(&tail.vr.to_bytes());
            header.extend_from_slice(&[0, 0]);
        }
        let len = match (tail.encapsulated, u32::try_from(tail.len)) {
            (true, _) => u32::MAX,
            (false, Ok(len)) => len,
            (false, Err(_)) => {
                return Err(std::io::Error::other("pixel data of more than 4 GiB"));
            }
        };
        header.extend_from_slice(&len.to_le_bytes());
        out.write_all(&header)?;
        let mut input = File::open(source)?;
        input.seek(SeekFrom::Start(tail.value_offset))?;
        let mut edited = 0u64;
        if let Some(edit) = edit {
            let mut unit = vec![0u8; edit.unit_bytes];
            for n in 0..edit.units {
                if edited + unit.len() as u64 > tail.len {
                    break;
                }
                input.read_exact(&mut unit)?;
                (edit.apply)(n, &mut unit);
                out.write_all(&unit)?;
                edited += unit.len() as u64;
            }
        }
        let rest = tail.len - edited;
        let copied = edited + copy_chunks(&mut input, rest, out)?;
        if copied != tail.len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "{} ended {} bytes into its pixel data of {}",
                    source.display(),
                    copied,
                    tail.len
                ),
            ));
        }
        out.write_all(after.as_deref().unwrap_or_default())
    })
    .map(|staged| Staged {
        pixel_copied: true,
        ..staged
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::{PixelFragmentSequence, Value};
    use dicom_core::{DataElement, PrimitiveValue};

    /// A JPEG baseline file of `frames` frames whose pixel data are these
    /// fragments, with this offset table.
    fn encapsulated(path: &Path, frames: usize, table: Vec<u32>, fragments: Vec<Vec<u8>>) -> Tail {
        let mut obj = InMemDicomObject::new_empty();
        for (tag, vr, value) in [
            (tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
            (tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4"),
            (tags::NUMBER_OF_FRAMES, VR::IS, &frames.to_string()),
        ] {
            obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
        }
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::PixelSequence(PixelFragmentSequence::new(table, fragments)),
        ));
        obj.with_meta(
            dicom_object::meta::FileMetaTableBuilder::new()
                .transfer_syntax(uids::JPEG_BASELINE8_BIT),
        )
        .unwrap()
        .write_to_file(path)
        .unwrap();
        let (_, tail) = open_header(path)
            .unwrap()
            .expect("its fragments end the file");
        assert!(tail.encapsulated);
        tail
    }

    #[test]
    fn fragments_are_grouped_into_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.dcm");
        let values = |n: usize| -> Vec<Vec<u8>> { (0..n).map(|i| vec![i as u8; 10]).collect() };
        let lens = |grouped: Vec<Vec<(u64, u32)>>| -> Vec<usize> {
            grouped.iter().map(Vec::len).collect()
        };
        // One fragment per frame, with or without a table.
        let tail = encapsulated(&path, 3, Vec::new(), values(3));
        assert_eq!(lens(frame_fragments(&path, &tail, 3).unwrap()), [1, 1, 1]);
        // One frame in three fragments.
        let tail = encapsulated(&path, 1, Vec::new(), values(3));
        assert_eq!(lens(frame_fragments(&path, &tail, 1).unwrap()), [3]);
        // Two frames in three fragments: the table says where each starts
        // (items of 8 + 10 bytes).
        let tail = encapsulated(&path, 2, vec![0, 36], values(3));
        let grouped = frame_fragments(&path, &tail, 2).unwrap();
        assert_eq!(lens(grouped.clone()), [2, 1]);
        let frame = read_frame(&path, &grouped[1]).unwrap();
        assert_eq!(frame, vec![vec![2u8; 10]]);
        // No table, or one that points between items: not grouped.
        let tail = encapsulated(&path, 2, Vec::new(), values(3));
        assert!(frame_fragments(&path, &tail, 2).is_err());
        let tail = encapsulated(&path, 2, vec![0, 30], values(3));
        assert!(frame_fragments(&path, &tail, 2).is_err());
    }

    /// Elements after the pixel data (a private group with text in the
    /// data set's character set, trailing padding) are read from the bytes
    /// after the value as the whole-file reader reads them, and written
    /// back after the copied value as writing the data set whole writes
    /// them, in both little-endian syntaxes and with fragments.
    #[test]
    fn elements_after_the_pixel_data_are_read_and_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        for (n, ts) in [
            uids::EXPLICIT_VR_LITTLE_ENDIAN,
            uids::IMPLICIT_VR_LITTLE_ENDIAN,
            uids::JPEG_BASELINE8_BIT,
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("in{n}.dcm"));
            let mut obj = InMemDicomObject::new_empty();
            for (tag, vr, value) in [
                (tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
                (tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
                (tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4"),
                (tags::PATIENT_NAME, VR::PN, "Müller^Jürgen"),
                (dicom_core::Tag(0x7FE1, 0x0010), VR::LO, "ÉQUIPE PRIVÉE"),
                (dicom_core::Tag(0x7FE1, 0x1001), VR::LO, "Crâne, café"),
            ] {
                obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
            }
            obj.put(DataElement::new(
                dicom_core::Tag(0xFFFC, 0xFFFC),
                VR::OB,
                PrimitiveValue::U8(vec![0u8; 40].into()),
            ));
            let pixels = if ts == uids::JPEG_BASELINE8_BIT {
                Value::PixelSequence(PixelFragmentSequence::new(
                    vec![],
                    vec![vec![7u8; 300], vec![9u8; 100]],
                ))
            } else {
                Value::Primitive(PrimitiveValue::U8((0..=255u8).cycle().take(5000).collect()))
            };
            obj.put(DataElement::new(tags::PIXEL_DATA, VR::OB, pixels));
            let file = obj
                .with_meta(dicom_object::meta::FileMetaTableBuilder::new().transfer_syntax(ts))
                .unwrap();
            file.write_to_file(&path).unwrap();
            let input = std::fs::read(&path).unwrap();

            let whole = super::super::open(&path, None).unwrap();
            let (mut header, tail) = open_header(&path)
                .unwrap()
                .unwrap_or_else(|| panic!("{ts}: a tail"));
            let private = |o: &InMemDicomObject| o.get(dicom_core::Tag(0x7FE1, 0x1001)).cloned();
            assert!(private(&header).is_some(), "{ts}");
            assert_eq!(private(&header), private(&whole), "{ts}");
            let end = tail.value_offset + tail.len;
            assert!(
                end < input.len() as u64,
                "{ts}: the value ends before the file"
            );
            assert!(is_probe(
                &{
                    let mut probed = header.clone().into_inner();
                    probed.put(probe(&tail));
                    probed
                },
                &tail
            ));
            let mut without = whole.clone();
            without.remove_element(tags::PIXEL_DATA);
            header.remove_element(tags::PIXEL_DATA);
            assert_eq!(
                format!("{:?}", *without),
                format!("{:?}", *header),
                "{ts}: the header read apart is the whole one's"
            );

            // Written back: the input's bytes after the preamble and meta
            // (both written by dicom-rs the same way).
            let out = dir.path().join(format!("out{n}.dcm"));
            stage_with_tail(&out, &header, &path, &tail, None)
                .unwrap()
                .commit()
                .unwrap();
            let reference = dir.path().join(format!("ref{n}.dcm"));
            super::super::stage_dicom(&reference, &whole)
                .unwrap()
                .commit()
                .unwrap();
            assert!(
                std::fs::read(&out).unwrap() == std::fs::read(&reference).unwrap(),
                "{ts}: written as the whole data set is"
            );
        }

        // Bytes after the pixel data that are not elements, or that the
        // whole-file reader refuses: the whole-file reader decides.
        for (n, trailing) in [
            b"not an element".to_vec(),
            [
                &[0xFC, 0xFF, 0xFC, 0xFF, b'O', b'B', 0, 0, 8, 0, 0, 0][..],
                b"UN\0\0\xff\xff\xff\xff",
            ]
            .concat(),
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("odd{n}.dcm"));
            let mut obj = InMemDicomObject::new_empty();
            obj.put(DataElement::new(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                PrimitiveValue::from("1.2.3"),
            ));
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U8(vec![1u8; 64].into()),
            ));
            let mut bytes = Vec::new();
            obj.with_meta(
                dicom_object::meta::FileMetaTableBuilder::new()
                    .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
                    .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN),
            )
            .unwrap()
            .write_all(&mut bytes)
            .unwrap();
            bytes.extend_from_slice(&trailing);
            std::fs::write(&path, &bytes).unwrap();
            assert!(open_header(&path).unwrap().is_none(), "{n}");
        }
    }
}
