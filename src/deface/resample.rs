//! Volumes moved between grids: 4×4 affine arithmetic, and resampling a
//! volume onto another grid through a rigid or affine motion in patient
//! space (trilinear for images, nearest neighbour for masks).

use super::volume::Volume;

pub type Affine = [[f64; 4]; 4];

pub const IDENTITY: Affine = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.0, 0.0, 0.0, 1.0],
];

pub fn mul(a: &Affine, b: &Affine) -> Affine {
    let mut out = [[0.0; 4]; 4];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

#[inline]
pub fn apply(a: &Affine, p: [f64; 3]) -> [f64; 3] {
    // Written out: `array::map` does not always inline in hot loops.
    let row = |r: &[f64; 4]| r[0] * p[0] + r[1] * p[1] + r[2] * p[2] + r[3];
    [row(&a[0]), row(&a[1]), row(&a[2])]
}

/// `f64::round` (halves away from zero, the sign of zero kept) without a
/// call into libm, which `round` is on x86-64 without SSE4.1: the mapping
/// from one grid to another rounds once per voxel.
#[inline]
pub fn round(x: f64) -> f64 {
    // Below 2^52 in magnitude the conversions are exact; beyond, every
    // value is whole already. NaN and infinities go to `f64::round` too.
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = x as i64 as f64;
        let r = if x - t >= 0.5 {
            t + 1.0
        } else if x - t <= -0.5 {
            t - 1.0
        } else {
            t
        };
        r.copysign(x)
    } else {
        x.round()
    }
}

/// The inverse of an affine (its last row `0 0 0 1`); `None` when singular.
#[allow(clippy::needless_range_loop)] // matrix indices read best as indices
pub fn inverse(a: &Affine) -> Option<Affine> {
    let m = |r: usize, c: usize| a[r][c];
    let det = m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1))
        - m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0))
        + m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
    if det.abs() < 1e-12 {
        return None;
    }
    let mut inv = [[0.0; 4]; 4];
    for r in 0..3 {
        for c in 0..3 {
            let (r1, r2) = ((c + 1) % 3, (c + 2) % 3);
            let (c1, c2) = ((r + 1) % 3, (r + 2) % 3);
            inv[r][c] = (m(r1, c1) * m(r2, c2) - m(r1, c2) * m(r2, c1)) / det;
        }
    }
    let t = [a[0][3], a[1][3], a[2][3]];
    for r in 0..3 {
        inv[r][3] = -(inv[r][0] * t[0] + inv[r][1] * t[1] + inv[r][2] * t[2]);
    }
    inv[3] = [0.0, 0.0, 0.0, 1.0];
    Some(inv)
}

/// How values between voxels are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    Linear,
    Nearest,
}

/// `source` seen on a grid of `dims` and `affine_lps`, where the content
/// has moved by `motion` (patient space, mm: a point `p` of the source
/// appears at `motion · p`). Outside the source, `background`.
pub fn resample(
    source: &Volume,
    dims: [usize; 3],
    affine_lps: Affine,
    motion: &Affine,
    interpolation: Interpolation,
    background: f32,
) -> Option<Volume> {
    resample_values(
        (&source.data, source.dims, &source.affine_lps),
        dims,
        affine_lps,
        motion,
        interpolation,
        background,
    )
}

/// [`resample`] from values laid out as a volume's are (`data` on a grid
/// of `source_dims` placed by `source_affine`), without a volume of them.
pub fn resample_values(
    (data, source_dims, source_affine): (&[f32], [usize; 3], &Affine),
    dims: [usize; 3],
    affine_lps: Affine,
    motion: &Affine,
    interpolation: Interpolation,
    background: f32,
) -> Option<Volume> {
    let source = Source {
        data,
        dims: source_dims,
    };
    // target voxel → target world → source world → source voxel
    let to_source = mul(
        &inverse(source_affine)?,
        &mul(&inverse(motion)?, &affine_lps),
    );
    let [sx, sy, sz] = source_dims;
    let mut out = Vec::with_capacity(dims[0] * dims[1] * dims[2]);
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            // One row: the source point moves by a fixed step per voxel.
            let start = apply(&to_source, [0.0, j as f64, k as f64]);
            let step = [to_source[0][0], to_source[1][0], to_source[2][0]];
            for i in 0..dims[0] {
                let u = [
                    start[0] + step[0] * i as f64,
                    start[1] + step[1] * i as f64,
                    start[2] + step[2] * i as f64,
                ];
                out.push(sample(&source, [sx, sy, sz], u, interpolation, background));
            }
        }
    }
    Some(Volume {
        dims,
        data: out,
        affine_lps,
    })
}

/// The values a volume is sampled from.
struct Source<'a> {
    data: &'a [f32],
    dims: [usize; 3],
}

impl Source<'_> {
    fn get(&self, i: usize, j: usize, k: usize) -> f32 {
        self.data[i + self.dims[0] * (j + self.dims[1] * k)]
    }
}

fn sample(
    v: &Source,
    [sx, sy, sz]: [usize; 3],
    u: [f64; 3],
    interpolation: Interpolation,
    background: f32,
) -> f32 {
    // Points a rounding error outside the grid are on its edge.
    const EDGE: f64 = 1e-6;
    let outside = u
        .iter()
        .zip([sx, sy, sz])
        .any(|(&x, n)| x < -EDGE || x > (n - 1) as f64 + EDGE);
    if outside {
        return background;
    }
    let u = [
        u[0].clamp(0.0, (sx - 1) as f64),
        u[1].clamp(0.0, (sy - 1) as f64),
        u[2].clamp(0.0, (sz - 1) as f64),
    ];
    match interpolation {
        Interpolation::Nearest => {
            let r = u.map(round);
            if r.iter()
                .zip([sx, sy, sz])
                .any(|(&x, n)| x < 0.0 || x > (n - 1) as f64)
            {
                return background;
            }
            v.get(r[0] as usize, r[1] as usize, r[2] as usize)
        }
        Interpolation::Linear => {
            if u.iter()
                .zip([sx, sy, sz])
                .any(|(&x, n)| x < 0.0 || x > (n - 1) as f64)
            {
                return background;
            }
            trilinear([sx, sy, sz], u, |i, j, k| f64::from(v.get(i, j, k))) as f32
        }
    }
}

