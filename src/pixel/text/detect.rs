//! Finding lines of text in a frame: PP-OCRv4's detector (a DB
//! "differentiable binarization" network) gives each pixel the probability
//! that it is text; the pixels above [`PIXEL_THRESHOLD`], joined into
//! connected components, are the lines, kept when their mean probability
//! reaches [`BOX_THRESHOLD`] and grown by the network's shrink ratio
//! ([`UNCLIP_RATIO`]), as PaddleOCR's own post-processing does.
//!
//! The model runs on tiles of [`TILE_H`]×[`TILE_W`] (its input shape is
//! fixed): a frame up to a quarter larger than a tile is shrunk onto one
//! tile, a larger one is covered by overlapping tiles at its own scale
//! (after shrinking frames over [`MAX_SIDE`] pixels), and the tiles' maps
//! are joined by their maximum. Boxes are upright rectangles: a tilted
//! line is covered by the rectangle around it.

use ndarray::Array4;
use ort::value::Tensor;
use rayon::prelude::*;

use super::Image;
use crate::onnx::SessionPool;

pub const TILE_H: usize = 480;
pub const TILE_W: usize = 640;
/// Tiles overlap by this many pixels, so a line cut by one tile's edge is
/// whole in the next.
const OVERLAP: usize = 96;
/// A frame whose longer side is over this is shrunk before tiling.
const MAX_SIDE: usize = 1920;
/// A frame at most this much larger than a tile is shrunk onto one.
const ONE_TILE_SLACK: f32 = 1.25;
pub const PIXEL_THRESHOLD: f32 = 0.3;
pub const BOX_THRESHOLD: f32 = 0.5;
pub const UNCLIP_RATIO: f32 = 1.6;

/// An upright rectangle of a frame: columns `x0..x1`, rows `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextBox {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
    /// The mean text probability inside the line.
    pub score: f32,
}

impl TextBox {
    pub fn width(&self) -> usize {
        self.x1 - self.x0
    }
    pub fn height(&self) -> usize {
        self.y1 - self.y0
    }
}

/// The lines of text in `image`.
pub fn detect(model: &SessionPool, image: &Image) -> Result<Vec<TextBox>, String> {
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 {
        return Ok(Vec::new());
    }
    // The scale the network sees the frame at.
    let fit = (TILE_W as f32 / w as f32).min(TILE_H as f32 / h as f32);
    let scale = if fit >= 1.0 / ONE_TILE_SLACK {
        fit.min(1.0)
    } else {
        (MAX_SIDE as f32 / w.max(h) as f32).min(1.0)
    };
    let scaled = if scale < 1.0 {
        image.resized(
            ((w as f32 * scale).round() as usize).max(1),
            ((h as f32 * scale).round() as usize).max(1),
        )
    } else {
        image.clone()
    };
    let (sw, sh) = (scaled.width, scaled.height);
    let starts = |len: usize, tile: usize| -> Vec<usize> {
        if len <= tile {
            return vec![0];
        }
        let step = tile - OVERLAP;
        let mut v: Vec<usize> = (0..)
            .map(|k| k * step)
            .take_while(|&s| s + tile < len)
            .collect();
        v.push(len - tile);
        v
    };
    let tiles: Vec<(usize, usize)> = starts(sh, TILE_H)
        .into_iter()
        .flat_map(|y| starts(sw, TILE_W).into_iter().map(move |x| (x, y)))
        .collect();
    let maps = tiles
        .par_iter()
        .map(|&(x, y)| run_tile(model, &scaled, x, y))
        .collect::<Result<Vec<_>, String>>()?;
    let mut prob = vec![0f32; sw * sh];
    for (&(tx, ty), map) in tiles.iter().zip(&maps) {
        for row in 0..TILE_H.min(sh - ty) {
            for col in 0..TILE_W.min(sw - tx) {
                let p = &mut prob[(ty + row) * sw + tx + col];
                *p = p.max(map[row * TILE_W + col]);
            }
        }
    }
    let boxes = boxes_from_map(&prob, sw, sh);
    Ok(boxes
        .into_iter()
        .map(|b| TextBox {
            x0: ((b.x0 as f32 / scale).floor() as usize).min(w),
            y0: ((b.y0 as f32 / scale).floor() as usize).min(h),
            x1: ((b.x1 as f32 / scale).ceil() as usize).min(w),
            y1: ((b.y1 as f32 / scale).ceil() as usize).min(h),
            score: b.score,
        })
        .collect())
}

