//! The deface stage's change to a DICOM file, described as data (which
//! pixels of which frames become air) and applied in one place, after the
//! header script has run: the removed pixels set to the background's stored
//! value, ImageType marked DERIVED, and "Clean Recognizable Visual
//! Features" (DCM 113102) added to the de-identification methods.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::face_mask::FaceMask;
use super::series::{NativeFrame, Slice, decode_to_native, plane};
use super::stack::on_slice;
use super::volume::Volume;

/// The code of the de-identification method this stage performs.
pub const CLEAN_VISUAL_FEATURES: (&str, &str) = ("113102", "Clean Recognizable Visual Features");

/// The pixels of one frame to set, as runs `(first pixel, count)` in the
/// frame's row-major order, and the stored value they get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameEdit {
    pub stored_background: i64,
    pub runs: Vec<(u32, u32)>,
}

/// What the deface stage changes in one file, by frame number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PixelEdit {
    pub frames: BTreeMap<usize, FrameEdit>,
}

/// A [`PixelEdit`] applied to native little-endian pixel data as bytes,
/// one frame at a time, as they are copied from the input: the bytes
/// [`apply`] gives, without the pixel data in memory.
#[derive(Debug, Clone)]
pub struct FrameBytes<'a> {
    edit: &'a PixelEdit,
    /// Bytes per pixel.
    width: usize,
    /// Bytes per frame.
    frame_bytes: usize,
    /// The frames to go through: up to the last one edited.
    frames: usize,
}

impl PixelEdit {
    pub fn removed_pixels(&self) -> u64 {
        self.frames
            .values()
            .flat_map(|f| f.runs.iter())
            .map(|&(_, n)| u64::from(n))
            .sum()
    }

    /// This edit over the native pixel data of `obj` (the data set as the
    /// header script left it), whose value has `value_len` bytes of `vr`
    /// (`explicit`: in an explicit VR syntax). `None` where [`apply`] must
    /// be run on the whole data set instead, to edit them or to say why
    /// not: more than one sample per pixel, a layout other than 16 bits
    /// allocated (or 8 in OB), a run beyond its frame or the value.
    pub fn on_bytes(
        &self,
        obj: &InMemDicomObject,
        vr: VR,
        explicit: bool,
        value_len: u64,
    ) -> Option<FrameBytes<'_>> {
        let NativeFrame { width, pixels: per } = NativeFrame::of(obj, vr, explicit)?;
        let frame_bytes = per * width;
        let fits = self.frames.iter().all(|(&frame, f)| {
            f.runs.iter().all(|&(start, count)| {
                let end = start as usize + count as usize;
                end <= per && ((frame * per + end) * width) as u64 <= value_len
            })
        });
        if !fits {
            return None;
        }
        let frames = self.frames.keys().next_back().map_or(0, |&f| f + 1);
        Some(FrameBytes {
            edit: self,
            width,
            frame_bytes,
            frames,
        })
    }
}

impl FrameBytes<'_> {
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    /// How many frames, from the first, go through [`FrameBytes::apply`].
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Set the removed pixels of frame `n`, whose bytes are `frame`.
    pub fn apply(&self, n: usize, frame: &mut [u8]) {
        let Some(f) = self.edit.frames.get(&n) else {
            return;
        };
        let bytes = (f.stored_background as i32).to_le_bytes();
        let value = &bytes[..self.width];
        for &(start, count) in &f.runs {
            let (start, end) = (start as usize, start as usize + count as usize);
            for pixel in frame[start * self.width..end * self.width].chunks_exact_mut(self.width) {
                pixel.copy_from_slice(value);
            }
        }
    }
}

fn number(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    obj.get(tag)?.to_float64().ok()
}

/// The stored value that means `background` in a slice (inverse rescale,
/// clamped to what the pixel representation can hold).
pub fn stored_background(obj: &InMemDicomObject, background: f32) -> i64 {
    let slope = number(obj, tags::RESCALE_SLOPE)
        .filter(|s| *s != 0.0)
        .unwrap_or(1.0);
    let intercept = number(obj, tags::RESCALE_INTERCEPT).unwrap_or(0.0);
    let bits = obj
        .get(tags::BITS_STORED)
        .and_then(|e| e.to_int::<u32>().ok())
        .unwrap_or(16)
        .clamp(1, 32);
    let signed = obj
        .get(tags::PIXEL_REPRESENTATION)
        .and_then(|e| e.to_int::<u32>().ok())
        == Some(1);
    let (lo, hi) = if signed {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    } else {
        (0, (1i64 << bits) - 1)
    };
    let v = ((f64::from(background) - intercept) / slope).round();
    (v as i64).clamp(lo, hi)
}

