//! The template's head aligned to a volume's: a transform of patient space
//! (rotation, translation, a scale per axis) found by searching for the
//! one under which the template's head covers the volume's head and the
//! template's face covers where the model sees face.
//!
//! The model finds the face in any contrast but blurs its edges, and on a
//! head cut at the chin it can miss the eyes; the template's face mask,
//! once aligned, has the face's true shape, and where the head is cut the
//! rest of the head still places it. An alignment under which the two
//! heads do not overlap well is not used (see [`Alignment::trusted`]).
//!
//! Only what lies within the volume's field of view is compared, so a
//! field of view that stops short of the vertex or starts above the chin
//! aligns with the part of the template it holds.

use rayon::prelude::*;

use super::canonical::{self, GRID, SPACING};
use super::face_mask::{Probabilities, dilate};
use super::resample::{Affine, IDENTITY, apply, inverse, mul, pose, trilinear};
use super::template::Template;
use super::volume::Volume;

/// How well the aligned template must cover the volume's head (a Dice
/// coefficient of the two heads within the field of view) to be used.
pub const MIN_HEAD_DICE: f64 = 0.9;

/// The weight of the face's mismatch against the head's: the model's
/// probabilities are blurred over 8 mm, so they place the face roughly
/// and the head's outline does the rest (on the tuning poses, 0.25 left
/// 1.23 % of the face where 1 left 1.44 %).
const FACE_WEIGHT: f64 = 0.25;

/// The alignment found for one volume.
#[derive(Debug, Clone)]
pub struct Alignment {
    /// Patient LPS of the volume → patient LPS of the template.
    pub to_template: Affine,
    /// The Dice coefficient of the volume's head and the aligned
    /// template's, over the field of view, at 4 mm.
    pub head_dice: f64,
    /// The parameters found: rotation about x, y, z (degrees), translation
    /// (mm), log of the scale along x, y, z.
    pub parameters: [f64; 9],
}

impl Alignment {
    /// Whether the alignment is good enough to use.
    pub fn trusted(&self) -> bool {
        self.head_dice >= MIN_HEAD_DICE
    }
}

/// The points of the volume compared with the template: positions (LPS),
/// the share of head there and the model's probability of face.
struct Samples {
    points: Vec<[f64; 3]>,
    head: Vec<f64>,
    face: Vec<f64>,
    /// The grid's side, and each sample's index on it.
    grid: (usize, Vec<usize>),
}

/// One sample: its index on the grid, its place (LPS), the share of head
/// there and the model's probability of face.
type Sample = (usize, [f64; 3], f64, f64);

/// Sample the volume's head (`head`, on its grid) and the model's face
/// probabilities every `mm` over the model's input grid (the points of the
/// field of view only).
fn samples(volume: &Volume, head: &[bool], p: &Probabilities, mm: f64) -> Samples {
    let extent = GRID as f64 * SPACING;
    let n = (extent / mm).round() as usize;
    let grid = canonical::grid_affine(p.canonical_centre_ras, n, mm);
    let to_native = inverse(&volume.affine_lps).expect("a volume's affine is invertible");
    let pn = p.side;
    let to_p = inverse(&canonical::grid_affine(
        p.canonical_centre_ras,
        pn,
        p.spacing(),
    ))
    .expect("a grid affine is invertible");
    let dims = volume.dims;
    let last = dims.map(|d| (d.max(1) - 1) as f64);
    let plast = (pn - 1) as f64;
    let [nx, ny, _] = dims;
    let rows: Vec<Vec<Sample>> = (0..n)
        .into_par_iter()
        .map(|k| {
            let mut out = Vec::new();
            for j in 0..n {
                for i in 0..n {
                    let x = apply(&grid, [i as f64, j as f64, k as f64]);
                    let u = apply(&to_native, x);
                    if (0..3).any(|d| !(u[d] >= 0.0 && u[d] <= last[d])) {
                        continue;
                    }
                    let h = trilinear(dims, u, |a, b, c| {
                        f64::from(u8::from(head[a + nx * (b + ny * c)]))
                    });
                    let q = apply(&to_p, x).map(|v| v.clamp(0.0, plast));
                    let f = trilinear([pn; 3], q, |a, b, c| {
                        f64::from(p.values[a + pn * (b + pn * c)])
                    });
                    out.push((i + n * (j + n * k), x, h, f));
                }
            }
            out
        })
        .collect();
    let mut s = Samples {
        points: Vec::new(),
        head: Vec::new(),
        face: Vec::new(),
        grid: (n, Vec::new()),
    };
    for (at, x, h, f) in rows.into_iter().flatten() {
        s.grid.1.push(at);
        s.points.push(x);
        s.head.push(h);
        s.face.push(f);
    }
    s
}

