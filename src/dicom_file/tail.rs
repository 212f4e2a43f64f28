//! Large files without holding their pixel data: the header is read from a
//! prefix of the file, and the pixel data, when it is the file's last
//! element, in little endian, and native (defined length) or encapsulated
//! (well-formed fragments), is copied from the input to the output in
//! chunks, never decoded nor held whole.
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
    sniff, stage,
};

/// The pixel data a header read left in the file.
#[derive(Debug, Clone, Copy)]
pub struct Tail {
    /// Where the value starts in the file.
    pub value_offset: u64,
    /// The value's bytes, to the end of the file.
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

/// The data set of `path` up to its pixel data, and where that pixel data
/// is, when the file qualifies: a Part 10 file in explicit or implicit VR
/// little endian whose last element is native pixel data (OB or OW) of
/// defined length, or in an encapsulated syntax whose last element is
/// pixel data in fragments. `Ok(None)`: it does not (read it whole
/// instead).
pub fn open_header(path: &Path) -> Result<Option<(DefaultDicomObject, Tail)>, ReadError> {
    Ok(read_header(path)?.and_then(|h| Some((h.obj, h.tail?))))
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
/// the pixel data when it can be copied as bytes.
struct Header {
    obj: DefaultDicomObject,
    tail: Option<Tail>,
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
                if header.tail.is_some_and(|t| t.encapsulated)
                    && !fragments_fill(&mut file, header.tail.as_ref(), size)
                {
                    header.tail = None;
                }
                // The whole-file reader refuses a file holding the bytes
                // of an undefined-length UN header anywhere but in its
                // pixel data's value ([`super::refuse_un_sequences`]);
                // when the pixel data is not copied, let it decide.
                match (&header.tail, pattern) {
                    (Some(t), Some(p)) if p < t.value_offset => return Ok(None),
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

/// Whether the encapsulated pixel data of `tail` is well-formed fragments
/// ending with the file (`size` bytes), read item header by item header.
fn fragments_fill(file: &mut File, tail: Option<&Tail>, size: u64) -> bool {
    tail.is_some_and(|tail| items(file, tail, size).is_ok())
}

/// Where each item of the encapsulated pixel data of `tail` holds its
/// value (offset in the file, length), the offset table first, when the
/// items are well formed and end with the file (`size` bytes).
fn items(file: &mut File, tail: &Tail, size: u64) -> Result<Vec<(u64, u32)>, String> {
    let mut found = Vec::new();
    let item_at = |at: u64| {
        let mut h = [0u8; 8];
        file.seek(SeekFrom::Start(at))
            .and_then(|_| file.read_exact(&mut h))
            .map_err(|e| format!("an item header at byte {at}: {e}"))?;
        let (tag, len) = super::item_at(&h, 0)?;
        if tag == super::walk::ITEM {
            found.push((at + 8, len));
        }
        Ok((tag, len))
    };
    match super::walk::fragments_end(item_at, tail.value_offset, size)? {
        end if end == size => Ok(found),
        end => Err(format!(
            "the pixel data end at byte {end}, before the file's end"
        )),
    }
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
    let found = items(&mut file, tail, size)?;
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
    Ok(Step::Done(Some((Box::new(Header { obj, tail }), pattern))))
}

/// The pixel data element at the start of `element` (at `offset` in a
/// file of `size` bytes), when it is native, of defined length, and the
/// file's last element; or encapsulated (its fragments, which must end
/// with the file, are walked by the caller).
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
    (value_offset + u64::from(len) == size).then_some(Tail {
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

/// Whether `obj` holds the probe unchanged, as its last element.
pub fn is_probe(obj: &InMemDicomObject, tail: &Tail) -> bool {
    let last = obj.iter().last();
    last.is_some_and(|e| {
        let value = e.value();
        e.header().tag == tags::PIXEL_DATA
            && e.header().vr == tail.vr
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
        Ok(())
    })
    .map(|staged| Staged {
        pixel_framewise: true,
        ..staged
    })
}

/// Write `obj` (without pixel data) under a temporary name beside `path`,
/// then the pixel data element with the value copied from `source`
/// (changed by `edit` on the way, when given).
pub fn stage_with_tail(
    path: &Path,
    obj: &DefaultDicomObject,
    source: &Path,
    tail: &Tail,
    edit: Option<&UnitEdit>,
) -> std::io::Result<Staged> {
    let obj = &*super::encoded_for_writing(obj);
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
        Ok(())
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
}
