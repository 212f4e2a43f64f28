//! Heads to deface: pydeface's template (fetched from PyPI) moved into a
//! random pose and given a contrast, with its face mask moved the same way.
//! The poses and contrasts here are not the ones the model was trained on
//! (`scripts/train_face_mask.py` draws random remapping curves and its own
//! poses); they are the held-out material of the accuracy test.

#![allow(dead_code)]
#![allow(clippy::needless_range_loop)] // matrix indices read best as indices

use dicom_anonymizer::deface::canonical::{Modality, percentiles};
use dicom_anonymizer::deface::nifti;
use dicom_anonymizer::deface::resample::{Affine, Interpolation, apply, pose, resample};
use dicom_anonymizer::deface::volume::Volume;
use rayon::prelude::*;

/// The three held-out contrasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contrast {
    /// The template's own T1 contrast, in arbitrary units up to ~1000.
    T1,
    /// Tissue contrast inverted (bright fluid, dark fat), air still dark.
    T2Inverted,
    /// Hounsfield units: air −1000, dark-in-T1 tissue (bone, fluid) bright,
    /// soft tissue ~40, fat ~−90.
    Ct,
}

impl Contrast {
    pub const ALL: [Contrast; 3] = [Contrast::T1, Contrast::T2Inverted, Contrast::Ct];

    pub fn modality(self) -> Modality {
        match self {
            Contrast::Ct => Modality::Ct,
            _ => Modality::Mr,
        }
    }

    /// The value for a template intensity `t` (T1 scaled so that its 99.5th
    /// percentile is 1).
    fn value(self, t: f32) -> f32 {
        match self {
            Contrast::T1 => 1000.0 * t,
            Contrast::T2Inverted if t < 0.08 => 1000.0 * t,
            Contrast::T2Inverted => 1000.0 * (1.15 - 0.8 * t.min(1.2)),
            Contrast::Ct => interpolate(
                t,
                &[0.0, 0.05, 0.12, 0.3, 0.6, 1.0, 1.5],
                &[-1000.0, -1000.0, 700.0, 20.0, 40.0, -90.0, -90.0],
            ),
        }
    }

    fn noise(self) -> f32 {
        match self {
            Contrast::Ct => 6.0,
            _ => 12.0,
        }
    }
}

fn interpolate(t: f32, xs: &[f32], ys: &[f32]) -> f32 {
    if t <= xs[0] {
        return ys[0];
    }
    for w in 0..xs.len() - 1 {
        if t <= xs[w + 1] {
            let f = (t - xs[w]) / (xs[w + 1] - xs[w]);
            return ys[w] + f * (ys[w + 1] - ys[w]);
        }
    }
    *ys.last().unwrap()
}

/// A small, seeded random generator (xorshift64*), so every run of a test
/// sees the same heads.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform(1e-12, 1.0);
        let v = self.uniform(0.0, 1.0);
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// The template, its face mask, and where its head is.
pub struct Template {
    /// T1 scaled so that its 99.5th percentile is 1.
    pub t: Volume,
    /// 1 on the face (pydeface's zeros), 0 elsewhere.
    pub face: Volume,
    /// 1 on the brain, 0 elsewhere: see [`brain_mask`].
    pub brain: Volume,
    /// The head's centre of mass, LPS mm.
    pub centre: [f64; 3],
    /// Head voxels are brighter than this (in `t`).
    pub head_threshold: f32,
}

