//! The face mask of a volume: the model's probabilities on its output
//! grid (8 or 4 mm) brought back to the volume's own voxels, thresholded,
//! and refined against the head surface.

use std::collections::VecDeque;

use rayon::prelude::*;

use super::canonical::{self, Canonical, GRID, Intensities, Modality, OUT_GRIDS};
use super::model::FaceMaskModel;
use super::register;
use super::resample::{Affine, apply, inverse, mul, trilinear};
use super::template::Template;
use super::volume::Volume;

/// How a volume's face mask is made: the aligned template's face, or the
/// model's probabilities made a mask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// The model's mask (used where the template does not align): voxels
    /// whose probability of being face is above this are removed.
    /// Well below one half on purpose: a face voxel left behind matters
    /// more than a voxel of cheek or forehead taken with it (chosen on
    /// poses the accuracy test does not use: `DEFACE_ACCURACY_SEED=777`
    /// gave 95.3 % of the face at 0.4, 96.7 % at 0.3, 97.9 % at 0.2, where
    /// the brain was touched in 5 cases instead of 2).
    pub threshold: f32,
    /// How far (mm) the mask grows into the head's outer layer.
    pub surface_margin_mm: f64,
    /// How deep (mm) the outer layer reaches below the skin.
    pub surface_depth_mm: f64,
    /// How the template's aligned face and the model's are combined.
    pub combine: Combine,
    /// How far (mm) the aligned template's face grows, every way (rounded
    /// to whole voxels, at least one): the template's face, placed at half
    /// a voxel's precision, misses its edge voxels. On 9 tuning poses
    /// (`DEFACE_ACCURACY_SEED=777`, 1.5 mm voxels) one voxel of growth
    /// removed 100.00 % of the face (worst 99.99 %) and 0.58 % of the rest
    /// of the head.
    pub template_margin_mm: f64,
}

/// Which face masks make the one removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// The model's alone.
    Model,
    /// The aligned template's where the alignment is trusted, else the
    /// model's.
    Template,
    /// Both, where the alignment is trusted.
    Union,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threshold: 0.3,
            surface_margin_mm: 2.0,
            surface_depth_mm: 12.0,
            combine: Combine::Template,
            template_margin_mm: 2.0,
        }
    }
}

/// A face mask on a volume's grid: `true` voxels are removed.
#[derive(Debug, Clone)]
pub struct FaceMask {
    pub dims: [usize; 3],
    pub removed: Vec<bool>,
    /// Where it came from.
    pub made_by: MadeBy,
}

/// Which face a mask is: the aligned template's or the model's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MadeBy {
    /// The model's (no alignment was asked for).
    Model,
    /// Read from a file (`deface --qa-only`).
    File,
    /// The template's face, aligned; the Dice coefficient of the heads.
    Template { head_dice: f64 },
    /// The template's face and the model's together.
    Both { head_dice: f64 },
    /// The model's, as the alignment was not good enough to use (the
    /// Dice coefficient of the heads, when one was found).
    ModelAsAlignmentFailed { head_dice: Option<f64> },
}

impl std::fmt::Display for MadeBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MadeBy::Model => write!(f, "the model's face mask"),
            MadeBy::File => write!(f, "a face mask read from a file"),
            MadeBy::Template { head_dice } => {
                write!(f, "the template's face, aligned (head Dice {head_dice:.3})")
            }
            MadeBy::Both { head_dice } => write!(
                f,
                "the template's face, aligned (head Dice {head_dice:.3}), and the model's"
            ),
            MadeBy::ModelAsAlignmentFailed { head_dice: Some(d) } => write!(
                f,
                "the model's face mask: the template did not align (head Dice {d:.3}, below {})",
                register::MIN_HEAD_DICE
            ),
            MadeBy::ModelAsAlignmentFailed { head_dice: None } => write!(
                f,
                "the model's face mask: the template did not align (no head in the field of view)"
            ),
        }
    }
}

impl FaceMask {
    pub fn count(&self) -> usize {
        self.removed.iter().filter(|&&r| r).count()
    }

    /// The mask as a volume of 0 and 1 on `volume`'s grid.
    pub fn as_volume(&self, volume: &Volume) -> Volume {
        Volume {
            dims: self.dims,
            data: self
                .removed
                .iter()
                .map(|&r| f32::from(u8::from(r)))
                .collect(),
            affine_lps: volume.affine_lps,
        }
    }
}