/// The text probability of each pixel of the tile at (`x`, `y`) of
/// `image` (padded with black past its edges).
fn run_tile(model: &SessionPool, image: &Image, x: usize, y: usize) -> Result<Vec<f32>, String> {
    // PaddleOCR's normalisation: (v / 255 - 0.5) / 0.5, in BGR order.
    let mut input = Array4::<f32>::from_elem((1, 3, TILE_H, TILE_W), -1.0);
    for row in 0..TILE_H.min(image.height - y) {
        for col in 0..TILE_W.min(image.width - x) {
            let at = ((y + row) * image.width + x + col) * 3;
            for c in 0..3 {
                let v = image.rgb[at + 2 - c];
                input[[0, c, row, col]] = f32::from(v) / 127.5 - 1.0;
            }
        }
    }
    model.with(|session| {
        let tensor = Tensor::from_array(input).map_err(|e| format!("text detector input: {e}"))?;
        let outputs = session
            .run(ort::inputs![tensor])
            .map_err(|e| format!("text detector: {e}"))?;
        let (shape, values) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("text detector output: {e}"))?;
        if values.len() != TILE_H * TILE_W {
            return Err(format!(
                "text detector: output shape {shape:?}, expected [1, 1, {TILE_H}, {TILE_W}]"
            ));
        }
        Ok(values.to_vec())
    })
}

/// The lines in a probability map of `w`×`h`: components of the
/// thresholded (and 2×2-dilated) map, scored by their mean probability,
/// grown by the unclip distance (area × ratio / perimeter of their box).
pub fn boxes_from_map(prob: &[f32], w: usize, h: usize) -> Vec<TextBox> {
    let mut bitmap = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            // Dilation by a 2×2 kernel: on when any of the pixel and its
            // left, upper and upper-left neighbours is on.
            let on = |x: usize, y: usize| prob[y * w + x] > PIXEL_THRESHOLD;
            bitmap[y * w + x] = on(x, y)
                || (x > 0 && on(x - 1, y))
                || (y > 0 && on(x, y - 1))
                || (x > 0 && y > 0 && on(x - 1, y - 1));
        }
    }
    let mut seen = vec![false; w * h];
    let mut boxes = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !bitmap[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        while let Some(p) = stack.pop() {
            let (x, y) = (p % w, p / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            let mut visit = |q: usize| {
                if bitmap[q] && !seen[q] {
                    seen[q] = true;
                    stack.push(q);
                }
            };
            if x > 0 {
                visit(p - 1);
            }
            if x + 1 < w {
                visit(p + 1);
            }
            if y > 0 {
                visit(p - w);
            }
            if y + 1 < h {
                visit(p + w);
            }
        }
        let (bw, bh) = (x1 + 1 - x0, y1 + 1 - y0);
        if bw.min(bh) < 3 {
            continue;
        }
        let mut sum = 0f32;
        for y in y0..=y1 {
            sum += prob[y * w + x0..=y * w + x1].iter().sum::<f32>();
        }
        let score = sum / (bw * bh) as f32;
        if score < BOX_THRESHOLD {
            continue;
        }
        let grow = (bw * bh) as f32 * UNCLIP_RATIO / (2 * (bw + bh)) as f32;
        let g = grow.ceil() as usize;
        boxes.push(TextBox {
            x0: x0.saturating_sub(g),
            y0: y0.saturating_sub(g),
            x1: (x1 + 1 + g).min(w),
            y1: (y1 + 1 + g).min(h),
            score,
        });
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_of_probability_is_one_grown_box() {
        let (w, h) = (40, 20);
        let mut prob = vec![0f32; w * h];
        for y in 8..12 {
            for x in 5..25 {
                prob[y * w + x] = 0.9;
            }
        }
        // A speck too small to be a line, and a faint blob.
        prob[2 * w + 35] = 0.9;
        for y in 15..19 {
            for x in 30..38 {
                prob[y * w + x] = 0.35;
            }
        }
        let boxes = boxes_from_map(&prob, w, h);
        assert_eq!(boxes.len(), 1, "{boxes:?}");
        let b = boxes[0];
        // The dilated component is columns 5..=25, rows 8..=12 (21×5);
        // grown by ceil(21·5·1.6 / 52) = 4.
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (1, 4, 30, 17));
    }
}
