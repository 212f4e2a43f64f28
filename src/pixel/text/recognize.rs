//! Reading a line of text: PP-OCRv4's recogniser (a CTC network) reads a
//! crop scaled to [`REC_H`] pixels high and at most as wide as the model's
//! fixed input ([`REC_W`] as `scripts/make_text_models.sh` makes it); each of
//! its output columns gives a probability to each character of its
//! alphabet (`keys.txt`, with the CTC blank first and a space last), and
//! the greedy path, with repeats and blanks dropped, is the text.

use ndarray::Array4;
use ort::value::Tensor;

use super::Image;
use super::detect::TextBox;
use crate::onnx::SessionPool;

pub const REC_H: usize = 48;
/// The input width `scripts/make_text_models.sh` fixes: short lines only
/// (a line must fit to be kept), at half the cost of PaddleOCR's 320.
pub const REC_W: usize = 160;

/// The input width of `model` (its declared shape, else [`REC_W`]).
pub fn input_width(model: &SessionPool) -> usize {
    match model.input_shape() {
        [_, _, _, w] if *w > 0 => *w as usize,
        _ => REC_W,
    }
}

/// Text read from a box, with the mean probability of its characters.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub text: String,
    pub confidence: f32,
}

/// Read the text in `b` of `image`. `alphabet` is the model's (without the
/// blank and the space, as `keys.txt` lists it).
pub fn read(
    model: &SessionPool,
    alphabet: &[String],
    image: &Image,
    b: &TextBox,
) -> Result<Reading, String> {
    let rec_w = input_width(model);
    let crop = image.crop(b.x0, b.y0, b.x1, b.y1);
    if crop.width == 0 || crop.height == 0 {
        return Ok(Reading {
            text: String::new(),
            confidence: 0.0,
        });
    }
    let width =
        ((REC_H as f32 * crop.width as f32 / crop.height as f32).ceil() as usize).clamp(1, REC_W);
    let scaled = crop.resized(width, REC_H);
    // (v / 255 - 0.5) / 0.5 in BGR order; zeros (mid-grey) to the right.
    let mut input = Array4::<f32>::zeros((1, 3, REC_H, rec_w));
    for row in 0..REC_H {
        for col in 0..width {
            let at = (row * width + col) * 3;
            for c in 0..3 {
                input[[0, c, row, col]] = f32::from(scaled.rgb[at + 2 - c]) / 127.5 - 1.0;
            }
        }
    }
    let (steps, classes, probs) = model.with(|session| {
        let tensor =
            Tensor::from_array(input).map_err(|e| format!("text recogniser input: {e}"))?;
        let outputs = session
            .run(ort::inputs![tensor])
            .map_err(|e| format!("text recogniser: {e}"))?;
        let (shape, values) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("text recogniser output: {e}"))?;
        if shape.len() != 3 || shape[0] != 1 {
            return Err(format!("text recogniser: output shape {shape:?}"));
        }
        Ok((shape[1] as usize, shape[2] as usize, values.to_vec()))
    })?;
    if classes != alphabet.len() + 2 {
        return Err(format!(
            "text recogniser: {classes} classes, but keys.txt lists {} characters (+ blank and space)",
            alphabet.len()
        ));
    }
    Ok(greedy(&probs, steps, classes, alphabet))
}

/// The greedy CTC path of `probs` (`steps` × `classes`).
pub fn greedy(probs: &[f32], steps: usize, classes: usize, alphabet: &[String]) -> Reading {
    let mut text = String::new();
    let (mut sum, mut count) = (0f32, 0usize);
    let mut previous = 0;
    for t in 0..steps {
        let column = &probs[t * classes..(t + 1) * classes];
        let (best, p) = column
            .iter()
            .copied()
            .enumerate()
            .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
        if best != 0 && best != previous {
            match alphabet.get(best - 1) {
                Some(c) => text.push_str(c),
                None => text.push(' '),
            }
            sum += p;
            count += 1;
        }
        previous = best;
    }
    Reading {
        text,
        confidence: if count == 0 { 0.0 } else { sum / count as f32 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_greedy_path_drops_blanks_and_repeats() {
        let alphabet: Vec<String> = ["c", "m"].iter().map(|s| s.to_string()).collect();
        // classes: blank, c, m, space
        let one_hot = |k: usize| {
            let mut v = vec![0.0f32; 4];
            v[k] = 0.9;
            v
        };
        let probs: Vec<f32> = [1, 1, 0, 2, 2, 3, 0, 1]
            .iter()
            .flat_map(|&k| one_hot(k))
            .collect();
        let r = greedy(&probs, 8, 4, &alphabet);
        assert_eq!(r.text, "cm c");
        assert!((r.confidence - 0.9).abs() < 1e-6);
    }
}
