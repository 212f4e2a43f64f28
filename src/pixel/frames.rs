//! Frames of native pixel data as 8-bit RGB images, for the eyes of a
//! reviewer (the pixel preview) and of the text detector.
//!
//! Grey images get a linear window from the frame's lowest to its highest
//! stored value (inverted for MONOCHROME1); RGB stays as it is; YBR is
//! shown by its luma; palette colour by its indices.

use super::blank::Geometry;

/// The bytes of one frame.
pub fn frame_bytes(g: &Geometry) -> usize {
    let width = g.bits_allocated.div_ceil(8);
    let pi = g.photometric.trim().to_uppercase();
    let samples = if pi == "YBR_FULL_422" && g.samples == 3 {
        2
    } else {
        g.samples.max(1)
    };
    g.rows * g.columns * samples * width
}

/// Frame number `frame` (from 0) as 8-bit RGB, `None` when the bytes do
/// not hold it or its layout is not one of these.
pub fn frame_rgb(bytes: &[u8], g: &Geometry, signed: bool, frame: usize) -> Option<Vec<u8>> {
    let n = g.rows * g.columns;
    let bytes = bytes.get(frame * frame_bytes(g)..)?;
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
