//! The head template the registration aligns to each volume: where
//! pydeface's template head is, and where its face is, on a grid of 2 mm.
//!
//! Derived from pydeface 2.1.0's `mean_reg2mean.nii.gz` (a full-head T1,
//! 1 mm) and `facemask.nii.gz` (0 on the face) by [`derive`]: each 2 mm
//! voxel holds the share of its eight 1 mm voxels that are head (the T1
//! above a tenth of its 99.5th percentile) and the share that are face.
//! The bundled file (`src/deface/face_template.bin.gz`) is that, encoded by
//! [`Template::encode`]; `tests/deface_bundled_template.rs` derives it again from
//! the fetched package and compares (`WRITE_FACE_TEMPLATE=1` rewrites it).

use std::io::{Read, Write};
use std::sync::OnceLock;

use super::canonical::percentiles;
use super::resample::{Affine, IDENTITY, apply, inverse};
use super::volume::Volume;

/// The template's head: brighter than this share of the T1's 99.5th
/// percentile (as the accuracy test's phantoms define it).
pub const HEAD_LEVEL: f32 = 0.1;
/// How many 1 mm voxels make one template voxel along each axis.
const FACTOR: usize = 2;
const MAGIC: &[u8; 8] = b"FACETPL1";

/// Shares of head and face per voxel, with the grid's geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub dims: [usize; 3],
    /// Voxel → patient LPS, mm.
    pub affine_lps: Affine,
    /// Share of each voxel that is head, 0 to 255 (x fastest).
    pub head: Vec<u8>,
    /// Share of each voxel that is face, 0 to 255.
    pub face: Vec<u8>,
    /// The head's centre of mass, LPS mm ([`Template::new`] finds it once).
    centre: [f64; 3],
}

impl Template {
    /// A template of these shares on this grid; its head's centre is found
    /// here, once (the fields are not to be changed after).
    pub fn new(dims: [usize; 3], affine_lps: Affine, head: Vec<u8>, face: Vec<u8>) -> Template {
        let centre = centre_of_mass(dims, &affine_lps, &head);
        Template {
            dims,
            affine_lps,
            head,
            face,
            centre,
        }
    }

    /// The template this build ships, decoded once per process.
    pub fn bundled() -> Result<&'static Template, String> {
        static TEMPLATE: OnceLock<Result<Template, String>> = OnceLock::new();
        TEMPLATE
            .get_or_init(|| Template::decode(BUNDLED))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The file's bytes: gzip of the magic, the dimensions (u32 LE), the
    /// affine's first three rows (f64 LE), the head shares, the face shares.
    pub fn encode(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(8 + 12 + 96 + 2 * self.head.len());
        raw.extend_from_slice(MAGIC);
        for d in self.dims {
            raw.extend_from_slice(&(d as u32).to_le_bytes());
        }
        for row in &self.affine_lps[..3] {
            for v in row {
                raw.extend_from_slice(&v.to_le_bytes());
            }
        }
        raw.extend_from_slice(&self.head);
        raw.extend_from_slice(&self.face);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&raw).expect("writing to memory");
        gz.finish().expect("writing to memory")
    }

    pub fn decode(bytes: &[u8]) -> Result<Template, String> {
        let bad = |what: &str| format!("face template: {what}");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut raw)
            .map_err(|e| bad(&e.to_string()))?;
        if raw.len() < 8 + 12 + 96 || &raw[..8] != MAGIC {
            return Err(bad("not a face template"));
        }
        let u32_at = |o: usize| u32::from_le_bytes(raw[o..o + 4].try_into().unwrap()) as usize;
        let dims = [u32_at(8), u32_at(12), u32_at(16)];
        let mut affine_lps = IDENTITY;
        for (r, row) in affine_lps.iter_mut().take(3).enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                let o = 20 + 8 * (4 * r + c);
                *v = f64::from_le_bytes(raw[o..o + 8].try_into().unwrap());
            }
        }
        let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let start = 20 + 96;
        match n {
            Some(n) if n > 0 && raw.len() == start + 2 * n => Ok(Template::new(
                dims,
                affine_lps,
                raw[start..start + n].to_vec(),
                raw[start + n..].to_vec(),
            )),
            _ => Err(bad("its size does not match its dimensions")),
        }
    }

    /// The head's centre of mass, LPS mm.
    pub fn head_centre(&self) -> [f64; 3] {
        self.centre
    }

    /// The shares of head and face (0 to 1) at `u`, voxel coordinates
    /// (trilinear); `None` outside the grid.
    #[inline]
    pub fn sample(&self, u: [f64; 3]) -> Option<(f64, f64)> {
        let c = self.corners(u)?;
        Some((c.blend(&self.head), c.blend(&self.face)))
    }

    /// The share of face alone at `u` (see [`Template::sample`]).
    #[inline]
    pub fn sample_face(&self, u: [f64; 3]) -> Option<f64> {
        Some(self.corners(u)?.blend(&self.face))
    }

    /// The eight voxels around `u` and its place among them.
    #[inline]
    fn corners(&self, u: [f64; 3]) -> Option<Corners> {
        let [nx, ny, nz] = self.dims;
        if !(u[0] >= 0.0 && u[1] >= 0.0 && u[2] >= 0.0) {
            return None;
        }
        // Not negative: truncation is the floor.
        let (i, j, k) = (u[0] as usize, u[1] as usize, u[2] as usize);
        if i >= nx || j >= ny || k >= nz {
            return None;
        }
        let (fx, fy, fz) = (u[0] - i as f64, u[1] - j as f64, u[2] - k as f64);
        // On the last plane the fraction is 0 and the neighbour the voxel itself.
        let step = |at: usize, n: usize, stride: usize, f: f64| {
            if at + 1 < n {
                Some(stride)
            } else if f == 0.0 {
                Some(0)
            } else {
                None
            }
        };
        Some(Corners {
            base: i + nx * (j + ny * k),
            dx: step(i, nx, 1, fx)?,
            dy: step(j, ny, nx, fy)?,
            dz: step(k, nz, nx * ny, fz)?,
            f: [fx, fy, fz],
        })
    }

    /// Patient LPS → voxel coordinates.
    pub fn to_voxels(&self) -> Affine {
        inverse(&self.affine_lps).expect("the template's grid is invertible")
    }
}

