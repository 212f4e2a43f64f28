//! A scalar volume on a regular grid, with its place in patient space.

/// Voxel values with their geometry. Voxel `(i, j, k)` is column `i` and
/// row `j` of slice `k`, stored at `i + nx * (j + ny * k)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// `[nx, ny, nz]`: columns, rows, slices.
    pub dims: [usize; 3],
    pub data: Vec<f32>,
    /// Voxel index `(i, j, k, 1)` → DICOM patient coordinates (LPS, mm):
    /// the columns are the steps along i, j and k, and the position of
    /// voxel (0, 0, 0).
    pub affine_lps: [[f64; 4]; 4],
}

impl Volume {
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    pub fn get(&self, i: usize, j: usize, k: usize) -> f32 {
        self.data[self.index(i, j, k)]
    }

    /// The voxel sizes along i, j and k, in mm.
    pub fn spacing(&self) -> [f64; 3] {
        let a = &self.affine_lps;
        [0, 1, 2].map(|c| (0..3).map(|r| a[r][c] * a[r][c]).sum::<f64>().sqrt())
    }

    /// The affine in NIfTI's RAS convention: x and y negated.
    pub fn affine_ras(&self) -> [[f64; 4]; 4] {
        let mut a = self.affine_lps;
        for row in &mut a[..2] {
            for v in row.iter_mut() {
                *v = -*v;
            }
        }
        a
    }
}