/// Why no mask could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskError {
    /// Nothing in the volume stands out from the background.
    NoHead,
    /// The model could not be run, or gave an unexpected shape.
    Model(String),
}

impl std::fmt::Display for MaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaskError::NoHead => write!(f, "no head in the volume (nothing above the background)"),
            MaskError::Model(m) => write!(f, "{m}"),
        }
    }
}

/// The face probabilities on the model's output grid, with its place.
pub struct Probabilities {
    pub canonical_centre_ras: [f64; 3],
    /// Voxels per side of the output grid (one of [`OUT_GRIDS`]): it
    /// covers the input grid's extent.
    pub side: usize,
    /// `side³`, R fastest.
    pub values: Vec<f32>,
}

impl Probabilities {
    /// The output grid's voxel size, mm.
    pub fn spacing(&self) -> f64 {
        canonical::SPACING * GRID as f64 / self.side as f64
    }
}

/// Run the model on `volume` (whose `intensities` they are).
pub fn probabilities(
    volume: &Volume,
    intensities: &Intensities,
    model: &FaceMaskModel,
) -> Result<Probabilities, MaskError> {
    let Canonical { centre_ras, input } =
        canonical::canonical_input(volume, intensities).ok_or(MaskError::NoHead)?;
    let (shape, values) = model
        .run([1, 2, GRID, GRID, GRID], input)
        .map_err(MaskError::Model)?;
    let side = match shape[..] {
        [1, 1, d, h, w] if d == h && h == w && OUT_GRIDS.contains(&d) => d,
        _ => {
            let [a, b] = OUT_GRIDS;
            return Err(MaskError::Model(format!(
                "face-mask model: output shape {shape:?}, expected [1, 1, n, n, n] with n {a} or {b}"
            )));
        }
    };
    Ok(Probabilities {
        canonical_centre_ras: centre_ras,
        side,
        values,
    })
}

/// The face mask of `volume`.
pub fn face_mask(
    volume: &Volume,
    modality: Modality,
    model: &FaceMaskModel,
    settings: &Settings,
) -> Result<FaceMask, MaskError> {
    let intensities = Intensities::of(volume, modality);
    let p = probabilities(volume, &intensities, model)?;
    let head = head_silhouette(volume.dims, &intensities);
    // The intensities are not needed any more: let them go before the
    // masks of the refinement are made.
    drop(intensities);
    // The model's mask, made only where it is used.
    let model_mask = || {
        let coarse = threshold_on_grid(volume, &p, settings.threshold);
        refine(volume, &head, coarse, settings)
    };
    if settings.combine == Combine::Model {
        return Ok(model_mask());
    }
    let template = Template::bundled().map_err(MaskError::Model)?;
    let alignment = register::align(volume, &head, &p, template);
    let head_dice = alignment.as_ref().map(|a| a.head_dice);
    let Some(alignment) = alignment.filter(|a| a.trusted()) else {
        let mut mask = model_mask();
        mask.made_by = MadeBy::ModelAsAlignmentFailed { head_dice };
        return Ok(mask);
    };
    let head_dice = alignment.head_dice;
    let spacing = volume.spacing();
    // Whole voxels, at least one along each axis (a thick slice's edge is
    // as uncertain as half of it).
    let radius = spacing.map(|s| {
        let m = settings.template_margin_mm;
        if m > 0.0 {
            (m / s).round().max(1.0) as usize
        } else {
            0
        }
    });
    let face = dilate(
        volume.dims,
        &register::face_on(volume, template, &alignment),
        radius,
    );
    Ok(match settings.combine {
        Combine::Union => {
            let mut mask = model_mask();
            for (r, f) in mask.removed.iter_mut().zip(face) {
                *r |= f;
            }
            mask.made_by = MadeBy::Both { head_dice };
            mask
        }
        _ => FaceMask {
            dims: volume.dims,
            removed: face,
            made_by: MadeBy::Template { head_dice },
        },
    })
}