/// The trilinear interpolation at `u` (voxel coordinates within
/// `[0, n − 1]` on each axis of a grid of `dims`) of the values `g` gives.
pub fn trilinear(dims: [usize; 3], u: [f64; 3], g: impl Fn(usize, usize, usize) -> f64) -> f64 {
    // `u` is not negative: truncation is the floor, without a libm call.
    let f = u.map(|x| x as usize as f64);
    let (i0, j0, k0) = (f[0] as usize, f[1] as usize, f[2] as usize);
    let (i1, j1, k1) = (
        (i0 + 1).min(dims[0] - 1),
        (j0 + 1).min(dims[1] - 1),
        (k0 + 1).min(dims[2] - 1),
    );
    let (dx, dy, dz) = (u[0] - f[0], u[1] - f[1], u[2] - f[2]);
    let c00 = g(i0, j0, k0) * (1.0 - dx) + g(i1, j0, k0) * dx;
    let c10 = g(i0, j1, k0) * (1.0 - dx) + g(i1, j1, k0) * dx;
    let c01 = g(i0, j0, k1) * (1.0 - dx) + g(i1, j0, k1) * dx;
    let c11 = g(i0, j1, k1) * (1.0 - dx) + g(i1, j1, k1) * dx;
    let c0 = c00 * (1.0 - dy) + c10 * dy;
    let c1 = c01 * (1.0 - dy) + c11 * dy;
    c0 * (1.0 - dz) + c1 * dz
}

/// A rotation (degrees, about x, y then z), scale and translation (mm),
/// about `center`: a head moved as a pose test moves it.
pub fn pose(rotation_deg: [f64; 3], scale: f64, translation: [f64; 3], center: [f64; 3]) -> Affine {
    let [ax, ay, az] = rotation_deg.map(f64::to_radians);
    let rx = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, ax.cos(), -ax.sin(), 0.0],
        [0.0, ax.sin(), ax.cos(), 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let ry = [
        [ay.cos(), 0.0, ay.sin(), 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [-ay.sin(), 0.0, ay.cos(), 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let rz = [
        [az.cos(), -az.sin(), 0.0, 0.0],
        [az.sin(), az.cos(), 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let mut s = IDENTITY;
    for (d, row) in s.iter_mut().enumerate().take(3) {
        row[d] = scale;
    }
    let shift = |t: [f64; 3]| {
        let mut m = IDENTITY;
        for d in 0..3 {
            m[d][3] = t[d];
        }
        m
    };
    let about = mul(&rz, &mul(&ry, &mul(&rx, &s)));
    mul(
        &shift([
            center[0] + translation[0],
            center[1] + translation[1],
            center[2] + translation[2],
        ]),
        &mul(&about, &shift(center.map(|c| -c))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_is_f64_round() {
        let mut seed = 5u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            seed
        };
        let special = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_497.0,
            1e300,
            -1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let random = (0..100_000).map(|_| {
            let x = next();
            match x % 3 {
                0 => f64::from_bits(next()),
                1 => (x >> 20) as f64 / 64.0 - 1e4,
                _ => (x >> 11) as f64 * 1e-9 - 4e6,
            }
        });
        for x in special.into_iter().chain(random) {
            if x.is_nan() {
                assert!(round(x).is_nan());
            } else {
                assert_eq!(round(x).to_bits(), x.round().to_bits(), "{x:e}");
            }
        }
    }

    #[test]
    fn content_moves_with_the_motion() {
        // A 20³ grid of 2 mm voxels with one bright voxel at (5, 6, 7).
        let mut affine = IDENTITY;
        for (d, row) in affine.iter_mut().enumerate().take(3) {
            row[d] = 2.0;
            row[3] = -10.0;
        }
        let mut v = Volume {
            dims: [20, 20, 20],
            data: vec![0.0; 8000],
            affine_lps: affine,
        };
        let n = v.index(5, 6, 7);
        v.data[n] = 1.0;
        // Move the content 6 mm along +x and 4 mm along -z.
        let motion = pose([0.0; 3], 1.0, [6.0, 0.0, -4.0], [0.0; 3]);
        let moved = resample(&v, v.dims, affine, &motion, Interpolation::Nearest, 0.0).unwrap();
        let at = moved.data.iter().position(|&x| x == 1.0).unwrap();
        assert_eq!(at, moved.index(8, 6, 5));
        assert_eq!(moved.data.iter().filter(|&&x| x == 1.0).count(), 1);
    }

    #[test]
    fn inverse_undoes_a_pose() {
        let p = pose([10.0, -7.0, 15.0], 1.08, [5.0, -20.0, 3.0], [1.0, 2.0, 3.0]);
        let back = mul(&inverse(&p).unwrap(), &p);
        for (r, row) in back.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let want = if r == c { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-9, "{back:?}");
            }
        }
        // The center moves by the translation alone.
        let c = apply(&p, [1.0, 2.0, 3.0]);
        assert!((c[0] - 6.0).abs() < 1e-9 && (c[1] + 18.0).abs() < 1e-9);
    }
}
