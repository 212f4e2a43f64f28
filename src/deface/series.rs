//! DICOM files grouped into series, and one series assembled into a
//! [`Volume`].
//!
//! A series becomes a volume when its images (single-frame, or the frames
//! of one enhanced multi-frame image) share their size,
//! pixel spacing and orientation, and their positions step evenly along the
//! normal of that orientation (so no gantry tilt and no missing slice).
//! Slices are ordered by position along the normal (not by InstanceNumber),
//! and RescaleSlope/RescaleIntercept are applied (Hounsfield units for CT).
//! Anything else is refused with a [`NotAVolume`] reason, never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, Tag};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::volume::Volume;
use crate::dicom_file;

/// Why a series cannot be a volume.
#[derive(Debug, Clone, PartialEq)]
pub enum NotAVolume {
    TooFewSlices(usize),
    MissingAttribute(&'static str),
    MixedSizes,
    MixedOrientations,
    MixedSpacing,
    /// The slice positions do not follow the normal (gantry tilt), with the
    /// angle in degrees.
    Tilted(f64),
    /// The gaps between slices differ (a missing slice, or uneven spacing):
    /// the smallest and largest gap, in mm.
    UnevenSpacing(f64, f64),
    /// Two slices at the same position.
    DuplicatePosition,
    MultiFrame,
    Compressed(String),
    UnsupportedPixels(String),
    Unreadable(String),
}

impl std::fmt::Display for NotAVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotAVolume::TooFewSlices(n) => write!(f, "{n} slice(s): a volume needs at least 3"),
            NotAVolume::MissingAttribute(a) => write!(f, "a slice has no {a}"),
            NotAVolume::MixedSizes => f.write_str("the slices differ in rows or columns"),
            NotAVolume::MixedOrientations => f.write_str("the slices differ in orientation"),
            NotAVolume::MixedSpacing => f.write_str("the slices differ in pixel spacing"),
            NotAVolume::Tilted(deg) => {
                write!(f, "gantry tilt: slices step {deg:.2}° off the normal")
            }
            NotAVolume::UnevenSpacing(a, b) => {
                write!(
                    f,
                    "uneven slice spacing ({a:.3} to {b:.3} mm): missing or irregular slices"
                )
            }
            NotAVolume::DuplicatePosition => f.write_str("two slices share a position"),
            NotAVolume::MultiFrame => f.write_str("multi-frame images are not assembled yet"),
            NotAVolume::Compressed(ts) => write!(
                f,
                "compressed pixel data (transfer syntax {ts}) that this build cannot decode (it decodes RLE Lossless and JPEG)"
            ),
            NotAVolume::UnsupportedPixels(why) => write!(f, "unsupported pixel data: {why}"),
            NotAVolume::Unreadable(why) => write!(f, "unreadable slice: {why}"),
        }
    }
}

/// One image of a series, with what ordering and assembly need.
#[derive(Debug, Clone)]
pub struct Slice {
    pub path: PathBuf,
    pub obj: InMemDicomObject,
    pub transfer_syntax: String,
    /// Which frame of the file this is (0 for a single-frame image).
    pub frame: usize,
}

impl Slice {
    /// Read a file whole, as the first (or only) frame of a slice.
    pub fn read(path: &Path) -> Result<Slice, String> {
        let file = dicom_file::open(path, None).map_err(|e| format!("{}: {e}", path.display()))?;
        let transfer_syntax = file
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string();
        Ok(Slice {
            path: path.to_path_buf(),
            obj: file.into_inner(),
            transfer_syntax,
            frame: 0,
        })
    }
}

/// The files under `root` that have pixel data, by SeriesInstanceUID,
/// with the header of the first (files are read up to the pixel data
/// only, and only one header per series is kept).
pub fn series_headers(
    root: &Path,
) -> std::io::Result<BTreeMap<String, (InMemDicomObject, Vec<PathBuf>)>> {
    let mut series: BTreeMap<String, (InMemDicomObject, Vec<PathBuf>)> = BTreeMap::new();
    for (path, _) in crate::input_tree::files(root)? {
        let Some((uid, obj)) = image_header(&path) else {
            continue;
        };
        match series.get_mut(&uid) {
            Some((_, paths)) => paths.push(path),
            None => {
                series.insert(uid, (obj, vec![path]));
            }
        }
    }
    Ok(series)
}

/// The header of an image file (read up to its pixel data), with its
/// SeriesInstanceUID; `None` for a file that is not DICOM, cannot be read,
/// or has no rows and columns (not an image).
pub fn image_header(path: &Path) -> Option<(String, InMemDicomObject)> {
    let obj = dicom_file::open(path, Some(tags::PIXEL_DATA))
        .ok()?
        .into_inner();
    obj.get(tags::ROWS)?;
    obj.get(tags::COLUMNS)?;
    let uid = obj
        .get(tags::SERIES_INSTANCE_UID)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default();
    Some((uid, obj))
}

