//! DICOM files grouped into series, and one series assembled into a
//! [`Volume`].
//!
//! A series becomes a volume when its images (single-frame, or the frames
//! of one enhanced multi-frame image) share their size, pixel spacing and
//! orientation. Slices are ordered by position along the normal (not by
//! InstanceNumber), and RescaleSlope/RescaleIntercept are applied
//! (Hounsfield units for CT). When the positions step evenly along the
//! normal, the slices are the volume's voxels; a gantry tilt (up to
//! [`MAX_TILT_DEG`]) or uneven gaps (up to [`MAX_GAP_RATIO`] times the
//! typical gap) are resampled onto an orthogonal grid ([`super::stack`]).
//! Anything else is refused with a [`NotAVolume`] reason, never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, Tag};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::stack::{Plane, dot, regrid, typical_gap};
use super::volume::Volume;
use crate::dicom_file;

/// Why a series cannot be a volume.
#[derive(Debug, Clone, PartialEq)]
pub enum NotAVolume {
    TooFewSlices(usize),
    MissingAttribute(&'static str),
    MixedSizes,
    /// The slices lie in more than one plane: how many slices lie in each,
    /// most first.
    MixedOrientations(Vec<usize>),
    MixedSpacing,
    /// The slices step further off their normal than a gantry tilt
    /// ([`MAX_TILT_DEG`]), with the angle in degrees.
    Tilted(f64),
    /// A gap between slices more than [`MAX_GAP_RATIO`] times the typical
    /// one: the smallest and largest gap, in mm.
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
            NotAVolume::MixedOrientations(counts) => write!(
                f,
                "the slices lie in {} different planes ({} slices): one volume needs one plane; split the series by orientation",
                counts.len(),
                counts
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            NotAVolume::MixedSpacing => f.write_str("the slices differ in pixel spacing"),
            NotAVolume::Tilted(deg) => write!(
                f,
                "the slices step {deg:.2}° off their normal, more than a gantry tilt ({MAX_TILT_DEG}°)"
            ),
            NotAVolume::UnevenSpacing(a, b) => write!(
                f,
                "uneven slice spacing ({a:.3} to {b:.3} mm): a gap more than {MAX_GAP_RATIO} times the typical one (missing slices)"
            ),
            NotAVolume::DuplicatePosition => f.write_str("two slices share a position"),
            NotAVolume::MultiFrame => f.write_str("multi-frame images are not assembled yet"),
            NotAVolume::Compressed(ts) => write!(
                f,
                "compressed pixel data (transfer syntax {ts}) that this build cannot decode (it decodes RLE Lossless, JPEG baseline, extended and lossless, and JPEG 2000)"
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

    /// The frames of an enhanced multi-frame image with native pixel data
    /// of 8 or 16 bits, one sample per pixel: the header read up to the
    /// pixel data, each frame's bytes read from the file apart (the data
    /// set is never held whole, nor its pixel data twice). `Ok(None)` for
    /// any other file, which [`Slice::read`] reads whole.
    pub fn read_frames(path: &Path) -> Result<Option<Vec<Slice>>, String> {
        use std::os::unix::fs::FileExt;

        // A file the header reader refuses is left to the whole reader,
        // which gives its own error.
        let Ok(Some((file, tail))) = crate::dicom_file::tail::open_header(path) else {
            return Ok(None);
        };
        let transfer_syntax = file
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string();
        let image = Slice {
            path: path.to_path_buf(),
            obj: file.into_inner(),
            transfer_syntax,
            frame: 0,
        };
        let n = frame_count(&image.obj) as usize;
        let Some(layout) = NativeFrame::of(&image.obj, tail.vr, tail.explicit) else {
            return Ok(None);
        };
        let frame_bytes = layout.bytes();
        if tail.encapsulated || n < 2 || ((n * frame_bytes) as u64) > tail.len {
            return Ok(None);
        }
        let input = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let pixels = (0..n)
            .map(|f| {
                let mut bytes = vec![0u8; frame_bytes];
                input
                    .read_exact_at(&mut bytes, tail.value_offset + (f * frame_bytes) as u64)
                    .map(|()| PrimitiveValue::U8(bytes.into()))
                    .map_err(|e| format!("{}: frame {}: {e}", path.display(), f + 1))
            })
            .collect::<Result<Vec<_>, String>>()?;
        with_headers(&image, pixels, dicom_core::VR::OB)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The layout of one frame of native pixel data that can be read and edited
/// as bytes, pixel by pixel: one sample per pixel, 16 bits allocated, or 8
/// in explicit VR OB. The byte edit writes one byte per 8-bit pixel, and
/// explicit OB is the one encoding known to store 8-bit pixels that way; 8
/// bits in OW or in implicit VR go to the whole path, which decodes them.
#[derive(Clone, Copy, Debug)]
pub struct NativeFrame {
    /// Bytes per pixel.
    pub width: usize,
    /// Pixels per frame.
    pub pixels: usize,
}

impl NativeFrame {
    pub fn of(obj: &InMemDicomObject, vr: dicom_core::VR, explicit: bool) -> Option<NativeFrame> {
        let int = |tag| uint(obj, tag, "").ok().map(|v| v as usize);
        let pixels = int(tags::ROWS)? * int(tags::COLUMNS)?;
        if int(tags::SAMPLES_PER_PIXEL).unwrap_or(1) != 1 || pixels == 0 {
            return None;
        }
        let width = match int(tags::BITS_ALLOCATED)? {
            16 => 2,
            8 if explicit && vr == dicom_core::VR::OB => 1,
            _ => return None,
        };
        Some(NativeFrame { width, pixels })
    }

    pub fn bytes(&self) -> usize {
        self.width * self.pixels
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
    with_headers(image, split, element.vr())
}

/// One slice per frame of `image` (an enhanced multi-frame header), each
/// with the attributes of its functional groups and `pixels[f]` as its
/// pixel data (of `vr`).
fn with_headers(
    image: &Slice,
    pixels: Vec<PrimitiveValue>,
    vr: dicom_core::VR,
) -> Result<Vec<Slice>, NotAVolume> {
    let o = &image.obj;
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
    pixels
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
            frame.put(DataElement::new(tags::PIXEL_DATA, vr, pixels));
            Ok(Slice {
                path: image.path.clone(),
                obj: frame,
                transfer_syntax: image.transfer_syntax.clone(),
                frame: f,
            })
        })
        .collect()
}

/// Gaps between slices up to this many times the typical gap are
/// resampled (one missing slice makes a gap of 2); a larger gap leaves too
/// little of the head between its slices to find a face in.
pub const MAX_GAP_RATIO: f64 = 2.5;
/// Gantry tilts up to this angle (degrees) are resampled; beyond it the
/// slices are too far off their normal to be a tilted stack.
pub const MAX_TILT_DEG: f64 = 45.0;

/// Where a slice lies, from its header.
pub fn plane(obj: &InMemDicomObject) -> Result<Plane, NotAVolume> {
    let orientation = floats(
        obj,
        tags::IMAGE_ORIENTATION_PATIENT,
        "ImageOrientationPatient",
    )?;
    let spacing = floats(obj, tags::PIXEL_SPACING, "PixelSpacing")?;
    let position = floats(obj, tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient")?;
    if orientation.len() != 6 {
        return Err(NotAVolume::MissingAttribute("ImageOrientationPatient"));
    }
    if spacing.len() != 2 {
        return Err(NotAVolume::MissingAttribute("PixelSpacing"));
    }
    if position.len() != 3 {
        return Err(NotAVolume::MissingAttribute("ImagePositionPatient"));
    }
    Ok(Plane {
        origin: [position[0], position[1], position[2]],
        row: [orientation[0], orientation[1], orientation[2]],
        col: [orientation[3], orientation[4], orientation[5]],
        spacing: [spacing[1], spacing[0]],
    })
}

fn assemble_frames(slices: &mut [Slice]) -> Result<Volume, NotAVolume> {
    if slices.len() < 3 {
        return Err(NotAVolume::TooFewSlices(slices.len()));
    }
    let first = &slices[0].obj;
    let rows = uint(first, tags::ROWS, "Rows")? as usize;
    let cols = uint(first, tags::COLUMNS, "Columns")? as usize;
    let reference = plane(first)?;
    let normal = reference.normal();

    let mut planes = Vec::with_capacity(slices.len());
    // Distinct orientations, with how many slices have each.
    let mut orientations: Vec<([f64; 6], usize)> = Vec::new();
    for s in slices.iter() {
        let o = &s.obj;
        if uint(o, tags::ROWS, "Rows")? as usize != rows
            || uint(o, tags::COLUMNS, "Columns")? as usize != cols
        {
            return Err(NotAVolume::MixedSizes);
        }
        let p = plane(o)?;
        if !close(&p.spacing, &reference.spacing, 1e-4) {
            return Err(NotAVolume::MixedSpacing);
        }
        let key = [p.row, p.col].concat();
        match orientations.iter_mut().find(|(o, _)| close(o, &key, 1e-4)) {
            Some((_, n)) => *n += 1,
            None => orientations.push((key.try_into().expect("six values"), 1)),
        }
        planes.push(p);
    }
    if orientations.len() > 1 {
        let mut counts: Vec<usize> = orientations.iter().map(|(_, n)| *n).collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        return Err(NotAVolume::MixedOrientations(counts));
    }
    let mut keyed: Vec<(f64, usize)> = planes
        .iter()
        .enumerate()
        .map(|(n, p)| (dot(p.origin, normal), n))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let gaps: Vec<f64> = keyed.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let (min_gap, max_gap) = gaps
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), g| (lo.min(*g), hi.max(*g)));
    if min_gap < 1e-3 {
        return Err(NotAVolume::DuplicatePosition);
    }
    if max_gap > MAX_GAP_RATIO * typical_gap(&gaps) {
        return Err(NotAVolume::UnevenSpacing(min_gap, max_gap));
    }
    let (p0, pn) = (
        planes[keyed[0].1].origin,
        planes[keyed[keyed.len() - 1].1].origin,
    );
    let steps = (keyed.len() - 1) as f64;
    let step = [0, 1, 2].map(|d| (pn[d] - p0[d]) / steps);
    let cos = (dot(step, normal) / dot(step, step).sqrt()).clamp(-1.0, 1.0);
    let angle = cos.acos().to_degrees();
    if angle > MAX_TILT_DEG {
        return Err(NotAVolume::Tilted(angle));
    }

    // Put the slices in position order.
    let order: Vec<usize> = keyed.iter().map(|k| k.1).collect();
    permute(slices, &order);
    let planes: Vec<Plane> = order.iter().map(|&n| planes[n]).collect();

    // Each slice's pixel data are let go once they are in the volume: the
    // series is not held twice (the slices keep their headers, which is
    // all the edits and the QA sheet read).
    let mut data = Vec::with_capacity(rows * cols * slices.len());
    for s in slices.iter_mut() {
        data.extend(pixels(s, rows * cols)?);
        s.obj.remove_element(tags::PIXEL_DATA);
    }
    // Even gaps, every slice on the line from the first to the last, and
    // that line along the normal: the slices are the volume's own voxels.
    let even = max_gap - min_gap <= 0.01 * min_gap.max(1.0);
    let on_line = planes.iter().enumerate().all(|(k, p)| {
        let expected = [0, 1, 2].map(|d| p0[d] + k as f64 * step[d]);
        let off = [0, 1, 2].map(|d| p.origin[d] - expected[d]);
        dot(off, off).sqrt() <= 0.05 * reference.spacing[0].min(reference.spacing[1])
    });
    if !(even && on_line && angle <= 0.5) {
        let background = data.iter().copied().fold(f32::INFINITY, f32::min);
        return Ok(regrid(&planes, [cols, rows], &data, background));
    }
    let mut affine_lps = reference.affine();
    for (d, row) in affine_lps.iter_mut().take(3).enumerate() {
        row[2] = step[d];
        row[3] = p0[d];
    }
    Ok(Volume {
        dims: [cols, rows, slices.len()],
        data,
        affine_lps,
    })
}

/// Reorder `items` in place so that `items[k]` is what `items[order[k]]`
/// was (`order` a permutation), by swaps: the slices and their pixel data
/// are moved, never copied.
fn permute<T>(items: &mut [T], order: &[usize]) {
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        let mut k = start;
        while !placed[k] {
            placed[k] = true;
            let next = order[k];
            if next == start {
                break;
            }
            items.swap(k, next);
            k = next;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::permute;

    #[test]
    fn a_permutation_moves_every_item_to_its_place() {
        let mut seed = 11u64;
        for n in [0usize, 1, 2, 3, 7, 40] {
            for _ in 0..20 {
                // A pseudo-random permutation (Fisher–Yates).
                let mut order: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    order.swap(i, (seed >> 33) as usize % (i + 1));
                }
                let original: Vec<String> = (0..n).map(|i| format!("slice {i}")).collect();
                let mut items = original.clone();
                permute(&mut items, &order);
                let want: Vec<&String> = order.iter().map(|&o| &original[o]).collect();
                assert_eq!(items.iter().collect::<Vec<_>>(), want, "{order:?}");
            }
        }
    }
}