/// The probabilities sampled (trilinearly) at each voxel of `volume`, and
/// compared with `threshold`. Beyond the model's grid, the nearest edge
/// value holds: a face that reaches the edge goes on beyond it.
pub fn threshold_on_grid(volume: &Volume, p: &Probabilities, threshold: f32) -> FaceMask {
    let n = p.side;
    let grid = canonical::grid_affine(p.canonical_centre_ras, n, p.spacing());
    let to_grid: Affine = mul(
        &inverse(&grid).expect("a grid affine is invertible"),
        &volume.affine_lps,
    );
    let [nx, ny, nz] = volume.dims;
    let last = (n - 1) as f64;
    let g = |i: usize, j: usize, k: usize| f64::from(p.values[i + n * (j + n * k)]);
    let threshold = f64::from(threshold);
    let bounds = cell_bounds(n, &p.values);
    let cells = n - 1;
    let mut removed = vec![false; nx * ny * nz];
    // Slice by slice, in parallel: each voxel's value depends on its
    // position alone.
    removed
        .par_chunks_mut((nx * ny).max(1))
        .enumerate()
        .for_each(|(k, slice)| {
            let step = [to_grid[0][0], to_grid[1][0], to_grid[2][0]];
            for (j, row) in slice.chunks_mut(nx.max(1)).enumerate() {
                let start = apply(&to_grid, [0.0, j as f64, k as f64]);
                for (i, voxel) in row.iter_mut().enumerate() {
                    let u = [0, 1, 2].map(|d| (start[d] + step[d] * i as f64).clamp(0.0, last));
                    // The cell's corners decide most voxels: an
                    // interpolated value lies between the lowest and the
                    // highest of them (within rounding, hence the slack).
                    let c = u.map(|x| (x as usize).min(cells - 1));
                    let (lo, hi) = bounds[c[0] + cells * (c[1] + cells * c[2])];
                    *voxel = if hi < threshold - BOUND_SLACK {
                        false
                    } else if lo > threshold + BOUND_SLACK {
                        true
                    } else {
                        trilinear([n; 3], u, g) > threshold
                    };
                }
            }
        });
    FaceMask {
        dims: volume.dims,
        removed,
        made_by: MadeBy::Model,
    }
}

/// More than the rounding error of a trilinear interpolation of values
/// within [0, 1].
const BOUND_SLACK: f64 = 1e-9;

/// The lowest and highest of the eight corners of each cell of the model's
/// output grid of `n` voxels a side (`n − 1` cells a side, R fastest).
fn cell_bounds(n: usize, values: &[f32]) -> Vec<(f64, f64)> {
    let cells = n - 1;
    let mut bounds = Vec::with_capacity(cells * cells * cells);
    for k in 0..cells {
        for j in 0..cells {
            for i in 0..cells {
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for (di, dj, dk) in (0..8).map(|c| (c & 1, c >> 1 & 1, c >> 2)) {
                    let v = f64::from(values[i + di + n * (j + dj + n * (k + dk))]);
                    lo = lo.min(v);
                    hi = hi.max(v);
                    if v.is_nan() {
                        // Undecided: the interpolation says.
                        (lo, hi) = (f64::NEG_INFINITY, f64::INFINITY);
                        break;
                    }
                }
                bounds.push((lo, hi));
            }
        }
    }
    bounds
}

/// Keep the largest connected piece of the mask (stray islands elsewhere in
/// the head are errors, not faces), then grow it by `surface_margin_mm`
/// within the head's outer `surface_depth_mm`, where the features that make
/// a face recognisable are: the skin and what lies just under it. `head`
/// is the volume's [`head_silhouette`].
pub fn refine(volume: &Volume, head: &[bool], mask: FaceMask, settings: &Settings) -> FaceMask {
    let dims = volume.dims;
    let mut removed = largest_component(dims, &mask.removed);
    let made_by = mask.made_by;
    drop(mask);
    let spacing = volume.spacing();
    let radius = |mm: f64| spacing.map(|s| (mm / s).round().max(0.0) as usize);
    let deep_outside = {
        let not_head: Vec<bool> = head.iter().map(|&h| !h).collect();
        dilate(dims, &not_head, radius(settings.surface_depth_mm))
    };
    let grown = dilate(dims, &removed, radius(settings.surface_margin_mm));
    for n in 0..removed.len() {
        if grown[n] && head[n] && deep_outside[n] {
            removed[n] = true;
        }
    }
    FaceMask {
        dims,
        removed,
        made_by,
    }
}

