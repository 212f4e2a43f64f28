//! Burned-in text that no pixel-script signature lists: a text detector
//! (PaddleOCR's PP-OCRv4 detection and recognition models, made by
//! `scripts/make_text_models.sh`, run through [`crate::onnx`]) finds the
//! lines of text in a frame ([`detect`]), reads the short ones
//! ([`recognize`]) and keeps only what the [`whitelist`] allows; every
//! other line becomes a region to clean, in every frame.
//!
//! Which files are searched ([`Scope`]): files at risk ([`at_risk`]) or
//! all with pixel data. A multi-frame file is searched on a few frames
//! (the first, the middle and the last, [`frames_to_search`]) and the
//! regions found in any are cleaned in all: burned-in annotations are
//! assumed not to move between frames of one file.

pub mod detect;
pub mod inpaint;
pub mod recognize;
pub mod whitelist;

use std::path::{Path, PathBuf};

use dicom_core::value::Value;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::script::Region;
use crate::onnx::SessionPool;
use whitelist::Whitelist;

/// Which files the text detector searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scope {
    /// Every file with pixel data.
    All,
    /// Files at risk of burned-in text ([`at_risk`]).
    AtRisk,
    /// None.
    Off,
}

impl Scope {
    /// The scope a script asks for with `<p t="PIXEL_TEXT">`: `all`,
    /// `at-risk` (or `yes`), anything else off.
    pub fn from_param(value: &str) -> Scope {
        match value.trim().to_ascii_lowercase().as_str() {
            "all" => Scope::All,
            "at-risk" | "atrisk" | "yes" | "true" | "1" => Scope::AtRisk,
            _ => Scope::Off,
        }
    }
}

/// What becomes of the text found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Cleaning {
    /// The line's rectangle is blanked, as a pixel script's region is.
    #[default]
    Blackout,
    /// The strokes of the text are painted over from the pixels around
    /// them; the rest of the rectangle is left.
    Inpaint,
}

/// SOP classes whose pixels are captures of screens, documents or
/// reports: secondary captures (…5.1.4.1.1.7 and its multi-frame kinds).
const SECONDARY_CAPTURE: &str = "1.2.840.10008.5.1.4.1.1.7";

/// Modalities whose images often carry burned-in text: ultrasound,
/// screen captures, other, angiography and fluoroscopy, documents,
/// endoscopy and photographs. Radiographs (CR, DX, MG) are searched only
/// when they say they carry text (BurnedInAnnotation YES) or with
/// `--pixel-text all`.
const MODALITIES_AT_RISK: &[&str] = &[
    "US", "IVUS", "SC", "OT", "XA", "RF", "DOC", "ES", "XC", "GM",
];

/// Why a file (read as it arrived) is at risk of burned-in text, or
/// `None`.
pub fn at_risk(obj: &InMemDicomObject) -> Option<String> {
    let text = |tag| {
        crate::interpreter::values::string_of(obj, tag)
            .map(|s| s.trim_end_matches('\0').to_string())
            .unwrap_or_default()
    };
    if text(tags::BURNED_IN_ANNOTATION).eq_ignore_ascii_case("YES") {
        return Some("BurnedInAnnotation is YES".into());
    }
    let modality = text(tags::MODALITY).to_ascii_uppercase();
    if MODALITIES_AT_RISK.contains(&modality.as_str()) {
        return Some(format!("modality {modality}"));
    }
    if text(tags::SOP_CLASS_UID).starts_with(SECONDARY_CAPTURE) {
        return Some("a secondary capture".into());
    }
    let image_type = text(tags::IMAGE_TYPE).to_ascii_uppercase();
    if image_type
        .split('\\')
        .any(|v| matches!(v, "SECONDARY" | "SCREEN SAVE" | "SCREENSHOT"))
    {
        return Some(format!("image type {image_type}"));
    }
    None
}