/// The DICOM files under `root` that have pixel data, read whole, by
/// SeriesInstanceUID (files that are not DICOM, or not readable whole, are
/// passed over).
pub fn group_series(root: &Path) -> std::io::Result<BTreeMap<String, Vec<Slice>>> {
    let mut series = BTreeMap::new();
    for (uid, (_, paths)) in series_headers(root)? {
        let slices: Vec<Slice> = paths
            .iter()
            .filter_map(|path| Slice::read(path).ok())
            .filter(|slice| slice.obj.get(tags::PIXEL_DATA).is_some())
            .collect();
        if !slices.is_empty() {
            series.insert(uid, slices);
        }
    }
    Ok(series)
}

fn floats(obj: &InMemDicomObject, tag: Tag, name: &'static str) -> Result<Vec<f64>, NotAVolume> {
    obj.get(tag)
        .and_then(|e| e.to_multi_float64().ok())
        .ok_or(NotAVolume::MissingAttribute(name))
}

fn uint(obj: &InMemDicomObject, tag: Tag, name: &'static str) -> Result<u32, NotAVolume> {
    obj.get(tag)
        .and_then(|e| e.to_int::<u32>().ok())
        .ok_or(NotAVolume::MissingAttribute(name))
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// Replace encapsulated (compressed) pixel data by its native form, as
/// little-endian bytes: RLE Lossless and the JPEG processes this build
/// decodes (dicom-pixeldata); anything else is refused as compressed.
fn decode_encapsulated(slice: &mut Slice) -> Result<(), NotAVolume> {
    if let Some(ts) = decode_to_native(&mut slice.obj, &slice.transfer_syntax)? {
        slice.transfer_syntax = ts;
    }
    Ok(())
}

/// Replace encapsulated pixel data by its decoded values (see
/// [`crate::dicom_file::native`]).
pub fn decode_to_native(
    obj: &mut InMemDicomObject,
    transfer_syntax: &str,
) -> Result<Option<String>, NotAVolume> {
    crate::dicom_file::native::decode_to_native(obj, transfer_syntax)
        .map_err(|e| NotAVolume::Compressed(e.transfer_syntax))
}

/// The transfer syntax decoded pixel data is written with.
pub const EXPLICIT_VR_LITTLE_ENDIAN: &str = crate::dicom_file::native::EXPLICIT_VR_LITTLE_ENDIAN;

fn frame_count(obj: &InMemDicomObject) -> u32 {
    obj.get(tags::NUMBER_OF_FRAMES)
        .and_then(|e| e.to_int::<u32>().ok())
        .unwrap_or(1)
}

/// Assemble a series into a volume: single-frame images, or one enhanced
/// multi-frame image (its frames placed by their functional groups).
/// Slices are sorted in place by position.
pub fn assemble(slices: &mut Vec<Slice>) -> Result<Volume, NotAVolume> {
    for slice in slices.iter_mut() {
        decode_encapsulated(slice)?;
    }
    if slices.iter().any(|s| frame_count(&s.obj) > 1) {
        if slices.len() != 1 {
            return Err(NotAVolume::MultiFrame);
        }
        let frames = frames(&slices[0])?;
        *slices = frames;
    }
    assemble_frames(slices)
}

/// The attribute `tag` of frame `n` of an enhanced multi-frame image: from
/// the frame's own functional group `group`, else from the shared one.
fn functional(
    obj: &InMemDicomObject,
    n: usize,
    group: Tag,
    tag: Tag,
) -> Option<&DataElement<InMemDicomObject>> {
    let in_group = |groups: Tag, index: usize| {
        obj.get(groups)?
            .items()?
            .get(index)?
            .get(group)?
            .items()?
            .first()?
            .get(tag)
    };
    in_group(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, n)
        .or_else(|| in_group(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, 0))
}

/// An enhanced multi-frame image as one slice per frame, each with the
/// attributes of its functional groups and its own pixels.
fn frames(image: &Slice) -> Result<Vec<Slice>, NotAVolume> {
    let o = &image.obj;
    let n = frame_count(o) as usize;
    let rows = uint(o, tags::ROWS, "Rows")? as usize;
    let cols = uint(o, tags::COLUMNS, "Columns")? as usize;
    let element = o
        .get(tags::PIXEL_DATA)
        .ok_or(NotAVolume::MissingAttribute("PixelData"))?;
    let Value::Primitive(value) = element.value() else {
        return Err(NotAVolume::Compressed(image.transfer_syntax.clone()));
    };
    let per = rows * cols;
    let split: Vec<PrimitiveValue> = match value {
        PrimitiveValue::U16(v) if v.len() >= n * per => (0..n)
            .map(|f| PrimitiveValue::U16(v[f * per..(f + 1) * per].iter().copied().collect()))
            .collect(),
        PrimitiveValue::I16(v) if v.len() >= n * per => (0..n)
            .map(|f| PrimitiveValue::I16(v[f * per..(f + 1) * per].iter().copied().collect()))
            .collect(),
        PrimitiveValue::U8(v) => {
            let bytes = per * (uint(o, tags::BITS_ALLOCATED, "BitsAllocated")? as usize / 8);
            if v.len() < n * bytes {
                return Err(NotAVolume::UnsupportedPixels(format!(
                    "{} bytes for {n} frames",
                    v.len()
                )));
            }
            (0..n)
                .map(|f| {
                    PrimitiveValue::U8(v[f * bytes..(f + 1) * bytes].iter().copied().collect())
                })
                .collect()
        }
        _ => {
            return Err(NotAVolume::UnsupportedPixels(format!(
                "pixel data for {n} frames"
            )));
        }
    };
    let copied = [
        tags::ROWS,
        tags::COLUMNS,
        tags::SAMPLES_PER_PIXEL,
        tags::BITS_ALLOCATED,
        tags::BITS_STORED,
        tags::PIXEL_REPRESENTATION,
    ];
    let located = [
        (tags::PLANE_POSITION_SEQUENCE, tags::IMAGE_POSITION_PATIENT),
        (
            tags::PLANE_ORIENTATION_SEQUENCE,
            tags::IMAGE_ORIENTATION_PATIENT,
        ),
        (tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING),
        (
            tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
            tags::RESCALE_INTERCEPT,
        ),
        (
            tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
            tags::RESCALE_SLOPE,
        ),
    ];
    split
        .into_iter()
        .enumerate()
        .map(|(f, pixels)| {
            let mut frame = InMemDicomObject::new_empty();
            for tag in copied {
                if let Some(e) = o.get(tag) {
                    frame.put(e.clone());
                }
            }
            for (group, tag) in located {
                if let Some(e) = functional(o, f, group, tag).or_else(|| o.get(tag)) {
                    frame.put(e.clone());
                }
            }
            frame.put(DataElement::new(tags::PIXEL_DATA, element.vr(), pixels));
            Ok(Slice {
                path: image.path.clone(),
                obj: frame,
                transfer_syntax: image.transfer_syntax.clone(),
                frame: f,
            })
        })
        .collect()
}

fn assemble_frames(slices: &mut [Slice]) -> Result<Volume, NotAVolume> {
    if slices.len() < 3 {
        return Err(NotAVolume::TooFewSlices(slices.len()));
    }
    let first = &slices[0].obj;
    let rows = uint(first, tags::ROWS, "Rows")? as usize;
    let cols = uint(first, tags::COLUMNS, "Columns")? as usize;
    let orientation = floats(
        first,
        tags::IMAGE_ORIENTATION_PATIENT,
        "ImageOrientationPatient",
    )?;
    let spacing = floats(first, tags::PIXEL_SPACING, "PixelSpacing")?;
    if orientation.len() != 6 || spacing.len() != 2 {
        return Err(NotAVolume::MissingAttribute("ImageOrientationPatient"));
    }
    let row_dir = [orientation[0], orientation[1], orientation[2]];
    let col_dir = [orientation[3], orientation[4], orientation[5]];
    let normal = cross(row_dir, col_dir);

    let mut keyed = Vec::with_capacity(slices.len());
    for (n, s) in slices.iter().enumerate() {
        let o = &s.obj;
        if uint(o, tags::ROWS, "Rows")? as usize != rows
            || uint(o, tags::COLUMNS, "Columns")? as usize != cols
        {
            return Err(NotAVolume::MixedSizes);
        }
        if !close(
            &floats(
                o,
                tags::IMAGE_ORIENTATION_PATIENT,
                "ImageOrientationPatient",
            )?,
            &orientation,
            1e-4,
        ) {
            return Err(NotAVolume::MixedOrientations);
        }
        if !close(
            &floats(o, tags::PIXEL_SPACING, "PixelSpacing")?,
            &spacing,
            1e-4,
        ) {
            return Err(NotAVolume::MixedSpacing);
        }
        let p = floats(o, tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient")?;
        if p.len() != 3 {
            return Err(NotAVolume::MissingAttribute("ImagePositionPatient"));
        }
        let p = [p[0], p[1], p[2]];
        keyed.push((dot(p, normal), n, p));
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let gaps: Vec<f64> = keyed.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let (min_gap, max_gap) = gaps
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), g| (lo.min(*g), hi.max(*g)));
    if min_gap < 1e-3 {
        return Err(NotAVolume::DuplicatePosition);
    }
    if max_gap - min_gap > 0.01 * min_gap.max(1.0) {
        return Err(NotAVolume::UnevenSpacing(min_gap, max_gap));
    }
    let (p0, pn) = (keyed[0].2, keyed[keyed.len() - 1].2);
    let steps = (keyed.len() - 1) as f64;
    let step = [
        (pn[0] - p0[0]) / steps,
        (pn[1] - p0[1]) / steps,
        (pn[2] - p0[2]) / steps,
    ];
    let step_len = dot(step, step).sqrt();
    let cos = (dot(step, normal) / step_len).clamp(-1.0, 1.0);
    let angle = cos.acos().to_degrees();
    if angle > 0.5 {
        return Err(NotAVolume::Tilted(angle));
    }

    // Put the slices in position order.
    let order: Vec<usize> = keyed.iter().map(|k| k.1).collect();
    let mut sorted: Vec<Slice> = order.iter().map(|&n| slices[n].clone()).collect();
    slices.swap_with_slice(&mut sorted);

    let mut data = Vec::with_capacity(rows * cols * slices.len());
    for s in slices.iter() {
        data.extend(pixels(s, rows * cols)?);
    }
    let (dr, dc) = (spacing[0], spacing[1]);
    let affine_lps = [
        [row_dir[0] * dc, col_dir[0] * dr, step[0], p0[0]],
        [row_dir[1] * dc, col_dir[1] * dr, step[1], p0[1]],
        [row_dir[2] * dc, col_dir[2] * dr, step[2], p0[2]],
        [0.0, 0.0, 0.0, 1.0],
    ];
    Ok(Volume {
        dims: [cols, rows, slices.len()],
        data,
        affine_lps,
    })
}

/// The rescaled values of one native (uncompressed) single-sample image.
fn pixels(s: &Slice, count: usize) -> Result<Vec<f32>, NotAVolume> {
    let o = &s.obj;
    let element = o
        .get(tags::PIXEL_DATA)
        .ok_or(NotAVolume::MissingAttribute("PixelData"))?;
    let value = match element.value() {
        Value::Primitive(p) => p,
        Value::PixelSequence(_) => return Err(NotAVolume::Compressed(s.transfer_syntax.clone())),
        Value::Sequence(_) => {
            return Err(NotAVolume::UnsupportedPixels("a sequence".into()));
        }
    };
    if uint(o, tags::SAMPLES_PER_PIXEL, "SamplesPerPixel").unwrap_or(1) != 1 {
        return Err(NotAVolume::UnsupportedPixels(
            "more than one sample per pixel".into(),
        ));
    }
    let allocated = uint(o, tags::BITS_ALLOCATED, "BitsAllocated")?;
    let stored = uint(o, tags::BITS_STORED, "BitsStored").unwrap_or(allocated);
    let signed = uint(o, tags::PIXEL_REPRESENTATION, "PixelRepresentation").unwrap_or(0) == 1;
    let big_endian = s.transfer_syntax == "1.2.840.10008.1.2.2";
    let raw: Vec<i64> = match (allocated, value) {
        (16, PrimitiveValue::U16(v)) => v.iter().map(|&x| x as i64).collect(),
        (16, PrimitiveValue::I16(v)) => v.iter().map(|&x| x as u16 as i64).collect(),
        (16, PrimitiveValue::U8(b)) => b
            .chunks_exact(2)
            .map(|c| {
                let pair = [c[0], c[1]];
                (if big_endian {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }) as i64
            })
            .collect(),
        (8, PrimitiveValue::U8(b)) => b.iter().map(|&x| x as i64).collect(),
        (bits, _) => {
            return Err(NotAVolume::UnsupportedPixels(format!(
                "{bits} bits allocated"
            )));
        }
    };
    if raw.len() < count {
        return Err(NotAVolume::UnsupportedPixels(format!(
            "{} values for {count} pixels",
            raw.len()
        )));
    }
    let slope = o
        .get(tags::RESCALE_SLOPE)
        .and_then(|e| e.to_float64().ok())
        .unwrap_or(1.0);
    let intercept = o
        .get(tags::RESCALE_INTERCEPT)
        .and_then(|e| e.to_float64().ok())
        .unwrap_or(0.0);
    let mask = (1i64 << stored) - 1;
    Ok(raw[..count]
        .iter()
        .map(|&v| {
            let v = v & mask;
            let v = if signed && v & (1 << (stored - 1)) != 0 {
                v - (1 << stored)
            } else {
                v
            };
            (v as f64 * slope + intercept) as f32
        })
        .collect())
}