/// The pixels of each slice a mask on `volume`'s grid removes: for every
/// pixel, the mask's nearest voxel (the slices are the volume's own voxels
/// unless [`super::series::assemble`] resampled them). A slice whose place
/// cannot be read (never the case for slices that were assembled) is
/// removed whole.
pub fn removed_on_slices(slices: &[Slice], volume: &Volume, mask: &FaceMask) -> Vec<Vec<bool>> {
    slices
        .iter()
        .map(|slice| {
            let dim = |tag: Tag| {
                slice
                    .obj
                    .get(tag)
                    .and_then(|e| e.to_int::<usize>().ok())
                    .unwrap_or(0)
            };
            let size = [dim(tags::COLUMNS), dim(tags::ROWS)];
            match plane(&slice.obj) {
                Ok(p) => on_slice(&p, size, mask.dims, &volume.affine_lps, &mask.removed),
                Err(_) => vec![true; size[0] * size[1]],
            }
        })
        .collect()
}

/// The edits a mask on `volume`'s grid makes to the slices it was made
/// from (`slices` as [`super::series::assemble`] left them).
pub fn plan(
    slices: &[Slice],
    volume: &Volume,
    mask: &FaceMask,
    background: f32,
) -> HashMap<PathBuf, Arc<PixelEdit>> {
    let mut plan: HashMap<PathBuf, PixelEdit> = HashMap::new();
    for (slice, removed) in slices.iter().zip(removed_on_slices(slices, volume, mask)) {
        let per = removed.len();
        let mut runs = Vec::new();
        let mut n = 0;
        while n < per {
            if removed[n] {
                let start = n;
                while n < per && removed[n] {
                    n += 1;
                }
                runs.push((start as u32, (n - start) as u32));
            } else {
                n += 1;
            }
        }
        let edit = plan.entry(slice.path.clone()).or_default();
        edit.frames.insert(
            slice.frame,
            FrameEdit {
                stored_background: stored_background(&slice.obj, background),
                runs,
            },
        );
    }
    plan.into_iter().map(|(p, e)| (p, Arc::new(e))).collect()
}

/// Apply `edit` to a data set written with `transfer_syntax`; the transfer
/// syntax to write it with (compressed pixel data is decoded and written
/// native). A data set without pixel data (the script removed them) is
/// left as it is.
pub fn apply(
    obj: &mut InMemDicomObject,
    transfer_syntax: &str,
    edit: &PixelEdit,
) -> Result<String, String> {
    if obj.get(tags::PIXEL_DATA).is_none() {
        return Ok(transfer_syntax.to_string());
    }
    let ts = decode_to_native(obj, transfer_syntax)
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| transfer_syntax.to_string());
    let dim = |tag: Tag, name: &str| {
        obj.get(tag)
            .and_then(|e| e.to_int::<usize>().ok())
            .ok_or_else(|| format!("no {name}"))
    };
    let per = dim(tags::ROWS, "Rows")? * dim(tags::COLUMNS, "Columns")?;
    let bits = dim(tags::BITS_ALLOCATED, "BitsAllocated")?;
    if obj
        .get(tags::SAMPLES_PER_PIXEL)
        .and_then(|e| e.to_int::<usize>().ok())
        .unwrap_or(1)
        != 1
    {
        return Err("the deface stage edits one sample per pixel only".into());
    }
    let element = obj.get(tags::PIXEL_DATA).expect("checked above");
    let vr = element.vr();
    let Value::Primitive(value) = element.value() else {
        return Err("pixel data still encapsulated after decoding".into());
    };
    let mut value = value.clone();
    for (&frame, f) in &edit.frames {
        let base = frame * per;
        for &(start, count) in &f.runs {
            let (start, count) = (base + start as usize, count as usize);
            let bg = f.stored_background;
            let ok = match (&mut value, bits) {
                (PrimitiveValue::U16(v), 16) if start + count <= v.len() => {
                    v[start..start + count].fill(bg as i16 as u16);
                    true
                }
                (PrimitiveValue::I16(v), 16) if start + count <= v.len() => {
                    v[start..start + count].fill(bg as i16);
                    true
                }
                (PrimitiveValue::U8(v), 8) if start + count <= v.len() => {
                    v[start..start + count].fill(bg as u8);
                    true
                }
                (PrimitiveValue::U8(v), 16 | 32) if (start + count) * bits / 8 <= v.len() => {
                    let width = bits / 8;
                    let bytes = (bg as i32).to_le_bytes();
                    for p in start..start + count {
                        v[p * width..(p + 1) * width].copy_from_slice(&bytes[..width]);
                    }
                    true
                }
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "pixel data do not match the image ({bits} bits allocated, frame {frame})"
                ));
            }
        }
    }
    obj.put(DataElement::new(tags::PIXEL_DATA, vr, value));
    mark(obj);
    Ok(ts)
}

