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
use dicom_object::InMemDicomObject;

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
    let text = |tag| {
        obj.get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .unwrap_or_default()
    };
    let meta = dicom_object::meta::FileMetaTableBuilder::new()
        .transfer_syntax(ts.as_str())
        .media_storage_sop_class_uid(text(tags::SOP_CLASS_UID))
        .media_storage_sop_instance_uid(text(tags::SOP_INSTANCE_UID))
        .build()
        .map_err(|e| refuse(e.to_string()))?;
    let file = obj.clone().with_exact_meta(meta);
    let decoded = file
        .decode_pixel_data()
        .map_err(|e| refuse(e.to_string()))?;
    let bytes = decoded.data().to_vec();
    let samples = decoded.samples_per_pixel();
    let photometric = decoded.photometric_interpretation().as_str().to_string();
    drop(decoded);
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        if vr == VR::OB { VR::OB } else { VR::OW },
        PrimitiveValue::U8(bytes.into()),
    ));
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
    Ok(Some(EXPLICIT_VR_LITTLE_ENDIAN.to_string()))
}
