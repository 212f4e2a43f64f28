//! Slices that do not lie on an orthogonal grid (gantry tilt, uneven or
//! missing slices) resampled onto one, and the way back: a mask on any
//! grid seen on each original slice.
//!
//! A tilted CT stacks its slices along the table, not along their normal:
//! the voxel-to-patient affine of such a stack is a shear. As dcm2niix does
//! for tilted CT, [`regrid`] resamples the stack onto a grid with the
//! slices' own row and column directions and their normal as third axis,
//! wide enough to hold every slice whole (so nothing is cropped), with the
//! slices' own pixel spacing and the typical gap between slices along the
//! normal. Between two slices, values are interpolated linearly along the
//! normal, and bilinearly within each slice. [`on_slice`] then maps a mask
//! made on that grid back onto each original slice (nearest voxel), so the
//! defaced DICOM keeps the original geometry.

use super::resample::{Affine, apply, inverse, mul, round};
use super::volume::Volume;

/// Where one slice lies in patient space (LPS, mm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    /// The centre of the first pixel (ImagePositionPatient).
    pub origin: [f64; 3],
    /// The direction along a row (the first three of ImageOrientationPatient).
    pub row: [f64; 3],
    /// The direction down a column.
    pub col: [f64; 3],
    /// The distance between neighbouring columns (along `row`), then
    /// between neighbouring rows (along `col`): PixelSpacing reversed.
    pub spacing: [f64; 2],
}

impl Plane {
    pub fn normal(&self) -> [f64; 3] {
        cross(self.row, self.col)
    }

    /// Pixel `(i, j)` (column, row) → patient space.
    pub fn affine(&self) -> Affine {
        let n = self.normal();
        let [dc, dr] = self.spacing;
        let mut a = [[0.0, 0.0, 0.0, 1.0]; 4];
        for d in 0..3 {
            a[d] = [self.row[d] * dc, self.col[d] * dr, n[d], self.origin[d]];
        }
        a
    }
}

