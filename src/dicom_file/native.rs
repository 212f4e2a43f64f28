//! Encapsulated (compressed) pixel data decoded into native form, for the
//! stages that edit pixels (defacing, pixel cleaning): RLE Lossless, the
//! JPEG processes this build decodes (8-bit baseline and extended, and
//! lossless) and JPEG 2000 (the pure-Rust openjp2), through
//! dicom-pixeldata; not JPEG-LS (its decoder, CharLS, is C++) nor 12-bit
//! JPEG extended. The decoded values
//! replace the pixel data as little-endian bytes; colour images are RGB
//! with interleaved samples afterwards, as the decoder gives them, and the
//! data set says so.

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileDicomObject, InMemDicomObject};

/// The transfer syntax decoded pixel data is written with.
pub const EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1";

/// Why encapsulated pixel data could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    pub transfer_syntax: String,
    pub reason: String,
}

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot decode pixel data of transfer syntax {}: {}",
            self.transfer_syntax, self.reason
        )
    }
}

/// Whether `obj` holds encapsulated (compressed) pixel data.
pub fn is_encapsulated(obj: &InMemDicomObject) -> bool {
    obj.get(tags::PIXEL_DATA)
        .is_some_and(|e| matches!(e.value(), Value::PixelSequence(_)))
}

/// Replace encapsulated pixel data by its decoded values; `Some(new
/// transfer syntax)` when it did, `None` when there is no pixel data or it
/// was native already.
pub fn decode_to_native(
    obj: &mut InMemDicomObject,
    transfer_syntax: &str,
) -> Result<Option<String>, Undecodable> {
    use dicom_pixeldata::PixelDecoder;
    let Some(element) = obj.get(tags::PIXEL_DATA) else {
        return Ok(None);
    };
    if !matches!(element.value(), Value::PixelSequence(_)) {
        return Ok(None);
    }
    let vr = element.vr();
    let ts = transfer_syntax.trim_end_matches('\0').to_string();
    let refuse = |reason: String| Undecodable {
        transfer_syntax: ts.clone(),
        reason,
    };
    let decoded = with_file(obj, &ts, |file| {
        file.decode_pixel_data().map(|d| {
            let samples = d.samples_per_pixel();
            let photometric = d.photometric_interpretation().as_str().to_string();
            (d.into_data(), samples, photometric)
        })
    })?;
    let (bytes, samples, photometric) = decoded.map_err(|e| refuse(e.to_string()))?;
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        if vr == VR::OB { VR::OB } else { VR::OW },
        PrimitiveValue::U8(bytes.into()),
    ));
    describe_decoded(obj, usize::from(samples), photometric);
    Ok(Some(EXPLICIT_VR_LITTLE_ENDIAN.to_string()))
}

/// What a data set says of its decoded pixel data: colour images are as
/// the decoder gave them (`photometric`), with interleaved samples.
pub fn describe_decoded(obj: &mut InMemDicomObject, samples: usize, photometric: String) {
    if samples > 1 {
        obj.put(DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from(photometric),
        ));
        obj.put(DataElement::new(
            tags::PLANAR_CONFIGURATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ));
    }
}

/// The attributes a decoder reads besides the pixel data.
const IMAGE_PIXEL: [dicom_core::Tag; 11] = [
    tags::SOP_CLASS_UID,
    tags::SOP_INSTANCE_UID,
    tags::SAMPLES_PER_PIXEL,
    tags::PHOTOMETRIC_INTERPRETATION,
    tags::PLANAR_CONFIGURATION,
    tags::ROWS,
    tags::COLUMNS,
    tags::BITS_ALLOCATED,
    tags::BITS_STORED,
    tags::HIGH_BIT,
    tags::PIXEL_REPRESENTATION,
];

/// One frame of encapsulated pixel data decoded from its fragments alone,
/// with the image attributes of `header` (a data set without its pixel
/// data, or with a stand-in for them): as [`decode_frame`] decodes that
/// frame of the whole pixel data.
pub fn decode_fragments(
    header: &InMemDicomObject,
    transfer_syntax: &str,
    fragments: Vec<Vec<u8>>,
) -> Result<DecodedFrame, Undecodable> {
    use dicom_core::value::PixelFragmentSequence;
    let mut one = InMemDicomObject::new_empty();
    for tag in IMAGE_PIXEL {
        if let Some(e) = header.get(tag) {
            one.put(e.clone());
        }
    }
    one.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("1"),
    ));
    one.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(Vec::new(), fragments)),
    ));
    decode_frame(&mut one, transfer_syntax, 0)
}

/// Run `f` on `obj` seen as a file of `transfer_syntax` (what
/// dicom-pixeldata's decoders take), without copying it: the data set is
/// moved into the file and back.
pub fn with_file<T>(
    obj: &mut InMemDicomObject,
    transfer_syntax: &str,
    f: impl FnOnce(&FileDicomObject<InMemDicomObject>) -> T,
) -> Result<T, Undecodable> {
    let ts = transfer_syntax.trim_end_matches('\0');
    let text = |tag| {
        obj.get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .unwrap_or_default()
    };
    let meta = dicom_object::meta::FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid(text(tags::SOP_CLASS_UID))
        .media_storage_sop_instance_uid(text(tags::SOP_INSTANCE_UID))
        .build()
        .map_err(|e| Undecodable {
            transfer_syntax: ts.to_string(),
            reason: e.to_string(),
        })?;
    let file = std::mem::replace(obj, InMemDicomObject::new_empty()).with_exact_meta(meta);
    let result = f(&file);
    *obj = file.into_inner();
    Ok(result)
}

/// One frame decoded: native little-endian bytes, samples interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    pub bytes: Vec<u8>,
    pub rows: usize,
    pub columns: usize,
    pub samples: usize,
    pub bits_allocated: usize,
    pub photometric: String,
}

/// Frame `frame` (from 0) of the encapsulated pixel data of `obj`,
/// decoded alone.
pub fn decode_frame(
    obj: &mut InMemDicomObject,
    transfer_syntax: &str,
    frame: usize,
) -> Result<DecodedFrame, Undecodable> {
    use dicom_pixeldata::PixelDecoder;
    let decoded = with_file(obj, transfer_syntax, |file| {
        file.decode_pixel_data_frame(frame as u32).map(|d| {
            let rows = d.rows() as usize;
            let columns = d.columns() as usize;
            let samples = usize::from(d.samples_per_pixel());
            let bits_allocated = usize::from(d.bits_allocated());
            let photometric = d.photometric_interpretation().as_str().to_string();
            DecodedFrame {
                bytes: d.into_data(),
                rows,
                columns,
                samples,
                bits_allocated,
                photometric,
            }
        })
    })?;
    decoded.map_err(|e| Undecodable {
        transfer_syntax: transfer_syntax.trim_end_matches('\0').to_string(),
        reason: format!("frame {}: {e}", frame + 1),
    })
}