impl Samples {
    /// The samples within `steps` grid steps of the head's outline (both
    /// sides of it), or where the model sees some face: the rest are deep
    /// inside or far outside the head, where a small motion of the
    /// template changes nothing.
    fn near_the_outline(&self, steps: usize) -> Samples {
        let (n, at) = &self.grid;
        let dims = [*n; 3];
        let mut inside = vec![false; n * n * n];
        let mut outside = vec![false; n * n * n];
        for (&a, &h) in at.iter().zip(&self.head) {
            if h >= 0.5 {
                inside[a] = true;
            } else {
                outside[a] = true;
            }
        }
        let near_inside = dilate(dims, &inside, [steps; 3]);
        let near_outside = dilate(dims, &outside, [steps; 3]);
        let keep: Vec<usize> = (0..at.len())
            .filter(|&i| (near_inside[at[i]] && near_outside[at[i]]) || self.face[i] > 0.02)
            .collect();
        Samples {
            points: keep.iter().map(|&i| self.points[i]).collect(),
            head: keep.iter().map(|&i| self.head[i]).collect(),
            face: keep.iter().map(|&i| self.face[i]).collect(),
            grid: (*n, keep.iter().map(|&i| at[i]).collect()),
        }
    }
}

/// The transform of parameters `t` (see [`Alignment::parameters`]) about
/// the volume's head centre `from` and the template's `to`.
fn transform(t: &[f64; 9], from: [f64; 3], to: [f64; 3]) -> Affine {
    // The rotation, each of its columns scaled by its axis's scale.
    let mut a = pose([t[0], t[1], t[2]], 1.0, [0.0; 3], [0.0; 3]);
    let s = [t[6].exp(), t[7].exp(), t[8].exp()];
    for row in a.iter_mut().take(3) {
        for (v, s) in row.iter_mut().zip(s) {
            *v *= s;
        }
    }
    let mut shift_from = IDENTITY;
    let mut shift_to = IDENTITY;
    for d in 0..3 {
        shift_from[d][3] = -from[d];
        shift_to[d][3] = to[d] + t[3 + d];
    }
    mul(&shift_to, &mul(&a, &shift_from))
}

/// The mismatch of `samples` and the template under `to_template`: the
/// mean over the samples of the squared differences of head share and of
/// face (model against template). Beyond the template's grid is air.
fn cost(samples: &Samples, template: &Template, to_voxels: &Affine, to_template: &Affine) -> f64 {
    let m = mul(to_voxels, to_template);
    let total: f64 = samples
        .points
        .par_iter()
        .zip(samples.head.par_iter().zip(samples.face.par_iter()))
        .with_min_len(4096)
        .map(|(&x, (&h, &f))| {
            let (th, tf) = template.sample(apply(&m, x)).unwrap_or((0.0, 0.0));
            (h - th) * (h - th) + FACE_WEIGHT * (f - tf) * (f - tf)
        })
        .sum();
    total / samples.points.len().max(1) as f64
}

/// The Dice coefficient of the two heads over `samples`.
fn head_dice(
    samples: &Samples,
    template: &Template,
    to_voxels: &Affine,
    to_template: &Affine,
) -> f64 {
    let m = mul(to_voxels, to_template);
    let (mut both, mut sum) = (0.0, 0.0);
    for (&x, &h) in samples.points.iter().zip(&samples.head) {
        let th = template.sample(apply(&m, x)).map_or(0.0, |s| s.0);
        both += h.min(th);
        sum += h + th;
    }
    if sum == 0.0 { 0.0 } else { 2.0 * both / sum }
}

/// Compass search: each parameter in turn moved by its step either way
/// while that lowers `f`; every step halved when none does, until the
/// steps are below `smallest`. Parameters whose step is 0 stay.
fn search(
    f: &impl Fn(&[f64; 9]) -> f64,
    start: [f64; 9],
    mut steps: [f64; 9],
    smallest: [f64; 9],
) -> ([f64; 9], f64) {
    let mut at = start;
    let mut best = f(&at);
    loop {
        let mut moved = false;
        for d in 0..9 {
            if steps[d] == 0.0 || steps[d] < smallest[d] {
                continue;
            }
            for sign in [1.0, -1.0] {
                let mut t = at;
                t[d] += sign * steps[d];
                let c = f(&t);
                if c < best {
                    best = c;
                    at = t;
                    moved = true;
                    break;
                }
            }
        }
        if !moved {
            for s in &mut steps {
                *s /= 2.0;
            }
            if steps
                .iter()
                .zip(&smallest)
                .all(|(&s, &m)| s == 0.0 || s < m)
            {
                return (at, best);
            }
        }
    }
}