impl Template {
    pub fn load() -> Option<Template> {
        let dir = super::reference::pydeface_template()?;
        let t1 = nifti::read(&dir.join("mean_reg2mean.nii.gz")).unwrap();
        let mask = nifti::read(&dir.join("facemask.nii.gz")).unwrap();
        let (_, hi) = percentiles(&t1.data);
        let t = Volume {
            data: t1.data.iter().map(|&v| v / hi).collect(),
            ..t1
        };
        let face = Volume {
            data: mask
                .data
                .iter()
                .map(|&v| if v < 0.5 { 1.0 } else { 0.0 })
                .collect(),
            ..mask
        };
        let brain = Volume {
            data: brain_mask(&t)
                .into_iter()
                .map(|b| f32::from(u8::from(b)))
                .collect(),
            ..t.clone()
        };
        let head_threshold = 0.1;
        let (mut sum, mut n) = ([0.0; 3], 0.0);
        for k in 0..t.dims[2] {
            for j in 0..t.dims[1] {
                for i in 0..t.dims[0] {
                    if t.get(i, j, k) > head_threshold {
                        let p = apply(&t.affine_lps, [i as f64, j as f64, k as f64]);
                        for d in 0..3 {
                            sum[d] += p[d];
                        }
                        n += 1.0;
                    }
                }
            }
        }
        Some(Template {
            t,
            brain,
            face,
            centre: sum.map(|s| s / n),
            head_threshold,
        })
    }

    /// The template's head reshaped by a smooth displacement of up to
    /// about `amplitude_mm` (three plane waves per axis, of random
    /// directions, phases and wavelengths of 120 to 240 mm): a head that is
    /// not the template under any affine motion, as a subject's is not.
    /// The face and brain masks are carried along with it.
    #[allow(dead_code)]
    pub fn reshaped(&self, amplitude_mm: f64, rng: &mut Rng) -> (Template, String) {
        let waves: Vec<[f64; 6]> = (0..9)
            .map(|_| {
                let dir = loop {
                    let d = [0; 3].map(|_| rng.uniform(-1.0, 1.0));
                    let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                    if n > 0.2 && n <= 1.0 {
                        break d.map(|x| x / n);
                    }
                };
                let k = std::f64::consts::TAU / rng.uniform(120.0, 240.0);
                let a = rng.uniform(-1.0, 1.0) * amplitude_mm / 3.0_f64.sqrt();
                [
                    dir[0] * k,
                    dir[1] * k,
                    dir[2] * k,
                    rng.uniform(0.0, std::f64::consts::TAU),
                    a,
                    0.0,
                ]
            })
            .collect();
        let centre = self.centre;
        // The displacement at `p` (LPS mm): axis `d` sums waves 3d..3d+3.
        let shift = |p: [f64; 3]| {
            let q = [p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]];
            [0, 1, 2].map(|d| {
                waves[3 * d..3 * d + 3]
                    .iter()
                    .map(|w| w[4] * (w[0] * q[0] + w[1] * q[1] + w[2] * q[2] + w[3]).sin())
                    .sum::<f64>()
            })
        };
        let largest = (0..2000)
            .map(|_| {
                let p = [0; 3].map(|d| centre[d] + rng.uniform(-90.0, 90.0));
                let s = shift(p);
                (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt()
            })
            .fold(0.0, f64::max);
        let to_voxels = dicom_anonymizer::deface::resample::inverse(&self.t.affine_lps).unwrap();
        let warp = |v: &Volume, linear: bool| -> Volume {
            let [nx, ny, nz] = v.dims;
            let last = [nx, ny, nz].map(|n| (n - 1) as f64);
            let mut data = vec![0.0f32; v.data.len()];
            data.par_chunks_mut(nx * ny)
                .enumerate()
                .for_each(|(k, slice)| {
                    for j in 0..ny {
                        for i in 0..nx {
                            let p = apply(&v.affine_lps, [i as f64, j as f64, k as f64]);
                            let s = shift(p);
                            let u = apply(&to_voxels, [p[0] + s[0], p[1] + s[1], p[2] + s[2]]);
                            if (0..3).any(|d| !(u[d] >= 0.0 && u[d] <= last[d])) {
                                continue;
                            }
                            slice[i + nx * j] = if linear {
                                dicom_anonymizer::deface::resample::trilinear(
                                    v.dims,
                                    u,
                                    |a, b, c| f64::from(v.get(a, b, c)),
                                ) as f32
                            } else {
                                let r = u.map(|x| (x + 0.5) as usize);
                                v.get(r[0].min(nx - 1), r[1].min(ny - 1), r[2].min(nz - 1))
                            };
                        }
                    }
                });
            Volume { data, ..v.clone() }
        };
        (
            Template {
                t: warp(&self.t, true),
                face: warp(&self.face, false),
                brain: warp(&self.brain, false),
                centre: self.centre,
                head_threshold: self.head_threshold,
            },
            format!("reshaped by up to {largest:.1} mm"),
        )
    }