/// The text stage of a run: which files, the models, the whitelist and
/// how text is cleaned.
pub struct TextStage {
    pub scope: Scope,
    pub models: TextModels,
    pub whitelist: Whitelist,
    pub cleaning: Cleaning,
}

impl TextStage {
    /// Why `obj` (as it arrived, before the header script) is searched,
    /// or `None` when it is not. `pixels_follow`: its pixel data were not
    /// read with it (they are copied from the file after).
    pub fn applies(&self, obj: &InMemDicomObject, pixels_follow: bool) -> Option<String> {
        if !pixels_follow {
            obj.get(tags::PIXEL_DATA)?;
        }
        self.scope.why_searched(obj)
    }
}

impl Scope {
    /// Why a file with pixel data, `obj` as it arrived, is searched under
    /// this scope, or `None` when it is not.
    pub fn why_searched(self, obj: &InMemDicomObject) -> Option<String> {
        match self {
            Scope::Off => None,
            Scope::All => Some("every file is searched (--pixel-text all)".into()),
            Scope::AtRisk => at_risk(obj),
        }
    }
}

/// An 8-bit RGB image (a frame as the models see it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Image {
    /// Columns `x0..x1` and rows `y0..y1` (clipped to the image).
    pub fn crop(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> Image {
        let (x1, y1) = (x1.min(self.width), y1.min(self.height));
        let (x0, y0) = (x0.min(x1), y0.min(y1));
        let mut rgb = Vec::with_capacity((x1 - x0) * (y1 - y0) * 3);
        for y in y0..y1 {
            rgb.extend_from_slice(&self.rgb[(y * self.width + x0) * 3..(y * self.width + x1) * 3]);
        }
        Image {
            width: x1 - x0,
            height: y1 - y0,
            rgb,
        }
    }

    /// Resampled (bilinear, pixel centres aligned) to `width`×`height`.
    pub fn resized(&self, width: usize, height: usize) -> Image {
        let mut rgb = Vec::with_capacity(width * height * 3);
        let sx = self.width as f32 / width as f32;
        let sy = self.height as f32 / height as f32;
        for y in 0..height {
            let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (self.height - 1) as f32);
            let (y0, ty) = (fy.floor() as usize, fy.fract());
            let y1 = (y0 + 1).min(self.height - 1);
            for x in 0..width {
                let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (self.width - 1) as f32);
                let (x0, tx) = (fx.floor() as usize, fx.fract());
                let x1 = (x0 + 1).min(self.width - 1);
                for c in 0..3 {
                    let p = |x: usize, y: usize| f32::from(self.rgb[(y * self.width + x) * 3 + c]);
                    let top = p(x0, y0) * (1.0 - tx) + p(x1, y0) * tx;
                    let bottom = p(x0, y1) * (1.0 - tx) + p(x1, y1) * tx;
                    rgb.push((top * (1.0 - ty) + bottom * ty).round() as u8);
                }
            }
        }
        Image { width, height, rgb }
    }
}

/// The detector's two models and the recogniser's alphabet.
pub struct TextModels {
    pub dir: PathBuf,
    det: SessionPool,
    rec: SessionPool,
    alphabet: Vec<String>,
}

/// Where the models are looked for when no directory is given:
/// `$DICOM_ANONYMIZER_TEXT_MODELS`, else `.cache/text-models` in this
/// source tree (where `scripts/make_text_models.sh` writes them).
pub fn default_models_dir() -> PathBuf {
    std::env::var_os("DICOM_ANONYMIZER_TEXT_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/text-models"))
}