/// What [`apply`] changes in the header: ImageType DERIVED, and DCM 113102
/// among the de-identification methods.
pub fn mark(obj: &mut InMemDicomObject) {
    mark_derived(obj);
    add_method(obj);
}

/// ImageType's first value becomes DERIVED (the others are kept).
fn mark_derived(obj: &mut InMemDicomObject) {
    let mut values: Vec<String> = obj
        .get(tags::IMAGE_TYPE)
        .and_then(|e| e.to_multi_str().ok())
        .map(|v| v.iter().map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    match values.first_mut() {
        Some(first) => *first = "DERIVED".into(),
        None => values = vec!["DERIVED".into(), "SECONDARY".into()],
    }
    obj.put(DataElement::new(
        tags::IMAGE_TYPE,
        VR::CS,
        PrimitiveValue::Strs(values.into_iter().collect()),
    ));
}

/// DCM 113102 added to DeidentificationMethodCodeSequence (once).
fn add_method(obj: &mut InMemDicomObject) {
    let (code, meaning) = CLEAN_VISUAL_FEATURES;
    crate::interpreter::values::add_method_code(obj, code, meaning);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(rescale: Option<(f64, f64)>, signed: bool) -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        let u16v = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
        o.put(u16v(tags::ROWS, 2));
        o.put(u16v(tags::COLUMNS, 3));
        o.put(u16v(tags::BITS_ALLOCATED, 16));
        o.put(u16v(tags::BITS_STORED, 12));
        o.put(u16v(tags::PIXEL_REPRESENTATION, u16::from(signed)));
        if let Some((slope, intercept)) = rescale {
            o.put(DataElement::new(
                tags::RESCALE_SLOPE,
                VR::DS,
                PrimitiveValue::from(slope.to_string()),
            ));
            o.put(DataElement::new(
                tags::RESCALE_INTERCEPT,
                VR::DS,
                PrimitiveValue::from(intercept.to_string()),
            ));
        }
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16([100u16, 200, 300, 400, 500, 600][..].into()),
        ));
        o
    }

    #[test]
    fn background_is_the_inverse_rescale_clamped_to_the_representation() {
        assert_eq!(
            stored_background(&image(Some((1.0, -1024.0)), false), -1000.0),
            24
        );
        assert_eq!(
            stored_background(&image(Some((2.0, 0.0)), true), -1000.0),
            -500
        );
        // Unsigned 12-bit data cannot hold a negative value.
        assert_eq!(stored_background(&image(None, false), -1000.0), 0);
        assert_eq!(stored_background(&image(None, true), -3000.0), -2048);
    }

    #[test]
    fn runs_of_pixels_become_background_and_the_image_is_marked() {
        let mut o = image(Some((1.0, -1024.0)), false);
        let mut edit = PixelEdit::default();
        edit.frames.insert(
            0,
            FrameEdit {
                stored_background: 24,
                runs: vec![(1, 2), (5, 1)],
            },
        );
        let ts = apply(&mut o, "1.2.840.10008.1.2.1", &edit).unwrap();
        assert_eq!(ts, "1.2.840.10008.1.2.1");
        let px = o
            .get(tags::PIXEL_DATA)
            .unwrap()
            .to_multi_int::<u16>()
            .unwrap();
        assert_eq!(px, vec![100, 24, 24, 400, 500, 24]);
        assert_eq!(
            o.get(tags::IMAGE_TYPE).unwrap().to_str().unwrap(),
            "DERIVED\\SECONDARY"
        );
        let methods = o
            .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(methods.len(), 1);
        assert_eq!(
            methods[0].get(tags::CODE_VALUE).unwrap().to_str().unwrap(),
            "113102"
        );
        // Applied twice, the code is not repeated.
        apply(&mut o, "1.2.840.10008.1.2.1", &edit).unwrap();
        assert_eq!(
            o.get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn runs_beyond_the_pixel_data_are_an_error_not_a_panic() {
        let mut o = image(None, false);
        let mut edit = PixelEdit::default();
        edit.frames.insert(
            1,
            FrameEdit {
                stored_background: 0,
                runs: vec![(0, 6)],
            },
        );
        assert!(apply(&mut o, "1.2.840.10008.1.2.1", &edit).is_err());
    }
}