pub fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// The gap between slices the grid takes along the normal: the median of
/// the gaps between neighbours (so one missing slice, or a few thinner
/// ones, do not change it).
pub fn typical_gap(gaps: &[f64]) -> f64 {
    let mut sorted = gaps.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The stack `planes` (same orientation and spacing, in order along their
/// normal, each `cols`×`rows` pixels stored one after the other in `data`)
/// on an orthogonal grid; `background` where no slice reaches.
pub fn regrid(planes: &[Plane], [cols, rows]: [usize; 2], data: &[f32], background: f32) -> Volume {
    let first = planes[0];
    let n = first.normal();
    let [dc, dr] = first.spacing;
    let z: Vec<f64> = planes.iter().map(|p| dot(p.origin, n)).collect();
    // Each slice's offset within the plane from the first, mm.
    let offsets: Vec<[f64; 2]> = planes
        .iter()
        .map(|p| {
            let d = sub(p.origin, first.origin);
            [dot(d, first.row), dot(d, first.col)]
        })
        .collect();
    let lo = |axis: usize| offsets.iter().map(|o| o[axis]).fold(f64::MAX, f64::min);
    let hi = |axis: usize| offsets.iter().map(|o| o[axis]).fold(f64::MIN, f64::max);
    let (u0, v0) = (lo(0), lo(1));
    let nx = ((hi(0) - u0) / dc).round() as usize + cols;
    let ny = ((hi(1) - v0) / dr).round() as usize + rows;
    // From the first slice to the last, in steps as close to the typical
    // gap as a whole number of steps allows.
    let gaps: Vec<f64> = z.windows(2).map(|w| w[1] - w[0]).collect();
    let length = z[z.len() - 1] - z[0];
    let steps = (length / typical_gap(&gaps)).round().max(1.0);
    let dz = length / steps;
    let nz = steps as usize + 1;

    let mut affine = [[0.0, 0.0, 0.0, 1.0]; 4];
    for d in 0..3 {
        affine[d] = [
            first.row[d] * dc,
            first.col[d] * dr,
            n[d] * dz,
            first.origin[d] + u0 * first.row[d] + v0 * first.col[d],
        ];
    }
    let per = cols * rows;
    let sample = |s: usize, u: f64, v: f64| -> f32 {
        // Pixel coordinates of (u, v) in slice s.
        let x = (u - offsets[s][0]) / dc;
        let y = (v - offsets[s][1]) / dr;
        bilinear(
            &data[s * per..(s + 1) * per],
            [cols, rows],
            x,
            y,
            background,
        )
    };
    let mut out = Vec::with_capacity(nx * ny * nz);
    let mut s = 0;
    for k in 0..nz {
        let zk = if k + 1 == nz {
            z[z.len() - 1]
        } else {
            z[0] + k as f64 * dz
        };
        while s + 2 < z.len() && z[s + 1] < zk {
            s += 1;
        }
        let w = if z.len() == 1 {
            0.0
        } else {
            ((zk - z[s]) / (z[s + 1] - z[s])).clamp(0.0, 1.0)
        };
        for j in 0..ny {
            let v = v0 + j as f64 * dr;
            for i in 0..nx {
                let u = u0 + i as f64 * dc;
                let a = if w < 1.0 { sample(s, u, v) } else { 0.0 };
                let b = if w > 0.0 { sample(s + 1, u, v) } else { 0.0 };
                out.push(((1.0 - w) * f64::from(a) + w * f64::from(b)) as f32);
            }
        }
    }
    Volume {
        dims: [nx, ny, nz],
        data: out,
        affine_lps: affine,
    }
}

/// The value at pixel coordinates `(x, y)` of one `cols`×`rows` slice,
/// bilinearly; `background` outside it. Points less than half a pixel
/// outside are on its edge: slice positions are rounded in their headers,
/// and the pixel there stands for them.
fn bilinear(slice: &[f32], [cols, rows]: [usize; 2], x: f64, y: f64, background: f32) -> f32 {
    const EDGE: f64 = 0.5;
    let (last_x, last_y) = ((cols - 1) as f64, (rows - 1) as f64);
    if x < -EDGE || y < -EDGE || x > last_x + EDGE || y > last_y + EDGE {
        return background;
    }
    let (x, y) = (x.clamp(0.0, last_x), y.clamp(0.0, last_y));
    let (i0, j0) = (x.floor() as usize, y.floor() as usize);
    let (i1, j1) = ((i0 + 1).min(cols - 1), (j0 + 1).min(rows - 1));
    let (fx, fy) = (x - i0 as f64, y - j0 as f64);
    let at = |i: usize, j: usize| f64::from(slice[i + cols * j]);
    let top = at(i0, j0) * (1.0 - fx) + at(i1, j0) * fx;
    let bottom = at(i0, j1) * (1.0 - fx) + at(i1, j1) * fx;
    (top * (1.0 - fy) + bottom * fy) as f32
}

/// The pixels of the `cols`×`rows` slice `plane` whose nearest voxel of the
/// grid (`dims`, `affine_lps`) is set in `mask`; pixels beyond the grid
/// are not set.
pub fn on_slice(
    plane: &Plane,
    [cols, rows]: [usize; 2],
    dims: [usize; 3],
    affine_lps: &Affine,
    mask: &[bool],
) -> Vec<bool> {
    let Some(to_grid) = inverse(affine_lps).map(|inv| mul(&inv, &plane.affine())) else {
        return vec![false; cols * rows];
    };
    let step = [to_grid[0][0], to_grid[1][0], to_grid[2][0]];
    let mut out = Vec::with_capacity(cols * rows);
    for j in 0..rows {
        let start = apply(&to_grid, [0.0, j as f64, 0.0]);
        for i in 0..cols {
            let u = [0, 1, 2].map(|d| round(start[d] + step[d] * i as f64));
            let inside = u
                .iter()
                .zip(dims)
                .all(|(&x, n)| x >= 0.0 && x <= (n - 1) as f64);
            out.push(
                inside && mask[u[0] as usize + dims[0] * (u[1] as usize + dims[1] * u[2] as usize)],
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axial(origin: [f64; 3]) -> Plane {
        Plane {
            origin,
            row: [1.0, 0.0, 0.0],
            col: [0.0, 1.0, 0.0],
            spacing: [0.5, 0.8],
        }
    }

    /// Slice s holds `100 s + 10 j + i`.
    fn data(slices: usize, [cols, rows]: [usize; 2]) -> Vec<f32> {
        (0..slices * rows * cols)
            .map(|n| {
                let (s, r) = (n / (rows * cols), n % (rows * cols));
                (100 * s + 10 * (r / cols) + r % cols) as f32
            })
            .collect()
    }

    #[test]
    fn a_sheared_stack_is_widened_and_each_slice_kept_whole() {
        // Each slice 2 mm higher and one row (0.8 mm) further down its column.
        let planes: Vec<Plane> = (0..4)
            .map(|s| axial([0.0, 0.8 * s as f64, 2.0 * s as f64]))
            .collect();
        let v = regrid(&planes, [5, 6], &data(4, [5, 6]), -1.0);
        assert_eq!(v.dims, [5, 6 + 3, 4]);
        for s in 0..4 {
            for j in 0..6 {
                for i in 0..5 {
                    let got = v.get(i, j + s, s);
                    assert!((got - (100 * s + 10 * j + i) as f32).abs() < 1e-3, "{got}");
                }
            }
            // Rows no slice reaches are background.
            if s > 0 {
                assert_eq!(v.get(0, s - 1, s), -1.0);
            }
        }
        // The axes are orthogonal: the third is the normal.
        assert!((v.affine_lps[1][2]).abs() < 1e-12 && (v.affine_lps[2][2] - 2.0).abs() < 1e-12);
        // And back: the voxels of slice s's pixels are found again.
        let mask: Vec<bool> = v.data.iter().map(|&x| x == 213.0).collect();
        let back = on_slice(&planes[2], [5, 6], v.dims, &v.affine_lps, &mask);
        assert_eq!(back.iter().position(|&b| b), Some(3 + 5));
        assert_eq!(back.iter().filter(|&&b| b).count(), 1);
    }

    #[test]
    fn a_missing_slice_is_interpolated_between_its_neighbours() {
        let planes: Vec<Plane> = [0.0, 3.0, 9.0, 12.0]
            .iter()
            .map(|&z| axial([0.0, 0.0, z]))
            .collect();
        let v = regrid(&planes, [3, 3], &data(4, [3, 3]), 0.0);
        assert_eq!(v.dims, [3, 3, 5]);
        assert_eq!(v.get(1, 1, 1), 111.0);
        // Halfway between slice 1 (z 3) and slice 2 (z 9).
        assert_eq!(v.get(1, 1, 2), 161.0);
        assert_eq!(v.get(1, 1, 4), 311.0);
    }
}