    /// A grid over the template's field of view with voxels of `mm`.
    pub fn grid(&self, mm: f64) -> ([usize; 3], Affine) {
        let mut a = self.t.affine_lps;
        for row in a.iter_mut().take(3) {
            for v in row.iter_mut().take(3) {
                *v *= mm;
            }
        }
        let dims = self.t.dims.map(|d| (d as f64 / mm).floor() as usize);
        (dims, a)
    }
}

/// The template's brain, which pydeface does not ship, derived from its
/// T1 (`t`, 1 mm voxels, scaled so that its 99.5th percentile is 1) by
/// intensity and morphology: the voxels above [`BRAIN_LEVEL`] (grey and
/// white matter; the skull between them and the scalp is darker), eroded
/// by [`BRAIN_ERODE`] voxels so that the thin bridges across the skull
/// break, the largest piece kept (the brain; the scalp and the orbits fall
/// away), cut below its narrowest axial section under its widest one (the
/// brainstem at the skull base, where the blurred template still joins it
/// to the neck), and grown back by as much within the voxels above the
/// level.
pub fn brain_mask(t: &Volume) -> Vec<bool> {
    use dicom_anonymizer::deface::face_mask::{dilate, largest_component};
    let dims = t.dims;
    let bright: Vec<bool> = t.data.iter().map(|&v| v > BRAIN_LEVEL).collect();
    let not: Vec<bool> = bright.iter().map(|&b| !b).collect();
    let eroded: Vec<bool> = dilate(dims, &not, [BRAIN_ERODE; 3])
        .into_iter()
        .map(|d| !d)
        .collect();
    let mut core = largest_component(dims, &eroded);
    // Below the brain, the blurred skull base still joins it to the neck:
    // cut at the narrowest axial section under the widest one that has a
    // section at least twice as wide below it (the brainstem at the
    // foramen magnum, between the brain and the neck).
    let per = dims[0] * dims[1];
    let area: Vec<usize> = (0..dims[2])
        .map(|k| core[k * per..(k + 1) * per].iter().filter(|&&c| c).count())
        .collect();
    let widest = (0..dims[2]).max_by_key(|&k| area[k]).unwrap_or(0);
    let mut wider_below = 0;
    let mut cut = None;
    for k in 0..widest {
        if area[k] > 0 && wider_below >= 2 * area[k] && cut.is_none_or(|c: usize| area[k] < area[c])
        {
            cut = Some(k);
        }
        wider_below = wider_below.max(area[k]);
    }
    if let Some(cut) = cut {
        core[..cut * per].fill(false);
        core = largest_component(dims, &core);
    }
    dilate(dims, &core, [BRAIN_ERODE; 3])
        .into_iter()
        .zip(&bright)
        .map(|(d, &b)| d && b)
        .collect()
}

/// The template intensity above which a voxel may be brain.
pub const BRAIN_LEVEL: f32 = 0.3;
/// How far (voxels of 1 mm) the bright voxels are eroded to part the
/// brain from the scalp.
pub const BRAIN_ERODE: usize = 8;

/// One held-out case.
pub struct Case {
    pub contrast: Contrast,
    pub pose: Affine,
    pub description: String,
    /// The image as a scanner would give it.
    pub image: Volume,
    /// Ground truth on the same grid: head voxels, and face voxels.
    pub head: Vec<bool>,
    pub face: Vec<bool>,
    pub brain: Vec<bool>,
}