/// The template derived from pydeface's T1 and face mask (both on the same
/// 1 mm grid): see the module's documentation.
pub fn derive(t1: &Volume, facemask: &Volume) -> Result<Template, String> {
    if t1.dims != facemask.dims {
        return Err(format!(
            "the T1 is {:?} voxels, the face mask {:?}",
            t1.dims, facemask.dims
        ));
    }
    let (_, hi) = percentiles(&t1.data);
    let level = HEAD_LEVEL * hi;
    let [nx, ny, nz] = t1.dims;
    let dims = [nx / FACTOR, ny / FACTOR, nz / FACTOR];
    let per = (FACTOR * FACTOR * FACTOR) as u32;
    let mut head = Vec::with_capacity(dims.iter().product());
    let mut face = Vec::with_capacity(head.capacity());
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let (mut h, mut f) = (0u32, 0u32);
                for dk in 0..FACTOR {
                    for dj in 0..FACTOR {
                        for di in 0..FACTOR {
                            let (a, b, c) = (FACTOR * i + di, FACTOR * j + dj, FACTOR * k + dk);
                            h += u32::from(t1.get(a, b, c) > level);
                            f += u32::from(facemask.get(a, b, c) < 0.5);
                        }
                    }
                }
                let share = |x: u32| ((x * 255 + per / 2) / per) as u8;
                head.push(share(h));
                face.push(share(f));
            }
        }
    }
    // Voxel (I, J, K) is centred where the 1 mm voxel (2I + ½, …) is.
    let mut affine_lps = t1.affine_lps;
    let offset = (FACTOR as f64 - 1.0) / 2.0;
    for row in affine_lps.iter_mut().take(3) {
        row[3] += offset * (row[0] + row[1] + row[2]);
        for v in row.iter_mut().take(3) {
            *v *= FACTOR as f64;
        }
    }
    Ok(Template::new(dims, affine_lps, head, face))
}

/// The centre of mass of the head shares `head` on a grid of `dims`
/// placed by `affine_lps`, LPS mm.
fn centre_of_mass(dims: [usize; 3], affine_lps: &Affine, head: &[u8]) -> [f64; 3] {
    let [nx, ny, _] = dims;
    let (mut sum, mut total) = ([0.0f64; 3], 0.0f64);
    for (n, &h) in head.iter().enumerate() {
        if h > 0 {
            let w = f64::from(h);
            let ijk = [n % nx, (n / nx) % ny, n / (nx * ny)];
            for d in 0..3 {
                sum[d] += w * ijk[d] as f64;
            }
            total += w;
        }
    }
    apply(affine_lps, sum.map(|s| s / total.max(1.0)))
}

/// Where a point falls among the voxels of a template's grid.
struct Corners {
    base: usize,
    dx: usize,
    dy: usize,
    dz: usize,
    f: [f64; 3],
}