impl TextModels {
    /// Load `det.onnx`, `rec.onnx` and `keys.txt` from `dir`.
    pub fn load(dir: &Path) -> Result<TextModels, String> {
        let missing = ["det.onnx", "rec.onnx", "keys.txt"]
            .into_iter()
            .filter(|f| !dir.join(f).is_file())
            .collect::<Vec<_>>();
        if !missing.is_empty() {
            return Err(format!(
                "the text detector's models are not in {} (missing {}): make them with scripts/make_text_models.sh",
                dir.display(),
                missing.join(", ")
            ));
        }
        let keys = std::fs::read_to_string(dir.join("keys.txt"))
            .map_err(|e| format!("{}: {e}", dir.join("keys.txt").display()))?;
        let det = SessionPool::load(&dir.join("det.onnx"))?;
        let tile = [1, 3, detect::TILE_H as i64, detect::TILE_W as i64];
        if det.input_shape() != tile {
            return Err(format!(
                "{}: the detector takes {:?}, not {tile:?}: make it again with scripts/make_text_models.sh",
                dir.join("det.onnx").display(),
                det.input_shape()
            ));
        }
        Ok(TextModels {
            dir: dir.to_path_buf(),
            det,
            rec: SessionPool::load(&dir.join("rec.onnx"))?,
            alphabet: keys.lines().map(str::to_string).collect(),
        })
    }

    /// The lines of text in `image`, tightened ([`tighten`]), each with
    /// what was read of it when it fits the recogniser's window (no wider
    /// than its width-to-height ratio, with a tenth to spare): a longer
    /// line cannot be a listed word and is not read.
    pub fn find(&self, image: &Image) -> Result<Vec<Line>, String> {
        use rayon::prelude::*;
        let rec_w = recognize::input_width(&self.rec);
        let boxes = detect::detect(&self.det, image)?;
        boxes
            .into_par_iter()
            .map(|b| {
                let b = tighten(image, b);
                let fits = b.width() * recognize::REC_H * 10 <= rec_w * b.height() * 11;
                let reading = if fits {
                    Some(recognize::read(&self.rec, &self.alphabet, image, &b)?)
                } else {
                    None
                };
                Ok(Line { area: b, reading })
            })
            .collect()
    }
}

/// A line of text found in a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub area: detect::TextBox,
    /// What the recogniser read, for lines short enough to be listed.
    pub reading: Option<recognize::Reading>,
}

/// The least confidence a reading needs for its text to be trusted as
/// a whitelisted word.
pub const TRUST_READING: f32 = 0.8;

/// Margins kept around the text when a box is tightened.
const MARGIN: usize = 3;

