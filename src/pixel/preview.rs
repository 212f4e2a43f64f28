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

use super::blank::{Geometry, covered};
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
    let mut rgb = frame_rgb(&bytes, &g, signed)?;
    for r in regions {
        if let Some([x0, x1, y0, y1]) = covered(r, g.rows, g.columns) {
            outline(&mut rgb, g.columns, [x0, x1, y0, y1]);
        }
    }
    Some((g.columns, g.rows, rgb))
}

/// The first frame as 8-bit RGB.
fn frame_rgb(bytes: &[u8], g: &Geometry, signed: bool) -> Option<Vec<u8>> {
    let n = g.rows * g.columns;
    let width = g.bits_allocated / 8;
    let pi = g.photometric.trim().to_uppercase();
    let samples = g.samples.max(1);
    if pi == "YBR_FULL_422" && width == 1 {
        // Y0 Y1 Cb Cr per pair of pixels.
        let mut out = Vec::with_capacity(n * 3);
        for p in 0..n {
            let y = *bytes.get((p / 2) * 4 + p % 2)?;
            out.extend_from_slice(&[y, y, y]);
        }
        return Some(out);
    }
    if samples == 3 && width == 1 {
        // RGB or YBR (4:4:4), interleaved or planar.
        let sample = |p: usize, s: usize| -> Option<u8> {
            let at = if g.planar == 1 { s * n + p } else { p * 3 + s };
            bytes.get(at).copied()
        };
        let mut out = Vec::with_capacity(n * 3);
        for p in 0..n {
            if pi.starts_with("YBR") {
                let y = sample(p, 0)?;
                out.extend_from_slice(&[y, y, y]);
            } else {
                out.extend_from_slice(&[sample(p, 0)?, sample(p, 1)?, sample(p, 2)?]);
            }
        }
        return Some(out);
    }
    // One sample per pixel (or the first of several): a linear window.
    let step = if g.planar == 0 {
        samples * width
    } else {
        width
    };
    let value = |p: usize| -> Option<i64> {
        let b = bytes.get(p * step..p * step + width)?;
        let mut v = 0i64;
        for (k, byte) in b.iter().enumerate() {
            v |= i64::from(*byte) << (8 * k);
        }
        if signed && width < 8 {
            let bits = 8 * width as u32;
            if v >> (bits - 1) & 1 == 1 {
                v -= 1 << bits;
            }
        }
        Some(v)
    };
    let values: Vec<i64> = (0..n).map(value).collect::<Option<_>>()?;
    let (lo, hi) = values
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = (hi - lo).max(1) as f64;
    let invert = pi == "MONOCHROME1";
    let mut out = Vec::with_capacity(n * 3);
    for v in values {
        let mut level = ((v - lo) as f64 / span * 255.0).round() as u8;
        if invert {
            level = 255 - level;
        }
        out.extend_from_slice(&[level, level, level]);
    }
    Some(out)
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
