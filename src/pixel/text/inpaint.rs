//! `--pixel-clean inpaint`: the strokes of found text painted over with
//! the background around them, instead of the whole box blanked.
//!
//! For each box, frame and sample: the box's edge gives the background
//! (the median of its pixels) and how even it is (their median absolute
//! deviation). On an even background, the pixels that stand out from it
//! (by more than an eighth of the sample's range, or four deviations),
//! grown by [`GROW`] pixels, take the background's value: the text
//! vanishes into its surround. A box on an uneven background (a deviation
//! over a 32nd of the range), or in a layout this does not read
//! (YBR_FULL_422, bits allocated not 8 or 16), is blanked instead, as
//! blackout would: painting strokes flat over texture would leave their
//! shapes readable.

use super::super::blank::{Blanker, Geometry};
use super::super::script::Region;

/// Pixels added around the strokes on every side.
pub const GROW: usize = 2;

/// How each box was cleaned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub inpainted: usize,
    pub blanked: usize,
}

/// Inpaint `regions` (upright boxes, `x..=x+width`, inside the image) in
/// every frame of the native pixel data `bytes`.
pub fn inpaint(bytes: &mut [u8], g: &Geometry, regions: &[Region]) -> Result<Outcome, String> {
    let width = g.bits_allocated / 8;
    let pi = g.photometric.trim().to_uppercase();
    let samples = g.samples.max(1);
    let readable = (width == 1 || width == 2) && !(pi == "YBR_FULL_422" && samples == 3);
    let frame_bytes = super::super::frames::frame_bytes(g);
    if bytes.len() < frame_bytes * g.frames {
        return Err(format!(
            "the pixel data hold {} bytes, fewer than {} frame(s) of {}×{}",
            bytes.len(),
            g.frames,
            g.columns,
            g.rows
        ));
    }
    let n = g.rows * g.columns;
    let at = |p: usize, s: usize| -> usize {
        if g.planar == 1 {
            (s * n + p) * width
        } else {
            (p * samples + s) * width
        }
    };
    let range = if width == 1 { 255.0 } else { 65535.0 };
    let mut outcome = Outcome::default();
    let mut blank = Vec::new();
    for r in regions {
        let (x0, y0) = (r.x.max(0) as usize, r.y.max(0) as usize);
        let x1 = ((r.x + r.width + 1).max(0) as usize).min(g.columns);
        let y1 = ((r.y + r.height + 1).max(0) as usize).min(g.rows);
        if !readable || x1 < x0 + 2 || y1 < y0 + 2 {
            blank.push(*r);
            continue;
        }
        // Decide on every frame and sample before changing anything: a box
        // is inpainted in all frames or blanked in all.
        let mut even = true;
        'check: for f in 0..g.frames {
            let frame = &bytes[f * frame_bytes..(f + 1) * frame_bytes];
            for s in 0..samples {
                let (_, mad) = background(frame, at, width, s, g.columns, [x0, y0, x1, y1]);
                if mad > range / 32.0 {
                    even = false;
                    break 'check;
                }
            }
        }
        if !even {
            blank.push(*r);
            continue;
        }
        for f in 0..g.frames {
            let frame = &mut bytes[f * frame_bytes..(f + 1) * frame_bytes];
            let (w, h) = (x1 - x0, y1 - y0);
            let mut stroke = vec![false; w * h];
            let mut fill = Vec::with_capacity(samples);
            for s in 0..samples {
                let (bg, mad) = background(frame, at, width, s, g.columns, [x0, y0, x1, y1]);
                fill.push(bg);
                let threshold = (4.0 * mad).max(range / 8.0);
                for y in y0..y1 {
                    for x in x0..x1 {
                        let v = read(frame, at(y * g.columns + x, s), width);
                        if (v - bg).abs() > threshold {
                            stroke[(y - y0) * w + (x - x0)] = true;
                        }
                    }
                }
            }
            for y in y0..y1 {
                for x in x0..x1 {
                    let near = (y.saturating_sub(GROW).max(y0)..(y + GROW + 1).min(y1)).any(|yy| {
                        (x.saturating_sub(GROW).max(x0)..(x + GROW + 1).min(x1))
                            .any(|xx| stroke[(yy - y0) * w + (xx - x0)])
                    });
                    if near {
                        for (s, &bg) in fill.iter().enumerate() {
                            write(frame, at(y * g.columns + x, s), width, bg);
                        }
                    }
                }
            }
        }
        outcome.inpainted += 1;
    }
    if !blank.is_empty() {
        let blanker = Blanker::new(g, &blank)?;
        let unit = blanker.unit_bytes();
        for (k, chunk) in bytes[..unit * blanker.units()]
            .chunks_exact_mut(unit)
            .enumerate()
        {
            blanker.blank_unit(k, chunk);
        }
        outcome.blanked = blank.len();
    }
    Ok(outcome)
}