/// A random pose within the accuracy test's ranges: rotation up to ±20°
/// about each axis, scale ±10 %, translation up to ±25 mm.
pub fn random_pose(rng: &mut Rng, centre: [f64; 3]) -> (Affine, String) {
    let r = [0; 3].map(|_| rng.uniform(-20.0, 20.0));
    let s = rng.uniform(0.9, 1.1);
    let t = [0; 3].map(|_| rng.uniform(-25.0, 25.0));
    let text = format!(
        "rot ({:+.0}°, {:+.0}°, {:+.0}°) scale {s:.2} shift ({:+.0}, {:+.0}, {:+.0}) mm",
        r[0], r[1], r[2], t[0], t[1], t[2]
    );
    (pose(r, s, t, centre), text)
}

/// The template under `pose` in `contrast`, on a grid of `mm` voxels over
/// its field of view, with scanner noise.
pub fn case(
    template: &Template,
    contrast: Contrast,
    pose: Affine,
    description: String,
    mm: f64,
    rng: &mut Rng,
) -> Case {
    let (dims, grid) = template.grid(mm);
    case_on(
        template,
        contrast,
        pose,
        description,
        (dims, grid),
        1.0,
        rng,
    )
}

/// The template under `pose` in `contrast`, acquired on the grid `dims`,
/// `grid` (any affine: a tilted gantry's is a shear), with `noise` times
/// the contrast's scanner noise, and the ground truth on the same grid.
pub fn case_on(
    template: &Template,
    contrast: Contrast,
    pose: Affine,
    description: String,
    (dims, grid): ([usize; 3], Affine),
    noise: f32,
    rng: &mut Rng,
) -> Case {
    let image = acquire(template, contrast, pose, (dims, grid), noise, rng);
    let t = resample(&template.t, dims, grid, &pose, Interpolation::Linear, 0.0).unwrap();
    let face = resample(
        &template.face,
        dims,
        grid,
        &pose,
        Interpolation::Nearest,
        0.0,
    )
    .unwrap();
    Case {
        contrast,
        pose,
        description,
        image,
        head: t
            .data
            .iter()
            .map(|&v| v > template.head_threshold)
            .collect(),
        face: face.data.iter().map(|&v| v > 0.5).collect(),
        brain: resample(
            &template.brain,
            dims,
            grid,
            &pose,
            Interpolation::Nearest,
            0.0,
        )
        .unwrap()
        .data
        .iter()
        .map(|&v| v > 0.5)
        .collect(),
    }
}

impl Case {
    /// The slices `k0..k1` only: a field of view that stops short of the
    /// head (its ground truth cut the same way).
    pub fn crop(self, k0: usize, k1: usize) -> Case {
        let [nx, ny, _] = self.image.dims;
        let per = nx * ny;
        let mut affine_lps = self.image.affine_lps;
        let origin = apply(&affine_lps, [0.0, 0.0, k0 as f64]);
        for d in 0..3 {
            affine_lps[d][3] = origin[d];
        }
        let cut = |v: &[bool]| v[k0 * per..k1 * per].to_vec();
        Case {
            image: Volume {
                dims: [nx, ny, k1 - k0],
                data: self.image.data[k0 * per..k1 * per].to_vec(),
                affine_lps,
            },
            head: cut(&self.head),
            face: cut(&self.face),
            brain: cut(&self.brain),
            ..self
        }
    }

    /// The lowest and highest slice with `set` voxels of the head in them.
    pub fn extent(&self, set: &[bool]) -> Option<(usize, usize)> {
        let [nx, ny, nz] = self.image.dims;
        let per = nx * ny;
        let any = |k: usize| (k * per..(k + 1) * per).any(|n| set[n] && self.head[n]);
        Some(((0..nz).find(|&k| any(k))?, (0..nz).rfind(|&k| any(k))?))
    }
}

