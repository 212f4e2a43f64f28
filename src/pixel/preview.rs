//! `--pixel-preview DIR`: for each cleaned file, a PNG of its first frame
//! after cleaning, with the regions the script blanked outlined in red,
//! for the reviewer who checks that no text was left (the RSNA tool's GUI
//! shows its reviewer the same).
//!
//! Grey images are shown with a linear window from the frame's lowest to
//! its highest stored value (inverted for MONOCHROME1); RGB as it is; YBR
//! by its luma; palette colour by its indices.

use dicom_core::value::Value;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::blank::covered;
use super::script::Region;

/// The preview of a cleaned data set: width, height and RGB bytes, or
/// `None` when it has no native pixel data of whole bytes.
pub fn render(obj: &InMemDicomObject, regions: &[Region]) -> Option<(usize, usize, Vec<u8>)> {
    let g = super::geometry(obj);
    let Value::Primitive(value) = obj.get(tags::PIXEL_DATA)?.value() else {
        return None;
    };
    let bytes = value.to_bytes();
    if g.rows == 0 || g.columns == 0 || g.bits_allocated == 0 || !g.bits_allocated.is_multiple_of(8)
    {
        return None;
    }
    let signed = obj
        .get(tags::PIXEL_REPRESENTATION)
        .and_then(|e| e.to_int::<u16>().ok())
        == Some(1);
    let mut rgb = super::frames::frame_rgb(&bytes, &g, signed, 0)?;
    for r in regions {
        if let Some([x0, x1, y0, y1]) = covered(r, g.rows, g.columns) {
            outline(&mut rgb, g.columns, [x0, x1, y0, y1]);
        }
    }
    Some((g.columns, g.rows, rgb))
}

/// A red border just inside the rectangle (inclusive corners).
fn outline(rgb: &mut [u8], columns: usize, [x0, x1, y0, y1]: [usize; 4]) {
    let mut paint = |x: usize, y: usize| {
        let at = (y * columns + x) * 3;
        if let Some(p) = rgb.get_mut(at..at + 3) {
            p.copy_from_slice(&[255, 0, 0]);
        }
    };
    for x in x0..=x1 {
        paint(x, y0);
        paint(x, y1);
    }
    for y in y0..=y1 {
        paint(x0, y);
        paint(x1, y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};

    #[test]
    fn grey_frames_are_windowed_and_regions_outlined() {
        let u16v = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
        let obj = InMemDicomObject::from_element_iter([
            u16v(tags::ROWS, 3),
            u16v(tags::COLUMNS, 4),
            u16v(tags::BITS_ALLOCATED, 16),
            u16v(tags::SAMPLES_PER_PIXEL, 1),
            DataElement::new(
                tags::PHOTOMETRIC_INTERPRETATION,
                VR::CS,
                PrimitiveValue::from("MONOCHROME2"),
            ),
            DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16((0..12u16).map(|v| v * 100).collect()),
            ),
        ]);
        let (w, h, rgb) = render(
            &obj,
            &[Region {
                x: 0,
                y: 0,
                width: 0,
                height: 0,
            }],
        )
        .unwrap();
        assert_eq!((w, h), (4, 3));
        assert_eq!(&rgb[..3], &[255, 0, 0], "the region's pixel is outlined");
        assert_eq!(&rgb[3..6], &[23, 23, 23]);
        assert_eq!(&rgb[33..36], &[255, 255, 255]);
    }
}