/// Align `template` to `volume`, whose head silhouette is `head` and whose
/// model probabilities are `p`; `None` when the volume has no head.
pub fn align(
    volume: &Volume,
    head: &[bool],
    p: &Probabilities,
    template: &Template,
) -> Option<Alignment> {
    let to_voxels = template.to_voxels();
    let to = template.head_centre();
    // The volume's head centre (LPS): the canonical grid's.
    let c = p.canonical_centre_ras;
    let from = [-c[0], -c[1], c[2]];
    let coarse = samples(volume, head, p, 12.0);
    if coarse.head.iter().all(|&h| h == 0.0) {
        return None;
    }
    let cost_on =
        |s: &Samples, t: &[f64; 9]| cost(s, template, &to_voxels, &transform(t, from, to));
    // Uniform scale first (the last two scale parameters follow the first).
    let uniform = |t: &[f64; 9]| {
        let mut u = *t;
        u[7] = u[6];
        u[8] = u[6];
        u
    };
    let steps7 = [8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 0.08, 0.0, 0.0];
    let small7 = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.01, 1.0, 1.0];
    // A field of view cut at the chin or the vertex moves the centre
    // along S: start from several heights.
    let mut best: Option<([f64; 9], f64)> = None;
    for dz in [-30.0, -15.0, 0.0, 15.0, 30.0] {
        let mut start = [0.0; 9];
        start[5] = dz;
        let found = search(&|t| cost_on(&coarse, &uniform(t)), start, steps7, small7);
        if best.as_ref().is_none_or(|b| found.1 < b.1) {
            best = Some(found);
        }
    }
    let (t, _) = best?;
    let medium = samples(volume, head, p, 8.0);
    let (t, _) = search(
        &|t| cost_on(&medium, &uniform(t)),
        t,
        [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 0.02, 0.0, 0.0],
        [0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.004, 1.0, 1.0],
    );
    let t = uniform(&t);
    let fine = samples(volume, head, p, 4.0);
    let near = fine.near_the_outline(2);
    let (t, _) = search(
        &|t| cost_on(&near, t),
        t,
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.02, 0.02, 0.02],
        [
            0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.002, 0.002, 0.002,
        ],
    );
    let to_template = transform(&t, from, to);
    Some(Alignment {
        head_dice: head_dice(&fine, template, &to_voxels, &to_template),
        to_template,
        parameters: t,
    })
}