/// The grid of a head scan: `n`×`n` pixels of `mm` in each slice, and
/// `slices` slices `table_step` mm apart along the table (patient z),
/// centred on the template's head a little towards the face. With a
/// gantry tilt, the slices' columns turn by `tilt_deg` about the patient's
/// left-right axis while the slices still step along the table: the
/// voxel-to-patient affine is a shear.
pub fn scanner_grid(
    template: &Template,
    [n, slices]: [usize; 2],
    mm: f64,
    table_step: f64,
    tilt_deg: f64,
) -> ([usize; 3], Affine) {
    let (sin, cos) = tilt_deg.to_radians().sin_cos();
    let mut affine = dicom_anonymizer::deface::resample::IDENTITY;
    affine[0][0] = mm;
    affine[1][1] = mm * cos;
    affine[2][1] = mm * sin;
    affine[2][2] = table_step;
    let centre = [
        template.centre[0],
        template.centre[1] - 10.0,
        template.centre[2] - 15.0,
    ];
    // The middle voxel at the centre.
    let half = [n, n, slices].map(|d| (d as f64 - 1.0) / 2.0);
    for d in 0..3 {
        affine[d][3] = centre[d] - (0..3).map(|c| affine[d][c] * half[c]).sum::<f64>();
    }
    ([n, n, slices], affine)
}

/// An axial head volume as a scanner would give it: `n`×`n` pixels and
/// `slices` slices, all of `mm`, centred on the template's head, of
/// `contrast` under `pose`, with noise.
pub fn axial_volume(
    template: &Template,
    contrast: Contrast,
    pose: Affine,
    [n, slices]: [usize; 2],
    mm: f64,
    rng: &mut Rng,
) -> Volume {
    let grid = scanner_grid(template, [n, slices], mm, mm, 0.0);
    acquire(template, contrast, pose, grid, 1.0, rng)
}

/// The template under `pose` in `contrast` on the grid `dims`, `grid`,
/// with `noise` times the contrast's scanner noise (magnitude noise for
/// MR).
pub fn acquire(
    template: &Template,
    contrast: Contrast,
    pose: Affine,
    (dims, grid): ([usize; 3], Affine),
    noise: f32,
    rng: &mut Rng,
) -> Volume {
    let contrasted = Volume {
        data: template.t.data.iter().map(|&t| contrast.value(t)).collect(),
        ..template.t.clone()
    };
    let air = contrast.value(0.0);
    let mut image = resample(&contrasted, dims, grid, &pose, Interpolation::Linear, air).unwrap();
    let sigma = noise * contrast.noise();
    for v in image.data.iter_mut() {
        let noisy = *v + sigma * rng.normal() as f32;
        *v = match contrast.modality() {
            Modality::Mr => noisy.abs(),
            Modality::Ct => noisy,
        };
    }
    image
}

/// Who a written series belongs to (identifying values the output must not keep).
pub struct Identity<'a> {
    pub patient_name: &'a str,
    pub patient_id: &'a str,
    /// Makes the UIDs unique: `2.25.<uid>.…`.
    pub uid: u32,
    pub body_part: &'a str,
    pub description: &'a str,
}