impl Corners {
    /// The trilinear blend of `v` (shares of 255) at the point, 0 to 1.
    #[inline]
    fn blend(&self, v: &[u8]) -> f64 {
        let at = |o: usize| f64::from(v[self.base + o]);
        let [fx, fy, fz] = self.f;
        let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
        let x00 = lerp(at(0), at(self.dx), fx);
        let x10 = lerp(at(self.dy), at(self.dy + self.dx), fx);
        let x01 = lerp(at(self.dz), at(self.dz + self.dx), fx);
        let x11 = lerp(at(self.dz + self.dy), at(self.dz + self.dy + self.dx), fx);
        lerp(lerp(x00, x10, fy), lerp(x01, x11, fy), fz) / 255.0
    }
}

/// The bundled template (see [`Template::bundled`]).
const BUNDLED: &[u8] = include_bytes!("face_template.bin.gz");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_survives_encoding() {
        let t = Template::new(
            [3, 2, 2],
            [
                [2.0, 0.0, 0.0, -10.0],
                [0.0, 2.0, 0.5, 4.0],
                [0.0, 0.0, 2.0, 7.25],
                [0.0, 0.0, 0.0, 1.0],
            ],
            (0..12).map(|x| x * 20).collect(),
            (0..12).map(|x| 255 - x * 3).collect(),
        );
        assert_eq!(Template::decode(&t.encode()).unwrap(), t);
        let mut short = t.clone();
        short.face.pop();
        assert!(Template::decode(&short.encode()).is_err());
        assert!(Template::decode(b"not gzip").is_err());
    }

    #[test]
    fn the_bundled_template_has_a_head_and_a_face_in_front_of_it() {
        let t = Template::bundled().unwrap();
        let centre = t.head_centre();
        let to = t.to_voxels();
        let (h, f) = t.sample(apply(&to, centre)).unwrap();
        assert!(h > 0.99 && f < 0.01, "the centre: head {h}, face {f}");
        // LPS: anterior is −y. Somewhere 70 to 110 mm in front of the
        // centre and below it lies face.
        let found = (0..40).any(|s| {
            let p = [centre[0], centre[1] - 70.0 - s as f64, centre[2] - 20.0];
            t.sample(apply(&to, p)).is_some_and(|(_, f)| f > 0.5)
        });
        assert!(found, "no face in front of the head's centre");
    }

    #[test]
    fn sampling_is_trilinear_and_none_outside() {
        use crate::deface::resample::trilinear;
        let t = Template::bundled().unwrap();
        let [nx, ny, _] = t.dims;
        let last = t.dims.map(|d| (d - 1) as f64);
        let mut seed = 11u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in 0..20_000 {
            let mut u = [0, 1, 2].map(|d| next() * (last[d] + 4.0) - 2.0);
            if n % 10 == 0 {
                u[n % 3] = last[n % 3];
            }
            let inside = (0..3).all(|d| u[d] >= 0.0 && u[d] <= last[d]);
            let got = t.sample(u);
            assert_eq!(got.is_some(), inside, "{u:?}");
            if let Some((h, f)) = got {
                let at =
                    |v: &[u8], i: usize, j: usize, k: usize| f64::from(v[i + nx * (j + ny * k)]);
                let want_h = trilinear(t.dims, u, |i, j, k| at(&t.head, i, j, k)) / 255.0;
                let want_f = trilinear(t.dims, u, |i, j, k| at(&t.face, i, j, k)) / 255.0;
                assert!(
                    (h - want_h).abs() < 1e-9 && (f - want_f).abs() < 1e-9,
                    "{u:?}"
                );
                assert_eq!(t.sample_face(u), Some(f));
            }
        }
    }

    #[test]
    fn derive_averages_two_by_two_by_two() {
        let mut affine = IDENTITY;
        affine[0][3] = 100.0;
        let dims = [4, 2, 2];
        let mut t1 = vec![0.0f32; 16];
        // The first 2³ block: 3 voxels bright; the second: all.
        for n in [0usize, 1, 4] {
            t1[n] = 10.0;
        }
        for k in 0..2 {
            for j in 0..2 {
                for i in 2..4 {
                    t1[i + 4 * (j + 2 * k)] = 10.0;
                }
            }
        }
        let t1 = Volume {
            dims,
            data: t1,
            affine_lps: affine,
        };
        let mask = Volume {
            data: vec![1.0; 16],
            ..t1.clone()
        };
        let t = derive(&t1, &mask).unwrap();
        assert_eq!(t.dims, [2, 1, 1]);
        assert_eq!(t.head, vec![96, 255]);
        assert_eq!(t.face, vec![0, 0]);
        // Voxel 0's centre is the 1 mm grid's (0.5, 0.5, 0.5).
        assert_eq!(apply(&t.affine_lps, [0.0; 3]), [100.5, 0.5, 0.5]);
        assert_eq!(apply(&t.affine_lps, [1.0, 0.0, 0.0]), [102.5, 0.5, 0.5]);
    }
}
