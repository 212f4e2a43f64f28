//! The grid the face-mask model sees: 64³ voxels of 4 mm along patient
//! right, anterior and superior, centred on the head, with the intensities
//! normalised so that no contrast is special.
//!
//! This is a contract with the script that trained the model
//! (`scripts/train_face_mask.py`, `canonical_input`): the same centre, the
//! same percentiles, the same two channels.

use super::resample::{Affine, IDENTITY, Interpolation, apply, resample_values};
use super::volume::Volume;

/// Voxels per side of the input grid.
pub const GRID: usize = 64;
/// Their size, mm.
pub const SPACING: f64 = 4.0;
/// Voxels per side of the model's output grid (8 mm voxels, same extent).
pub const OUT_GRID: usize = 32;
/// A voxel is head when it is this far from the dark end (the 2nd
/// percentile) to the bright end (the 99.5th).
pub const HEAD_FRACTION: f32 = 0.1;

/// What kind of image a volume is, for its intensities and its background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modality {
    /// Hounsfield units: air is −1000; values outside the scanner's
    /// reconstruction (padding such as −2048 or −3024) are clamped.
    Ct,
    /// Arbitrary units; air is 0.
    Mr,
}

impl Modality {
    /// The value of air: what removed voxels become.
    pub fn background(self) -> f32 {
        match self {
            Modality::Ct => -1000.0,
            Modality::Mr => 0.0,
        }
    }

    /// `v` within the range this modality's values are read in.
    pub fn clamp(self, v: f32) -> f32 {
        match self {
            Modality::Ct => v.clamp(-1024.0, 3071.0),
            Modality::Mr => v,
        }
    }
}

/// A volume's intensities as the model and the head silhouette read them:
/// clamped (CT), with their 2nd and 99.5th percentiles.
#[derive(Debug, Clone)]
pub struct Intensities {
    /// The volume's values, clamped; same order as `Volume::data`.
    pub values: Vec<f32>,
    /// The 2nd percentile: the dark end.
    pub lo: f32,
    /// The 99.5th percentile: the bright end.
    pub hi: f32,
}

impl Intensities {
    pub fn of(volume: &Volume, modality: Modality) -> Self {
        let values: Vec<f32> = volume.data.iter().map(|&v| modality.clamp(v)).collect();
        let (lo, hi) = percentiles(&values);
        Intensities { values, lo, hi }
    }

    /// Brighter than this is head: `HEAD_FRACTION` of the way from the
    /// dark end to the bright end.
    pub fn head_threshold(&self) -> f32 {
        self.lo + HEAD_FRACTION * (self.hi - self.lo)
    }
}

/// The model's input for one volume.
#[derive(Debug, Clone)]
pub struct Canonical {
    /// The grid's centre, patient RAS, mm.
    pub centre_ras: [f64; 3],
    /// `[2, 64, 64, 64]`, axes (channel, S, A, R), R fastest.
    pub input: Vec<f32>,
}