/// Slice `k` of `volume` (slices along its third axis, with rows and
/// columns along its first two, as [`axial_volume`] and [`scanner_grid`]
/// make them) as a single-frame image of `modality`. CT is stored as
/// unsigned 12-bit with intercept −1024; MR as unsigned 16-bit.
fn slice_object(
    volume: &Volume,
    k: usize,
    modality: Modality,
    who: &Identity,
) -> dicom_object::InMemDicomObject {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    use dicom_object::InMemDicomObject;

    let [nx, ny, _] = volume.dims;
    let sp = volume.spacing();
    let a = &volume.affine_lps;
    let orientation = [0, 1]
        .iter()
        .flat_map(|&c| (0..3).map(move |r| format!("{:.6}", a[r][c] / sp[c])))
        .collect::<Vec<_>>()
        .join("\\");
    let t = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let origin = apply(&volume.affine_lps, [0.0, 0.0, k as f64]);
    let pixels: Vec<u16> = volume.data[k * nx * ny..(k + 1) * nx * ny]
        .iter()
        .map(|&v| match modality {
            Modality::Ct => (v + 1024.0).round().clamp(0.0, 4095.0) as u16,
            Modality::Mr => v.round().clamp(0.0, 65535.0) as u16,
        })
        .collect();
    let (sop_class, mod_text) = match modality {
        Modality::Ct => (uids::CT_IMAGE_STORAGE, "CT"),
        Modality::Mr => (uids::MR_IMAGE_STORAGE, "MR"),
    };
    let mut obj = InMemDicomObject::from_element_iter([
        t(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        t(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\AXIAL"),
        t(tags::SOP_CLASS_UID, VR::UI, sop_class),
        t(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            &format!("2.25.{}.{}", who.uid, k + 1),
        ),
        t(tags::STUDY_DATE, VR::DA, "20240229"),
        t(tags::MODALITY, VR::CS, mod_text),
        t(tags::INSTITUTION_NAME, VR::LO, "Phantom General Hospital"),
        t(tags::STUDY_DESCRIPTION, VR::LO, "Research head scan"),
        t(tags::SERIES_DESCRIPTION, VR::LO, who.description),
        t(tags::PATIENT_NAME, VR::PN, who.patient_name),
        t(tags::PATIENT_ID, VR::LO, who.patient_id),
        t(tags::PATIENT_BIRTH_DATE, VR::DA, "19700101"),
        t(tags::BODY_PART_EXAMINED, VR::CS, who.body_part),
        t(tags::SLICE_THICKNESS, VR::DS, &format!("{:.3}", sp[2])),
        t(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &format!("2.25.{}", who.uid),
        ),
        t(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            &format!("2.25.{}.0", who.uid),
        ),
        t(tags::SERIES_NUMBER, VR::IS, "3"),
        t(tags::INSTANCE_NUMBER, VR::IS, &(k + 1).to_string()),
        t(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            &format!("{:.4}\\{:.4}\\{:.4}", origin[0], origin[1], origin[2]),
        ),
        t(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, &orientation),
        t(
            tags::PIXEL_SPACING,
            VR::DS,
            &format!("{:.4}\\{:.4}", sp[1], sp[0]),
        ),
        us(tags::SAMPLES_PER_PIXEL, 1),
        t(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, ny as u16),
        us(tags::COLUMNS, nx as u16),
        us(tags::BITS_ALLOCATED, 16),
        us(
            tags::BITS_STORED,
            if modality == Modality::Ct { 12 } else { 16 },
        ),
        us(
            tags::HIGH_BIT,
            if modality == Modality::Ct { 11 } else { 15 },
        ),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(pixels.into())),
    ]);
    if modality == Modality::Ct {
        obj.put(t(tags::RESCALE_INTERCEPT, VR::DS, "-1024"));
        obj.put(t(tags::RESCALE_SLOPE, VR::DS, "1"));
    }
    obj
}

fn write_explicit(obj: dicom_object::InMemDicomObject, path: &std::path::Path) {
    use dicom_dictionary_std::uids;
    use dicom_object::meta::FileMetaTableBuilder;

    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .unwrap()
        .write_to_file(path)
        .unwrap();
}

/// Write `volume` as a single-frame series of `modality` under `dir`
/// (see [`slice_object`]), files `IM<k>.dcm` in scrambled order.
pub fn write_series(dir: &std::path::Path, volume: &Volume, modality: Modality, who: &Identity) {
    std::fs::create_dir_all(dir).unwrap();
    let nz = volume.dims[2];
    for k in 0..nz {
        let obj = slice_object(volume, k, modality, who);
        write_explicit(obj, &dir.join(format!("IM{}.dcm", (k * 37) % nz)));
    }
}

/// Write `volume` as one enhanced multi-frame image of `modality` at
/// `path`: the slices of [`write_series`] as its frames, in order, their
/// places in the functional groups.
pub fn write_enhanced(path: &std::path::Path, volume: &Volume, modality: Modality, who: &Identity) {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    use dicom_object::InMemDicomObject;

    let nz = volume.dims[2];
    let slices: Vec<InMemDicomObject> = (0..nz)
        .map(|k| slice_object(volume, k, modality, who))
        .collect();
    let item = |e: &DataElement<InMemDicomObject>| InMemDicomObject::from_element_iter([e.clone()]);
    let seq = |tag, items: Vec<InMemDicomObject>| {
        DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
    };
    let first = &slices[0];
    let mut shared = vec![
        seq(
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![item(first.get(tags::IMAGE_ORIENTATION_PATIENT).unwrap())],
        ),
        seq(
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![item(first.get(tags::PIXEL_SPACING).unwrap())],
        ),
    ];
    if modality == Modality::Ct {
        shared.push(seq(
            tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                first.get(tags::RESCALE_INTERCEPT).unwrap().clone(),
                first.get(tags::RESCALE_SLOPE).unwrap().clone(),
            ])],
        ));
    }
    let per_frame = slices
        .iter()
        .map(|s| {
            InMemDicomObject::from_element_iter([seq(
                tags::PLANE_POSITION_SEQUENCE,
                vec![item(s.get(tags::IMAGE_POSITION_PATIENT).unwrap())],
            )])
        })
        .collect();
    let pixels: Vec<u16> = slices
        .iter()
        .flat_map(|s| {
            s.get(tags::PIXEL_DATA)
                .unwrap()
                .to_multi_int::<u16>()
                .unwrap()
        })
        .collect();
    let mut obj = first.clone();
    for tag in [
        tags::IMAGE_POSITION_PATIENT,
        tags::IMAGE_ORIENTATION_PATIENT,
        tags::PIXEL_SPACING,
        tags::RESCALE_INTERCEPT,
        tags::RESCALE_SLOPE,
    ] {
        obj.remove_element(tag);
    }
    let t = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let sop_class = match modality {
        Modality::Ct => uids::ENHANCED_CT_IMAGE_STORAGE,
        Modality::Mr => uids::ENHANCED_MR_IMAGE_STORAGE,
    };
    obj.put(t(tags::SOP_CLASS_UID, VR::UI, sop_class));
    obj.put(t(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        &format!("2.25.{}.1000", who.uid),
    ));
    obj.put(t(tags::NUMBER_OF_FRAMES, VR::IS, &nz.to_string()));
    obj.put(seq(
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        vec![InMemDicomObject::from_element_iter(shared)],
    ));
    obj.put(seq(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, per_frame));
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(pixels.into()),
    ));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_explicit(obj, path);
}