fn read(frame: &[u8], at: usize, width: usize) -> f32 {
    if width == 1 {
        f32::from(frame[at])
    } else {
        f32::from(u16::from_le_bytes([frame[at], frame[at + 1]]))
    }
}

fn write(frame: &mut [u8], at: usize, width: usize, v: f32) {
    if width == 1 {
        frame[at] = v.round().clamp(0.0, 255.0) as u8;
    } else {
        let v = v.round().clamp(0.0, 65535.0) as u16;
        frame[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
}

/// The median of sample `s` on the edge of the box, and the median
/// absolute deviation from it.
fn background(
    frame: &[u8],
    at: impl Fn(usize, usize) -> usize,
    width: usize,
    s: usize,
    columns: usize,
    [x0, y0, x1, y1]: [usize; 4],
) -> (f32, f32) {
    let mut edge = Vec::new();
    for x in x0..x1 {
        edge.push(read(frame, at(y0 * columns + x, s), width));
        edge.push(read(frame, at((y1 - 1) * columns + x, s), width));
    }
    for y in y0..y1 {
        edge.push(read(frame, at(y * columns + x0, s), width));
        edge.push(read(frame, at(y * columns + x1 - 1, s), width));
    }
    super::edge_stats(&mut edge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(rows: usize, columns: usize) -> Geometry {
        Geometry {
            rows,
            columns,
            frames: 1,
            samples: 1,
            planar: 0,
            bits_allocated: 8,
            photometric: "MONOCHROME2".into(),
        }
    }

    #[test]
    fn strokes_on_an_even_background_take_its_value_and_the_rest_stays() {
        let g = grey(20, 30);
        let mut bytes = vec![40u8; 600];
        // A "stroke" and, outside the box, a bright pixel.
        for x in 10..15 {
            bytes[10 * 30 + x] = 250;
        }
        bytes[2 * 30 + 2] = 250;
        let r = Region {
            x: 5,
            y: 5,
            width: 14,
            height: 9,
        };
        let o = inpaint(&mut bytes, &g, &[r]).unwrap();
        assert_eq!(
            o,
            Outcome {
                inpainted: 1,
                blanked: 0
            }
        );
        assert!(bytes[10 * 30..11 * 30].iter().all(|&v| v == 40));
        assert_eq!(bytes[2 * 30 + 2], 250);
    }

    #[test]
    fn a_box_on_texture_is_blanked() {
        let g = grey(20, 30);
        let mut bytes: Vec<u8> = (0..600u32)
            .map(|i| ((i * 37 + i / 7) % 11 * 20) as u8)
            .collect();
        let r = Region {
            x: 5,
            y: 5,
            width: 4,
            height: 4,
        };
        let o = inpaint(&mut bytes, &g, &[r]).unwrap();
        assert_eq!(
            o,
            Outcome {
                inpainted: 0,
                blanked: 1
            }
        );
        assert_eq!(bytes[5 * 30 + 5..5 * 30 + 10], [0; 5]);
    }
}
