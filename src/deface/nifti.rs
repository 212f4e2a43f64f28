//! A [`Volume`] as a NIfTI-1 file (`.nii.gz`), through the `nifti` crate.
//!
//! The geometry goes into both the sform (the affine, RAS) and the qform
//! (a rotation as a quaternion, the voxel sizes, and `qfac` for a
//! left-handed grid), both marked as scanner coordinates. The header holds
//! no text from the source: `descrip` names this tool, the other text
//! fields are empty. The file is written beside its final name and renamed
//! into place.

use std::path::Path;

use ndarray::{Array3, ShapeBuilder};
use nifti::writer::WriterOptions;
use nifti::{IntoNdArray, NiftiHeader, NiftiObject, NiftiType, ReaderOptions};

use super::volume::Volume;

/// `xyzt_units`: millimetres and seconds.
const MM_AND_SECONDS: u8 = 2 | 8;

/// The NIfTI header of a volume's geometry.
pub fn header(volume: &Volume) -> NiftiHeader {
    let a = volume.affine_ras();
    let spacing = volume.spacing();
    let mut h = NiftiHeader::default();
    let mut descrip = b"dicom-anonymizer".to_vec();
    descrip.resize(80, 0);
    h.descrip = descrip;
    h.aux_file = [0; 24];
    h.intent_name = [0; 16];
    h.db_name = [0; 18];
    h.xyzt_units = MM_AND_SECONDS;
    h.sform_code = 1;
    h.srow_x = a[0].map(|v| v as f32);
    h.srow_y = a[1].map(|v| v as f32);
    h.srow_z = a[2].map(|v| v as f32);
    // The qform: R (unit columns), with the third flipped when left-handed.
    let mut r = [[0.0f64; 3]; 3];
    for c in 0..3 {
        for (row, r_row) in r.iter_mut().enumerate() {
            r_row[c] = a[row][c] / spacing[c];
        }
    }
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 {
        for row in r.iter_mut() {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    let (b, c, d) = quaternion(&r);
    h.qform_code = 1;
    h.quatern_b = b as f32;
    h.quatern_c = c as f32;
    h.quatern_d = d as f32;
    h.quatern_x = a[0][3] as f32;
    h.quatern_y = a[1][3] as f32;
    h.quatern_z = a[2][3] as f32;
    h.pixdim = [
        qfac as f32,
        spacing[0] as f32,
        spacing[1] as f32,
        spacing[2] as f32,
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    h
}

/// The (b, c, d) of the unit quaternion of a proper rotation matrix (a is
/// taken non-negative, as NIfTI stores it).
fn quaternion(r: &[[f64; 3]; 3]) -> (f64, f64, f64) {
    let trace = r[0][0] + r[1][1] + r[2][2];
    let (a, b, c, d) = if trace > 0.0 {
        let s = 0.5 / (trace + 1.0).sqrt();
        (
            0.25 / s,
            (r[2][1] - r[1][2]) * s,
            (r[0][2] - r[2][0]) * s,
            (r[1][0] - r[0][1]) * s,
        )
    } else if r[0][0] > r[1][1] && r[0][0] > r[2][2] {
        let s = 2.0 * (1.0 + r[0][0] - r[1][1] - r[2][2]).sqrt();
        (
            (r[2][1] - r[1][2]) / s,
            0.25 * s,
            (r[0][1] + r[1][0]) / s,
            (r[0][2] + r[2][0]) / s,
        )
    } else if r[1][1] > r[2][2] {
        let s = 2.0 * (1.0 + r[1][1] - r[0][0] - r[2][2]).sqrt();
        (
            (r[0][2] - r[2][0]) / s,
            (r[0][1] + r[1][0]) / s,
            0.25 * s,
            (r[1][2] + r[2][1]) / s,
        )
    } else {
        let s = 2.0 * (1.0 + r[2][2] - r[0][0] - r[1][1]).sqrt();
        (
            (r[1][0] - r[0][1]) / s,
            (r[0][2] + r[2][0]) / s,
            (r[1][2] + r[2][1]) / s,
            0.25 * s,
        )
    };
    if a < 0.0 { (-b, -c, -d) } else { (b, c, d) }
}

/// The rotation matrix of NIfTI's quaternion (b, c, d), for checking.
pub fn rotation(b: f64, c: f64, d: f64) -> [[f64; 3]; 3] {
    let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
    [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ]
}

/// Write a volume (float32 voxels) as `.nii.gz`, atomically.
pub fn write(volume: &Volume, path: &Path) -> Result<(), String> {
    let [nx, ny, nz] = volume.dims;
    // The volume's own order (i fastest) is NIfTI's: a Fortran-order
    // array that the writer reads slice by slice, contiguously.
    let array = Array3::from_shape_vec((nx, ny, nz).f(), volume.data.clone())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // The writer compresses by the extension: keep `.nii.gz` last.
    let tmp = dir.join(format!(
        ".{}{}{}.nii.gz",
        name.trim_end_matches(".nii.gz"),
        crate::dicom_file::TEMP_MARKER,
        std::process::id()
    ));
    let header = header(volume);
    let result = WriterOptions::new(&tmp)
        .reference_header(&header)
        .write_nifti_with_type(&array, NiftiType::Float32)
        .map_err(|e| format!("{}: {e}", path.display()))
        .and_then(|()| {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| format!("{}: {e}", path.display()))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Read a 3-D NIfTI file (`.nii` or `.nii.gz`) as a volume: values as
/// floats (scaling applied), geometry from the sform, or from the qform
/// when the sform is not set.
pub fn read(path: &Path) -> Result<Volume, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let obj = ReaderOptions::new().read_file(path).map_err(|e| err(&e))?;
    let h = obj.header().clone();
    let dims: Vec<usize> = (1..=h.dim[0] as usize).map(|d| h.dim[d] as usize).collect();
    if dims.len() < 3 || dims[3..].iter().any(|&d| d > 1) {
        return Err(err(&format!("not a 3-D volume: dimensions {dims:?}")));
    }
    let array = obj
        .into_volume()
        .into_ndarray::<f32>()
        .map_err(|e| err(&e))?;
    let [nx, ny, nz] = [dims[0], dims[1], dims[2]];
    let array = array
        .into_dimensionality::<ndarray::Ix3>()
        .map_err(|e| err(&e))?;
    if array.shape() != [nx, ny, nz] {
        return Err(err(&format!("data of shape {:?}", array.shape())));
    }
    let mut data = Vec::with_capacity(nx * ny * nz);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                data.push(array[[i, j, k]]);
            }
        }
    }
    let ras = if h.sform_code > 0 {
        [h.srow_x, h.srow_y, h.srow_z].map(|r| r.map(f64::from))
    } else {
        let r = rotation(h.quatern_b.into(), h.quatern_c.into(), h.quatern_d.into());
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let offset = [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from);
        let mut rows = [[0.0; 4]; 3];
        for (row, out) in rows.iter_mut().enumerate() {
            for col in 0..3 {
                let flip = if col == 2 { qfac } else { 1.0 };
                out[col] = r[row][col] * f64::from(h.pixdim[col + 1]) * flip;
            }
            out[3] = offset[row];
        }
        rows
    };
    let mut affine_lps = [[0.0, 0.0, 0.0, 1.0]; 4];
    for row in 0..3 {
        let sign = if row < 2 { -1.0 } else { 1.0 };
        affine_lps[row] = ras[row].map(|v| v * sign);
    }
    Ok(Volume {
        dims: [nx, ny, nz],
        data,
        affine_lps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quaternions_give_the_rotation_back() {
        // 30° about z, then 20° about x.
        let (s, c) = (30f64.to_radians().sin(), 30f64.to_radians().cos());
        let (s2, c2) = (20f64.to_radians().sin(), 20f64.to_radians().cos());
        let rz = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let rx = [[1.0, 0.0, 0.0], [0.0, c2, -s2], [0.0, s2, c2]];
        let mut r = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                r[i][j] = (0..3).map(|k| rx[i][k] * rz[k][j]).sum();
            }
        }
        let (b, cq, d) = quaternion(&r);
        let back = rotation(b, cq, d);
        for i in 0..3 {
            for j in 0..3 {
                assert!((back[i][j] - r[i][j]).abs() < 1e-9, "{back:?} vs {r:?}");
            }
        }
    }
}