/// Remove slices `ks` of a series [`write_series`] wrote under `dir`
/// (`nz` slices in all): the file of slice k is `IM<k·37 mod nz>.dcm`.
pub fn remove_slices(dir: &std::path::Path, nz: usize, ks: impl IntoIterator<Item = usize>) {
    for k in ks {
        std::fs::remove_file(dir.join(format!("IM{}.dcm", (k * 37) % nz))).unwrap();
    }
}

/// What a mask removes of a head: its face voxels, its other voxels and
/// its brain voxels, counted over the voxels of the head.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub face: usize,
    pub face_removed: usize,
    pub other: usize,
    pub other_removed: usize,
    pub brain: usize,
    pub brain_removed: usize,
}

impl Tally {
    /// Count voxel `n` of `case`, removed or not.
    pub fn add(&mut self, case: &Case, n: usize, removed: bool) {
        let removed = usize::from(removed);
        if case.brain[n] {
            self.brain += 1;
            self.brain_removed += removed;
        }
        if !case.head[n] {
            return;
        }
        if case.face[n] {
            self.face += 1;
            self.face_removed += removed;
        } else {
            self.other += 1;
            self.other_removed += removed;
        }
    }

    pub fn face_pct(&self) -> f64 {
        100.0 * self.face_removed as f64 / self.face.max(1) as f64
    }

    pub fn other_pct(&self) -> f64 {
        100.0 * self.other_removed as f64 / self.other.max(1) as f64
    }
}