/// The head as a solid: voxels brighter than the head threshold, with every
/// cavity the outside air cannot reach filled in. `dims` are the volume's
/// whose `intensities` they are.
pub fn head_silhouette(dims: [usize; 3], intensities: &Intensities) -> Vec<bool> {
    let threshold = intensities.head_threshold();
    let bright: Vec<bool> = intensities.values.iter().map(|&v| v > threshold).collect();
    // Flood the dark voxels from the faces of the box.
    let [nx, ny, nz] = dims;
    let mut outside = vec![false; bright.len()];
    let mut queue = VecDeque::new();
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let border =
                    i == 0 || j == 0 || k == 0 || i == nx - 1 || j == ny - 1 || k == nz - 1;
                let n = i + nx * (j + ny * k);
                if border && !bright[n] {
                    outside[n] = true;
                    queue.push_back(n);
                }
            }
        }
    }
    flood(dims, &mut queue, |n| !bright[n], &mut outside);
    drop(bright);
    // What the outside air does not reach is head.
    for o in &mut outside {
        *o = !*o;
    }
    outside
}

/// Breadth-first flood over 6-neighbours: visit every voxel `open` lets
/// through, marking `seen`; the voxels taken off the queue.
fn flood(
    [nx, ny, nz]: [usize; 3],
    queue: &mut VecDeque<usize>,
    open: impl Fn(usize) -> bool,
    seen: &mut [bool],
) -> usize {
    let mut taken = 0;
    while let Some(n) = queue.pop_front() {
        taken += 1;
        let (i, j, k) = (n % nx, (n / nx) % ny, n / (nx * ny));
        let mut visit = |m: usize| {
            if !seen[m] && open(m) {
                seen[m] = true;
                queue.push_back(m);
            }
        };
        if i > 0 {
            visit(n - 1);
        }
        if i + 1 < nx {
            visit(n + 1);
        }
        if j > 0 {
            visit(n - nx);
        }
        if j + 1 < ny {
            visit(n + nx);
        }
        if k > 0 {
            visit(n - nx * ny);
        }
        if k + 1 < nz {
            visit(n + nx * ny);
        }
    }
    taken
}

/// The largest 6-connected piece of `mask` (the first found of the
/// largest, in memory order). Each piece is flooded once to measure it,
/// the largest once more to mark it: a flag per voxel, not a label.
pub fn largest_component(dims: [usize; 3], mask: &[bool]) -> Vec<bool> {
    let mut seen = vec![false; mask.len()];
    let mut queue = VecDeque::new();
    let mut best: Option<(usize, usize)> = None;
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        queue.push_back(start);
        let size = flood(dims, &mut queue, |n| mask[n], &mut seen);
        if best.is_none_or(|(_, b)| size > b) {
            best = Some((start, size));
        }
    }
    let mut piece = vec![false; mask.len()];
    if let Some((start, _)) = best {
        drop(seen);
        piece[start] = true;
        queue.push_back(start);
        flood(dims, &mut queue, |n| mask[n], &mut piece);
    }
    piece
}

/// `mask` grown by a box of `radius` voxels along each axis.
pub fn dilate(dims: [usize; 3], mask: &[bool], radius: [usize; 3]) -> Vec<bool> {
    let mut out = mask.to_vec();
    for (axis, &r) in radius.iter().enumerate() {
        if r > 0 {
            out = dilate_axis(dims, &out, axis, r);
        }
    }
    out
}

/// `mask` grown by `r` voxels both ways along `axis`. Every pass reads and
/// writes whole rows in memory order (a window count per row position,
/// slid along the axis), never strided lines: the volume's slices are
/// large, and a column walk through them misses the cache at every step.
fn dilate_axis(dims: [usize; 3], mask: &[bool], axis: usize, r: usize) -> Vec<bool> {
    let [nx, ny, nz] = dims;
    let (len, stride) = match axis {
        0 => (nx, 1),
        1 => (ny, nx),
        _ => (nz, nx * ny),
    };
    let block = len * stride;
    let mut out = vec![false; mask.len()];
    if block == 0 {
        return out;
    }
    let mut count = vec![0u32; stride];
    for (src, dst) in mask.chunks(block).zip(out.chunks_mut(block)) {
        let row = |t: usize| &src[t * stride..(t + 1) * stride];
        count.fill(0);
        for t in 0..=r.min(len - 1) {
            for (c, &m) in count.iter_mut().zip(row(t)) {
                *c += u32::from(m);
            }
        }
        for t in 0..len {
            for (o, &c) in dst[t * stride..(t + 1) * stride].iter_mut().zip(&count) {
                *o = c > 0;
            }
            if t + r + 1 < len {
                for (c, &m) in count.iter_mut().zip(row(t + r + 1)) {
                    *c += u32::from(m);
                }
            }
            if t >= r {
                for (c, &m) in count.iter_mut().zip(row(t - r)) {
                    *c -= u32::from(m);
                }
            }
        }
    }
    out
}