/// The 2nd and 99.5th percentiles, interpolated between ranks as numpy's
/// default does.
pub fn percentiles(values: &[f32]) -> (f32, f32) {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    let mut at = |q: f64| {
        let pos = q / 100.0 * (v.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        let (_, &mut a, rest) = v.select_nth_unstable_by(lo, f32::total_cmp);
        let b = if hi == lo {
            a
        } else {
            rest.iter().copied().fold(f32::INFINITY, f32::min)
        };
        a + (b - a) * (pos - lo as f64) as f32
    };
    let lo = at(2.0);
    let mut hi = at(99.5);
    if hi <= lo {
        hi = lo + 1.0;
    }
    (lo, hi)
}

/// The affine (LPS) of a grid of `n`³ voxels of `spacing` mm along R, A, S,
/// centred at `centre_ras`.
pub fn grid_affine(centre_ras: [f64; 3], n: usize, spacing: f64) -> Affine {
    let half = n as f64 / 2.0 - 0.5;
    let origin_ras = centre_ras.map(|c| c - spacing * half);
    let mut a = IDENTITY;
    // RAS → LPS: the first two axes change sign.
    a[0][0] = -spacing;
    a[1][1] = -spacing;
    a[2][2] = spacing;
    a[0][3] = -origin_ras[0];
    a[1][3] = -origin_ras[1];
    a[2][3] = origin_ras[2];
    a
}

/// The centre of mass of the head (RAS, mm): the voxels brighter than the
/// head threshold.
fn head_centre(volume: &Volume, intensities: &Intensities) -> Option<[f64; 3]> {
    let threshold = intensities.head_threshold();
    let values = &intensities.values;
    let [nx, ny, nz] = volume.dims;
    let (mut sum, mut count) = ([0.0f64; 3], 0u64);
    for k in 0..nz {
        for j in 0..ny {
            let row = nx * (j + ny * k);
            for (i, &v) in values[row..row + nx].iter().enumerate() {
                if v > threshold {
                    sum[0] += i as f64;
                    sum[1] += j as f64;
                    sum[2] += k as f64;
                    count += 1;
                }
            }
        }
    }
    if count == 0 {
        return None;
    }
    let lps = apply(&volume.affine_lps, sum.map(|s| s / count as f64));
    Some([-lps[0], -lps[1], lps[2]])
}

/// The model's input for `volume` (whose `intensities` they are); `None`
/// when nothing in it stands out from the background.
pub fn canonical_input(volume: &Volume, intensities: &Intensities) -> Option<Canonical> {
    let centre_ras = head_centre(volume, intensities)?;
    let lo = intensities.lo;
    let grid = grid_affine(centre_ras, GRID, SPACING);
    let sampled = resample_values(
        (&intensities.values, volume.dims, &volume.affine_lps),
        [GRID; 3],
        grid,
        &IDENTITY,
        Interpolation::Linear,
        lo,
    )?;
    let (glo, ghi) = percentiles(&sampled.data);
    let n: Vec<f32> = sampled
        .data
        .iter()
        .map(|&v| ((v - glo) / (ghi - glo)).clamp(0.0, 1.5))
        .collect();
    let mut input = n.clone();
    input.extend(n.iter().map(|&x| if x > HEAD_FRACTION { 1.0 } else { 0.0 }));
    Some(Canonical { centre_ras, input })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks_as_numpy_does() {
        // numpy.percentile(range(101), [2, 99.5]) == [2.0, 99.5]
        let v: Vec<f32> = (0..=100).rev().map(|x| x as f32).collect();
        assert_eq!(percentiles(&v), (2.0, 99.5));
        // numpy.percentile([0, 10], [2, 99.5]) == [0.2, 9.95]
        let (lo, hi) = percentiles(&[10.0, 0.0]);
        assert!((lo - 0.2).abs() < 1e-6 && (hi - 9.95).abs() < 1e-5);
    }

    #[test]
    fn the_grid_is_centred_and_runs_along_ras() {
        let a = grid_affine([10.0, -20.0, 30.0], 64, 4.0);
        // Voxel (31.5, 31.5, 31.5) is the centre; (0, 0, 0) is right-posterior-inferior.
        let c = apply(&a, [31.5, 31.5, 31.5]);
        assert!(
            (c[0] + 10.0).abs() < 1e-9 && (c[1] - 20.0).abs() < 1e-9 && (c[2] - 30.0).abs() < 1e-9
        );
        let next_i = apply(&a, [32.5, 31.5, 31.5]);
        assert!(
            (next_i[0] - c[0] + 4.0).abs() < 1e-9,
            "one step along i is 4 mm to the patient's left in LPS"
        );
    }

    #[test]
    fn a_bright_block_is_found_and_normalised() {
        // A 40³ volume of 4 mm voxels (LPS identity axes), a bright 20³ block off centre.
        let mut affine = IDENTITY;
        for (d, row) in affine.iter_mut().enumerate().take(3) {
            row[d] = 4.0;
        }
        let mut data = vec![0.0f32; 40 * 40 * 40];
        for k in 15..35 {
            for j in 10..30 {
                for i in 5..25 {
                    data[i + 40 * (j + 40 * k)] = 500.0;
                }
            }
        }
        let v = Volume {
            dims: [40; 3],
            data,
            affine_lps: affine,
        };
        let c = canonical_input(&v, &Intensities::of(&v, Modality::Mr)).unwrap();
        // The block's centre: voxel (14.5, 19.5, 24.5) → LPS (58, 78, 98) → RAS (-58, -78, 98).
        let want = [-58.0, -78.0, 98.0];
        assert!(
            c.centre_ras
                .iter()
                .zip(want)
                .all(|(a, b)| (a - b).abs() < 1e-9),
            "{:?}",
            c.centre_ras
        );
        assert_eq!(c.input.len(), 2 * 64 * 64 * 64);
        let middle = 32 + 64 * (32 + 64 * 32);
        assert!((c.input[middle] - 1.0).abs() < 1e-6, "{}", c.input[middle]);
        assert_eq!(c.input[64 * 64 * 64 + middle], 1.0);
        assert_eq!(c.input[0], 0.0);
    }
}