/// The template's face under `alignment`, on `volume`'s voxels: `true`
/// where at least half of the template there is face.
pub fn face_on(volume: &Volume, template: &Template, alignment: &Alignment) -> Vec<bool> {
    let m = mul(
        &template.to_voxels(),
        &mul(&alignment.to_template, &volume.affine_lps),
    );
    let [nx, ny, nz] = volume.dims;
    let mut out = vec![false; nx * ny * nz];
    out.par_chunks_mut((nx * ny).max(1))
        .enumerate()
        .for_each(|(k, slice)| {
            let step = [m[0][0], m[1][0], m[2][0]];
            for (j, row) in slice.chunks_mut(nx.max(1)).enumerate() {
                let start = apply(&m, [0.0, j as f64, k as f64]);
                for (i, v) in row.iter_mut().enumerate() {
                    let i = i as f64;
                    let u = [
                        start[0] + step[0] * i,
                        start[1] + step[1] * i,
                        start[2] + step[2] * i,
                    ];
                    *v = template.sample_face(u).is_some_and(|f| f >= 0.5);
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transform_of_zero_parameters_moves_one_centre_onto_the_other() {
        let a = transform(&[0.0; 9], [1.0, 2.0, 3.0], [10.0, 20.0, 30.0]);
        assert_eq!(apply(&a, [1.0, 2.0, 3.0]), [10.0, 20.0, 30.0]);
        assert_eq!(apply(&a, [2.0, 2.0, 3.0]), [11.0, 20.0, 30.0]);
    }

    /// The bundled template's head moved by `motion` (template LPS →
    /// volume LPS) onto a 2.5 mm grid cut to `slices` (from the bottom),
    /// with an ideal model: the template's face as the probabilities.
    fn moved_template(
        motion: &Affine,
        slices: std::ops::Range<usize>,
    ) -> (Volume, Vec<bool>, Probabilities) {
        let t = Template::bundled().unwrap();
        let back = inverse(motion).unwrap();
        let to_voxels = mul(&t.to_voxels(), &back);
        let mm = 2.5;
        let c = t.head_centre();
        let n = [80usize, 96, 96];
        let mut affine = IDENTITY;
        for d in 0..3 {
            affine[d][d] = mm;
            affine[d][3] = c[d] - mm * n[d] as f64 / 2.0;
        }
        affine[2][3] += mm * slices.start as f64;
        let dims = [n[0], n[1], slices.len()];
        let mut data = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let x = apply(&affine, [i as f64, j as f64, k as f64]);
                    data.push(t.sample(apply(&to_voxels, x)).map_or(0.0, |s| s.0) as f32);
                }
            }
        }
        let head: Vec<bool> = data.iter().map(|&v| v >= 0.5).collect();
        let volume = Volume {
            dims,
            data,
            affine_lps: affine,
        };
        // The head's centre, as the canonical grid finds it.
        let (mut sum, mut count) = ([0.0; 3], 0.0);
        for (idx, &h) in head.iter().enumerate() {
            if h {
                let x = apply(
                    &affine,
                    [
                        (idx % dims[0]) as f64,
                        ((idx / dims[0]) % dims[1]) as f64,
                        (idx / (dims[0] * dims[1])) as f64,
                    ],
                );
                for d in 0..3 {
                    sum[d] += x[d];
                }
                count += 1.0;
            }
        }
        let lps = sum.map(|s| s / count);
        let centre_ras = [-lps[0], -lps[1], lps[2]];
        let side = GRID / 2;
        let grid = canonical::grid_affine(centre_ras, side, 2.0 * SPACING);
        let mut values = Vec::new();
        for k in 0..side {
            for j in 0..side {
                for i in 0..side {
                    let x = apply(&grid, [i as f64, j as f64, k as f64]);
                    values.push(t.sample(apply(&to_voxels, x)).map_or(0.0, |s| s.1) as f32);
                }
            }
        }
        let p = Probabilities {
            canonical_centre_ras: centre_ras,
            side,
            values,
        };
        (volume, head, p)
    }

    /// How far (mm) `found` (volume → template) puts the points of the
    /// template's head, at most, from where `motion` says they are.
    fn largest_error(found: &Affine, motion: &Affine) -> f64 {
        let t = Template::bundled().unwrap();
        let c = t.head_centre();
        let mut worst: f64 = 0.0;
        for dx in [-60.0, 0.0, 60.0] {
            for dy in [-80.0, 0.0, 80.0] {
                for dz in [-60.0, 0.0, 60.0] {
                    let p = [c[0] + dx, c[1] + dy, c[2] + dz];
                    let q = apply(found, apply(motion, p));
                    let e = (0..3).map(|d| (q[d] - p[d]).powi(2)).sum::<f64>().sqrt();
                    worst = worst.max(e);
                }
            }
        }
        worst
    }

    #[test]
    fn a_moved_head_is_aligned_back() {
        let t = Template::bundled().unwrap();
        let motion = pose([12.0, -9.0, 15.0], 1.06, [8.0, -12.0, 5.0], t.head_centre());
        let (volume, head, p) = moved_template(&motion, 0..96);
        let a = align(&volume, &head, &p, t).unwrap();
        assert!(a.trusted(), "{a:?}");
        let e = largest_error(&a.to_template, &motion);
        assert!(e < 2.0, "off by up to {e:.2} mm: {a:?}");
    }

    #[test]
    fn a_head_cut_at_the_chin_is_aligned_by_what_remains() {
        let t = Template::bundled().unwrap();
        let motion = pose(
            [-15.0, 6.0, -8.0],
            0.95,
            [-10.0, 6.0, -14.0],
            t.head_centre(),
        );
        let (volume, head, p) = moved_template(&motion, 30..96);
        let a = align(&volume, &head, &p, t).unwrap();
        assert!(a.trusted(), "{a:?}");
        let e = largest_error(&a.to_template, &motion);
        assert!(e < 2.5, "off by up to {e:.2} mm: {a:?}");
    }

    #[test]
    fn compass_search_finds_a_quadratic_s_minimum() {
        let want = [3.0, -7.5, 12.25, 0.0, 1.0, -2.0, 0.1, -0.05, 0.02];
        let f = |t: &[f64; 9]| {
            t.iter()
                .zip(&want)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        };
        let (got, _) = search(&f, [0.0; 9], [4.0; 9], [1e-3; 9]);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 2e-3, "{got:?}");
        }
    }
}