/// `b` without the margins where nothing stands out from the background:
/// when the box's edge is even (its pixels' luma within a median absolute
/// deviation of 8), the box shrinks to the pixels whose luma differs from
/// the edge's median by more than 32 (or 4 deviations), plus [`MARGIN`].
/// A box on an uneven background, or with nothing that stands out, stays
/// as the detector drew it: when in doubt, more is cleaned.
pub fn tighten(image: &Image, b: detect::TextBox) -> detect::TextBox {
    let luma = |x: usize, y: usize| {
        let p = &image.rgb[(y * image.width + x) * 3..(y * image.width + x) * 3 + 3];
        (u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) as f32 / 10.0
    };
    if b.width() < 2 || b.height() < 2 {
        return b;
    }
    let mut edge = Vec::new();
    for x in b.x0..b.x1 {
        edge.push(luma(x, b.y0));
        edge.push(luma(x, b.y1 - 1));
    }
    for y in b.y0..b.y1 {
        edge.push(luma(b.x0, y));
        edge.push(luma(b.x1 - 1, y));
    }
    let (background, mad) = edge_stats(&mut edge);
    if mad > 8.0 {
        return b;
    }
    let threshold = (4.0 * mad).max(32.0);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in b.y0..b.y1 {
        for x in b.x0..b.x1 {
            if (luma(x, y) - background).abs() > threshold {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    if x0 == usize::MAX {
        return b;
    }
    detect::TextBox {
        x0: x0.saturating_sub(MARGIN).max(b.x0),
        y0: y0.saturating_sub(MARGIN).max(b.y0),
        x1: (x1 + MARGIN).min(b.x1),
        y1: (y1 + MARGIN).min(b.y1),
        score: b.score,
    }
}

/// The median of `values` (a box's edge) and the median absolute
/// deviation from it: the background under a box and how even it is.
/// `values` is reordered; it must not be empty.
pub(crate) fn edge_stats(values: &mut [f32]) -> (f32, f32) {
    values.sort_by(f32::total_cmp);
    let median = values[values.len() / 2];
    let mut deviations: Vec<f32> = values.iter().map(|v| (v - median).abs()).collect();
    deviations.sort_by(f32::total_cmp);
    (median, deviations[deviations.len() / 2])
}

/// What the detector found in one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// The rectangles to clean, in every frame.
    pub regions: Vec<Region>,
    /// The whitelisted words left, as read.
    pub kept: Vec<String>,
    /// The frames searched.
    pub frames_searched: usize,
}

/// The frames of an `n`-frame file that are searched: the first, the
/// middle and the last.
pub fn frames_to_search(n: usize) -> Vec<usize> {
    let mut v = vec![0, n / 2, n.saturating_sub(1)];
    v.sort_unstable();
    v.dedup();
    v.retain(|&f| f < n.max(1));
    v
}

/// Search the pixel data of `obj` (a file of `modality`, written in
/// `transfer_syntax`) for text; the regions to clean and the words kept.
/// Encapsulated pixel data are decoded frame by frame, only the frames
/// searched, and left as they are: a file in which nothing is found is
/// written as it came, and nothing is held decoded but those frames.
pub fn search(
    models: &TextModels,
    whitelist: &Whitelist,
    obj: &mut InMemDicomObject,
    transfer_syntax: &str,
    modality: &str,
) -> Result<Found, String> {
    search_frames(models, whitelist, obj, transfer_syntax, modality, None)
}

/// A frame of pixel data left in the file (see `dicom_file::tail`): the
/// fragments of frame `n` when they are encapsulated, else its native
/// bytes (as the one item).
pub type FrameReader<'a> = &'a dyn Fn(usize) -> Result<Vec<Vec<u8>>, String>;

/// As [`search`], with the pixel data of `obj` a stand-in and each frame
/// searched read by `from_file` when given: the same frames, decoded the
/// same way, give the same regions.
pub fn search_frames(
    models: &TextModels,
    whitelist: &Whitelist,
    obj: &mut InMemDicomObject,
    transfer_syntax: &str,
    modality: &str,
    from_file: Option<FrameReader>,
) -> Result<Found, String> {
    let g = super::geometry(obj);
    if obj.get(tags::PIXEL_DATA).is_none() {
        return Ok(Found::default());
    }
    if g.rows == 0 || g.columns == 0 {
        return Err("the image has no Rows or Columns".into());
    }
    let signed = obj
        .get(tags::PIXEL_REPRESENTATION)
        .and_then(|e| e.to_int::<u16>().ok())
        == Some(1);
    let encapsulated = crate::dicom_file::native::is_encapsulated(obj);
    let frames = frames_to_search(g.frames);
    let mut found = Found {
        frames_searched: frames.len(),
        ..Found::default()
    };
    let unreadable = |f: usize, g: &super::blank::Geometry| {
        format!(
            "frame {} of {}×{} ({}, {} bits allocated, {} sample(s)) cannot be read for the text detector",
            f + 1,
            g.columns,
            g.rows,
            g.photometric,
            g.bits_allocated,
            g.samples
        )
    };
    let mut images = Vec::with_capacity(frames.len());
    if encapsulated {
        for &f in &frames {
            let d = match from_file {
                Some(read) => {
                    crate::dicom_file::native::decode_fragments(obj, transfer_syntax, read(f)?)
                }
                None => crate::dicom_file::native::decode_frame(obj, transfer_syntax, f),
            }
            .map_err(|e| e.to_string())?;
            let one = super::blank::Geometry {
                rows: d.rows,
                columns: d.columns,
                frames: 1,
                samples: d.samples,
                planar: 0,
                bits_allocated: d.bits_allocated,
                photometric: d.photometric,
            };
            if (one.rows, one.columns) != (g.rows, g.columns) {
                return Err(format!(
                    "frame {} decodes to {}×{}, not the {}×{} the header gives",
                    f + 1,
                    one.columns,
                    one.rows,
                    g.columns,
                    g.rows
                ));
            }
            images.push(
                super::frames::frame_rgb(&d.bytes, &one, signed, 0)
                    .ok_or_else(|| unreadable(f, &one))?,
            );
        }
    } else if let Some(read) = from_file {
        let one = super::blank::Geometry {
            frames: 1,
            ..g.clone()
        };
        for &f in &frames {
            let bytes = read(f)?.concat();
            images.push(
                super::frames::frame_rgb(&bytes, &one, signed, 0)
                    .ok_or_else(|| unreadable(f, &g))?,
            );
        }
    } else {
        let Some(Value::Primitive(value)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
            return Err("the pixel data are neither native nor encapsulated".into());
        };
        let bytes = value.to_bytes();
        for &f in &frames {
            images.push(
                super::frames::frame_rgb(&bytes, &g, signed, f).ok_or_else(|| unreadable(f, &g))?,
            );
        }
    }
    for rgb in images {
        let image = Image {
            width: g.columns,
            height: g.rows,
            rgb,
        };
        for line in models.find(&image)? {
            let listed = line
                .reading
                .as_ref()
                .filter(|r| r.confidence >= TRUST_READING && whitelist.allows(&r.text, modality));
            match listed {
                Some(r) => found.kept.push(r.text.trim().to_string()),
                None => {
                    let b = line.area;
                    let region = Region {
                        x: b.x0 as i32,
                        y: b.y0 as i32,
                        // A region covers x..=x+width.
                        width: (b.width() as i32 - 1).max(0),
                        height: (b.height() as i32 - 1).max(0),
                    };
                    if !found.regions.contains(&region) {
                        found.regions.push(region);
                    }
                }
            }
        }
    }
    found.kept.sort();
    found.kept.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_frames_are_searched() {
        assert_eq!(frames_to_search(1), vec![0]);
        assert_eq!(frames_to_search(2), vec![0, 1]);
        assert_eq!(frames_to_search(100), vec![0, 50, 99]);
    }

    #[test]
    fn resizing_keeps_a_flat_image_flat_and_crops_clip() {
        let img = Image {
            width: 4,
            height: 2,
            rgb: vec![200; 24],
        };
        let r = img.resized(7, 3);
        assert!(r.rgb.iter().all(|&v| v == 200));
        let c = img.crop(2, 1, 9, 9);
        assert_eq!((c.width, c.height, c.rgb.len()), (2, 1, 6));
    }

    #[test]
    fn files_at_risk() {
        use dicom_core::{DataElement, PrimitiveValue, VR};
        let with = |tag, vr, v: &str| {
            InMemDicomObject::from_element_iter([DataElement::new(
                tag,
                vr,
                PrimitiveValue::from(v),
            )])
        };
        assert!(at_risk(&with(tags::MODALITY, VR::CS, "US")).is_some());
        assert!(at_risk(&with(tags::MODALITY, VR::CS, "CT")).is_none());
        assert!(at_risk(&with(tags::BURNED_IN_ANNOTATION, VR::CS, "YES")).is_some());
        assert!(
            at_risk(&with(
                tags::SOP_CLASS_UID,
                VR::UI,
                "1.2.840.10008.5.1.4.1.1.7.4"
            ))
            .is_some()
        );
        assert!(at_risk(&with(tags::IMAGE_TYPE, VR::CS, "DERIVED\\SECONDARY")).is_some());
    }
}
