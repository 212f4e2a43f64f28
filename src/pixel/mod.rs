//! Cleaning text burned into pixel data.
//!
//! CTP's DicomPixelAnonymizer scripts ([`script`]): the first signature
//! whose condition holds for a file (read as it arrived, before the header
//! script) gives the regions to blank, and [`blank`] blanks them in every
//! frame after the header script has run. Encapsulated pixel data are
//! decoded first (RLE, JPEG baseline/extended/lossless) and written native
//! ([`crate::dicom_file::native`]): the original bitstream never leaves.
//! A cleaned file gets BurnedInAnnotation NO and DCM 113101 (Clean Pixel
//! Data Option) in DeidentificationMethodCodeSequence.
//!
//! Unlike CTP, which passes a file it cannot clean unchanged (a transfer
//! syntax other than JPEG baseline, bits allocated not a multiple of 8,
//! no Rows), a file whose signature lists regions and that cannot be
//! cleaned is refused: the caller quarantines it (`Pixel_Clean_Error`).

pub mod blank;
pub mod frames;
pub mod preview;
pub mod script;
pub mod text;

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::interpreter::values::{add_method_code, text_element};
use blank::Geometry;
use script::Region;

/// DCM 113101, added to a cleaned file's de-identification methods.
pub const CLEAN_PIXEL_DATA: (&str, &str) = ("113101", "Clean Pixel Data Option");

/// What cleaning did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// The transfer syntax to write the file with (native after decoding).
    pub transfer_syntax: String,
    pub frames: usize,
    /// Pixels blanked in each frame.
    pub pixels_per_frame: u64,
    /// Whether compressed pixel data were decoded to be cleaned.
    pub decoded: bool,
}

impl Cleaned {
    pub fn describe(&self) -> String {
        format!(
            "{} pixels blanked in each of {} frame(s){}",
            self.pixels_per_frame,
            self.frames,
            if self.decoded {
                " (decoded from compressed pixel data, written uncompressed)"
            } else {
                ""
            }
        )
    }
}

/// Blank `regions` in the pixel data of `obj`, written with
/// `transfer_syntax`. `Ok(None)` when there is no pixel data (nothing to
/// clean); an error says why the pixels could not be cleaned.
pub fn clean(
    obj: &mut InMemDicomObject,
    transfer_syntax: &str,
    regions: &[Region],
) -> Result<Option<Cleaned>, String> {
    if obj.get(tags::PIXEL_DATA).is_none() {
        return Ok(None);
    }
    let decoded = crate::dicom_file::native::decode_to_native(obj, transfer_syntax)
        .map_err(|e| e.to_string())?;
    let ts = decoded
        .clone()
        .unwrap_or_else(|| transfer_syntax.trim_end_matches('\0').to_string());
    let geometry = geometry(obj);
    let element = obj.get(tags::PIXEL_DATA).expect("checked above");
    let vr = element.vr();
    let Value::Primitive(value) = element.value() else {
        return Err("the pixel data are still encapsulated".into());
    };
    let mut bytes = value.to_bytes().into_owned();
    let pixels_per_frame = blank::blank(&mut bytes, &geometry, regions)?;
    let value = same_kind(value, bytes)?;
    obj.put(DataElement::new(tags::PIXEL_DATA, vr, value));
    mark_cleaned(obj);
    Ok(Some(Cleaned {
        transfer_syntax: ts,
        frames: geometry.frames,
        pixels_per_frame,
        decoded: decoded.is_some(),
    }))
}

/// Cleaning encapsulated pixel data one frame at a time, as they are
/// copied from a large file: each frame is decoded from its fragments
/// alone, blanked, and written native. The outcome is the one [`clean`]
/// gives for the whole pixel data: the same bytes, the same header.
pub struct FrameCleaner {
    header: InMemDicomObject,
    transfer_syntax: String,
    blanker: blank::Blanker,
    /// Frame 0, decoded and blanked when set up, until it is asked for.
    first: std::sync::Mutex<Option<Vec<u8>>>,
    /// The cleaning as [`clean`] reports it.
    pub cleaned: Cleaned,
}

impl FrameCleaner {
    /// Set up from the data set `obj` (its pixel data left in the file)
    /// and the fragments of its first frame: the frame is decoded to learn
    /// the decoded layout, and `obj` changed as decoding and cleaning it
    /// whole would change it (colour as decoded, cleaned marks).
    pub fn new(
        obj: &mut InMemDicomObject,
        transfer_syntax: &str,
        first: Vec<Vec<u8>>,
        regions: &[Region],
    ) -> Result<Self, String> {
        let header = obj.clone();
        let decoded = crate::dicom_file::native::decode_fragments(&header, transfer_syntax, first)
            .map_err(|e| e.to_string())?;
        crate::dicom_file::native::describe_decoded(obj, decoded.samples, decoded.photometric);
        let geometry = geometry(obj);
        let blanker = blank::Blanker::new(&geometry, regions)?;
        if blanker.unit_bytes() != decoded.bytes.len() || blanker.units() != geometry.frames {
            return Err(format!(
                "a frame decodes to {} bytes, where the image attributes say {} bytes in {} unit(s)",
                decoded.bytes.len(),
                blanker.unit_bytes(),
                blanker.units()
            ));
        }
        let mut first = decoded.bytes;
        let pixels_per_frame = blanker.blank_unit(0, &mut first);
        mark_cleaned(obj);
        Ok(FrameCleaner {
            header,
            transfer_syntax: transfer_syntax.to_string(),
            blanker,
            first: std::sync::Mutex::new(Some(first)),
            cleaned: Cleaned {
                transfer_syntax: crate::dicom_file::native::EXPLICIT_VR_LITTLE_ENDIAN.to_string(),
                frames: geometry.frames,
                pixels_per_frame,
                decoded: true,
            },
        })
    }

