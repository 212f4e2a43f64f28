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
    let Some(tail) = tail else {
        return false;
    };
    let item_at = |at: u64| {
        let mut h = [0u8; 8];
        file.seek(SeekFrom::Start(at))
            .and_then(|_| file.read_exact(&mut h))
            .map_err(|e| format!("an item header at byte {at}: {e}"))?;
        super::item_at(&h, 0)
    };
    super::walk::fragments_end(item_at, tail.value_offset, size) == Ok(size)
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
        let copied = edited + std::io::copy(&mut input.take(rest), out)?;
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