/// `volume` with the masked voxels set to the background.
pub fn apply_mask(volume: &Volume, mask: &FaceMask, background: f32) -> Volume {
    let data = volume
        .data
        .iter()
        .zip(&mask.removed)
        .map(|(&v, &r)| if r { background } else { v })
        .collect();
    Volume {
        dims: volume.dims,
        data,
        affine_lps: volume.affine_lps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dilation_grows_by_the_radius_along_each_axis() {
        let dims = [7, 5, 3];
        let at = |i: usize, j: usize, k: usize| i + 7 * (j + 5 * k);
        let mut m = vec![false; 105];
        m[at(3, 2, 1)] = true;
        let d = dilate(dims, &m, [2, 1, 0]);
        let count = d.iter().filter(|&&x| x).count();
        assert_eq!(count, 5 * 3);
        assert!(d[at(1, 1, 1)] && d[at(5, 3, 1)] && !d[at(0, 2, 1)] && !d[at(3, 2, 0)]);
    }

    #[test]
    fn dilation_equals_the_box_it_defines() {
        // Pseudo-random masks against the definition: a voxel is set when
        // any voxel within the radius along each axis is.
        let dims = [9, 6, 5];
        let [nx, ny, nz] = dims;
        let mut seed = 7u64;
        for radius in [[0, 0, 0], [1, 0, 2], [3, 2, 1], [9, 7, 6]] {
            let mask: Vec<bool> = (0..nx * ny * nz)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 33).is_multiple_of(11)
                })
                .collect();
            let got = dilate(dims, &mask, radius);
            for k in 0..nz {
                for j in 0..ny {
                    for i in 0..nx {
                        let near =
                            |c: usize, r: usize, n: usize| c.saturating_sub(r)..(c + r + 1).min(n);
                        let want = near(k, radius[2], nz).any(|kk| {
                            near(j, radius[1], ny).any(|jj| {
                                near(i, radius[0], nx).any(|ii| mask[ii + nx * (jj + ny * kk)])
                            })
                        });
                        assert_eq!(
                            got[i + nx * (j + ny * k)],
                            want,
                            "{radius:?} at {i},{j},{k}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn thresholding_by_cell_bounds_is_thresholding_every_voxel() {
        // Smooth random probabilities (a face-like blob plus noise) on the
        // model's grid, sampled on a volume tilted against it.
        let mut seed = 11u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in OUT_GRIDS {
            thresholding_by_cell_bounds_on_a_grid_of(n, &mut next);
        }
    }

    fn thresholding_by_cell_bounds_on_a_grid_of(n: usize, next: &mut impl FnMut() -> f64) {
        // Grid units: the same blob whatever the side.
        let f = n as f64 / 32.0;
        let values: Vec<f32> = (0..n * n * n)
            .map(|x| {
                let (i, j, k) = (x % n, x / n % n, x / (n * n));
                let d = ((i as f64 - 16.0 * f).powi(2)
                    + (j as f64 - 20.0 * f).powi(2)
                    + (k as f64 - 12.0 * f).powi(2))
                .sqrt();
                ((1.0 - d / (12.0 * f)).clamp(0.0, 1.0) + 0.05 * next()) as f32
            })
            .collect();
        let p = Probabilities {
            canonical_centre_ras: [3.0, -5.0, 7.0],
            side: n,
            values,
        };
        // 2.1 mm voxels, turned, centred on the grid's centre (LPS).
        let mut affine = crate::deface::resample::pose([7.0, -4.0, 11.0], 2.1, [0.0; 3], [0.0; 3]);
        let middle = apply(&affine, [69.5, 64.5, 59.5]);
        for (d, centre) in [-3.0, 5.0, 7.0].into_iter().enumerate() {
            affine[d][3] += centre - middle[d];
        }
        let volume = Volume {
            dims: [140, 130, 120],
            data: vec![0.0; 140 * 130 * 120],
            affine_lps: affine,
        };
        for threshold in [0.1f32, 0.5, 0.8] {
            let got = threshold_on_grid(&volume, &p, threshold);
            let grid = canonical::grid_affine(p.canonical_centre_ras, n, p.spacing());
            let to_grid = mul(&inverse(&grid).unwrap(), &volume.affine_lps);
            let last = (n - 1) as f64;
            let g = |i: usize, j: usize, k: usize| f64::from(p.values[i + n * (j + n * k)]);
            let [nx, ny, _] = volume.dims;
            let mut set = 0;
            for (x, &r) in got.removed.iter().enumerate() {
                let v = [x % nx, x / nx % ny, x / (nx * ny)].map(|c| c as f64);
                let u = apply(&to_grid, v).map(|c| c.clamp(0.0, last));
                let want = trilinear([n; 3], u, g) > f64::from(threshold);
                assert_eq!(r, want, "voxel {x}, threshold {threshold}");
                set += usize::from(r);
            }
            assert!(
                set > 1000 && set < got.removed.len() - 1000,
                "{set} at {threshold}, side {n}"
            );
        }
    }

    #[test]
    fn the_largest_component_wins() {
        let dims = [6, 1, 1];
        let m = [true, false, true, true, true, false];
        assert_eq!(
            largest_component(dims, &m),
            vec![false, false, true, true, true, false]
        );
    }

    #[test]
    fn the_largest_component_of_random_masks_is_the_labelled_one() {
        // Against labels: every piece labelled, the first of the largest
        // kept.
        let dims = [13, 11, 9];
        let [nx, ny, nz] = dims;
        let mut seed = 5u64;
        for density in [3u64, 5, 8] {
            let mask: Vec<bool> = (0..nx * ny * nz)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 33) % 10 < density
                })
                .collect();
            let mut label = vec![0usize; mask.len()];
            let mut sizes = vec![0usize];
            for start in 0..mask.len() {
                if !mask[start] || label[start] != 0 {
                    continue;
                }
                let id = sizes.len();
                sizes.push(0);
                let mut stack = vec![start];
                label[start] = id;
                while let Some(n) = stack.pop() {
                    sizes[id] += 1;
                    let (i, j, k) = (n % nx, (n / nx) % ny, n / (nx * ny));
                    let mut near = Vec::new();
                    if i > 0 {
                        near.push(n - 1)
                    }
                    if i + 1 < nx {
                        near.push(n + 1)
                    }
                    if j > 0 {
                        near.push(n - nx)
                    }
                    if j + 1 < ny {
                        near.push(n + nx)
                    }
                    if k > 0 {
                        near.push(n - nx * ny)
                    }
                    if k + 1 < nz {
                        near.push(n + nx * ny)
                    }
                    for m in near {
                        if mask[m] && label[m] == 0 {
                            label[m] = id;
                            stack.push(m);
                        }
                    }
                }
            }
            let largest =
                (1..sizes.len()).fold(0, |b, id| if sizes[id] > sizes[b] { id } else { b });
            let want: Vec<bool> = label.iter().map(|&l| l != 0 && l == largest).collect();
            assert_eq!(largest_component(dims, &mask), want, "density {density}");
        }
    }

    #[test]
    fn cavities_are_part_of_the_head() {
        // A bright shell 7³ with a dark core, in a dark 11³ box.
        let mut data = vec![0.0f32; 11 * 11 * 11];
        for k in 2..9 {
            for j in 2..9 {
                for i in 2..9 {
                    let shell = [i, j, k].iter().any(|&c| c == 2 || c == 8);
                    data[i + 11 * (j + 11 * k)] = if shell { 100.0 } else { 0.0 };
                }
            }
        }
        let v = Volume {
            dims: [11; 3],
            data,
            affine_lps: super::super::resample::IDENTITY,
        };
        let head = head_silhouette(v.dims, &Intensities::of(&v, Modality::Mr));
        assert_eq!(head.iter().filter(|&&h| h).count(), 7 * 7 * 7);
        assert!(head[5 + 11 * (5 + 11 * 5)]);
    }
}