    /// The bytes of one decoded frame.
    pub fn frame_bytes(&self) -> usize {
        self.blanker.unit_bytes()
    }

    /// Frame `n` (from 0) decoded from its `fragments` and blanked (frame
    /// 0 is decoded once, when set up).
    pub fn frame(&self, n: usize, fragments: Vec<Vec<u8>>) -> Result<Vec<u8>, String> {
        if n == 0
            && let Some(first) = self.first.lock().ok().and_then(|mut f| f.take())
        {
            return Ok(first);
        }
        let mut decoded = crate::dicom_file::native::decode_fragments(
            &self.header,
            &self.transfer_syntax,
            fragments,
        )
        .map_err(|e| e.to_string())?;
        self.blanker.blank_unit(n, &mut decoded.bytes);
        Ok(decoded.bytes)
    }
}

/// Inpaint text `regions` in the native pixel data of `obj` (after
/// [`clean`] has decoded and marked it): see [`text::inpaint`].
pub fn inpaint(
    obj: &mut InMemDicomObject,
    regions: &[Region],
) -> Result<text::inpaint::Outcome, String> {
    let geometry = geometry(obj);
    let Some(element) = obj.get(tags::PIXEL_DATA) else {
        return Ok(text::inpaint::Outcome::default());
    };
    let vr = element.vr();
    let Value::Primitive(value) = element.value() else {
        return Err("the pixel data are still encapsulated".into());
    };
    let mut bytes = value.to_bytes().into_owned();
    let outcome = text::inpaint::inpaint(&mut bytes, &geometry, regions)?;
    let value = same_kind(value, bytes)?;
    obj.put(DataElement::new(tags::PIXEL_DATA, vr, value));
    Ok(outcome)
}

/// What a cleaned file says of itself: BurnedInAnnotation NO, and DCM
/// 113101 among its de-identification methods.
pub fn mark_cleaned(obj: &mut InMemDicomObject) {
    obj.put(text_element(tags::BURNED_IN_ANNOTATION, VR::CS, "NO"));
    let (code, meaning) = CLEAN_PIXEL_DATA;
    add_method_code(obj, code, meaning);
}

/// The geometry CTP reads, with its defaults (`getInt` of a missing or
/// unreadable value: 1 frame, 16 bits, 1 sample, planar 0, 0 rows).
pub fn geometry(obj: &InMemDicomObject) -> Geometry {
    let int = |tag: Tag, default: usize| {
        obj.get(tag)
            .and_then(|e| e.to_int::<i64>().ok())
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(default)
    };
    Geometry {
        rows: int(tags::ROWS, 0),
        columns: int(tags::COLUMNS, 0),
        frames: int(tags::NUMBER_OF_FRAMES, 1).max(1),
        samples: int(tags::SAMPLES_PER_PIXEL, 1),
        planar: int(tags::PLANAR_CONFIGURATION, 0),
        bits_allocated: int(tags::BITS_ALLOCATED, 16),
        photometric: obj
            .get(tags::PHOTOMETRIC_INTERPRETATION)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .unwrap_or_default(),
    }
}

/// Little-endian `bytes` back into the kind of value `like` was, so that
/// the writer encodes them in the file's byte order.
fn same_kind(like: &PrimitiveValue, bytes: Vec<u8>) -> Result<PrimitiveValue, String> {
    macro_rules! words {
        ($t:ty, $n:expr) => {
            bytes
                .chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk size")))
                .collect()
        };
    }
    Ok(match like {
        PrimitiveValue::U8(_) => PrimitiveValue::U8(bytes.into()),
        PrimitiveValue::U16(_) => PrimitiveValue::U16(words!(u16, 2)),
        PrimitiveValue::I16(_) => PrimitiveValue::I16(words!(i16, 2)),
        PrimitiveValue::U32(_) => PrimitiveValue::U32(words!(u32, 4)),
        PrimitiveValue::I32(_) => PrimitiveValue::I32(words!(i32, 4)),
        PrimitiveValue::F32(_) => PrimitiveValue::F32(words!(f32, 4)),
        PrimitiveValue::F64(_) => PrimitiveValue::F64(words!(f64, 8)),
        other => {
            return Err(format!(
                "the pixel data are held as {}, which cannot be cleaned",
                match other {
                    PrimitiveValue::Strs(_) | PrimitiveValue::Str(_) => "text",
                    _ => "values of another kind",
                }
            ));
        }
    })
}
