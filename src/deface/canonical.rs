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
/// The sides of an output grid a model may give, voxels: the input grid's
/// own (4 mm voxels) or half of it (8 mm), over the same extent.
pub const OUT_GRIDS: [usize; 2] = [GRID, GRID / 2];
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
/// default does (non-finite values left out). The ranks are found by
/// counting, not sorting: no copy of the values is made.
pub fn percentiles(values: &[f32]) -> (f32, f32) {
    let count = values.iter().filter(|x| x.is_finite()).count();
    if count == 0 {
        return (0.0, 1.0);
    }
    let place = |q: f64| {
        let pos = q / 100.0 * (count - 1) as f64;
        (pos.floor() as usize, pos.ceil() as usize, pos - pos.floor())
    };
    let (a, b) = (place(2.0), place(99.5));
    let r = ranked(values, &[a.0, a.1, b.0, b.1]);
    let lo = r[0] + (r[1] - r[0]) * a.2 as f32;
    let mut hi = r[2] + (r[3] - r[2]) * b.2 as f32;
    if hi <= lo {
        hi = lo + 1.0;
    }
    (lo, hi)
}

/// A key whose unsigned order is `f32::total_cmp`'s.
fn order_key(x: f32) -> u32 {
    let bits = x.to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    }
}

/// The finite values of ranks `ks` (from 0, each below the number of
/// finite values) among `values` in `total_cmp` order: the high 16 bits of
/// each one's key by one count over the values, the low 16 by a second
/// count over the values sharing any of those high bits (one more pass per
/// `PER_PASS` distinct high bins, which percentiles never reach).
fn ranked(values: &[f32], ks: &[usize]) -> Vec<f32> {
    const PER_PASS: usize = 8;
    let finite = || values.iter().copied().filter(|x| x.is_finite());
    let mut high_bins = vec![0usize; 1 << 16];
    for x in finite() {
        high_bins[(order_key(x) >> 16) as usize] += 1;
    }
    let picks: Vec<(u32, usize)> = ks.iter().map(|&k| pick(&high_bins, k)).collect();
    let mut highs: Vec<u32> = picks.iter().map(|p| p.0).collect();
    highs.sort_unstable();
    highs.dedup();
    let mut keys = vec![0u32; picks.len()];
    // `slot` maps a high bin of this pass to its histogram (0: not in it).
    let mut slot = vec![0u8; 1 << 16];
    for group in highs.chunks(PER_PASS) {
        let mut lows = vec![vec![0usize; 1 << 16]; group.len()];
        for (s, &high) in group.iter().enumerate() {
            slot[high as usize] = s as u8 + 1;
        }
        for x in finite() {
            let key = order_key(x);
            let s = slot[(key >> 16) as usize];
            if s != 0 {
                lows[s as usize - 1][(key & 0xFFFF) as usize] += 1;
            }
        }
        for (&(high, left), key) in picks.iter().zip(&mut keys) {
            let s = slot[high as usize];
            if s != 0 {
                *key = high << 16 | pick(&lows[s as usize - 1], left).0;
            }
        }
        for &high in group {
            slot[high as usize] = 0;
        }
    }
    keys.iter()
        .map(|&key| {
            let bits = if key >> 31 == 1 {
                key & !(1 << 31)
            } else {
                !key
            };
            f32::from_bits(bits)
        })
        .collect()
}

/// The bin rank `k` falls in, and its rank within that bin.
fn pick(bins: &[usize], mut k: usize) -> (u32, usize) {
    for (b, &n) in bins.iter().enumerate() {
        if k < n {
            return (b as u32, k);
        }
        k -= n;
    }
    // Only for a rank past the values, which callers never ask for.
    ((bins.len() - 1) as u32, 0)
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
    fn ranks_by_counting_are_those_of_a_sort() {
        let mut seed = 3u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            seed >> 33
        };
        for n in [1usize, 2, 7, 1000] {
            let mut v: Vec<f32> = (0..n)
                .map(|_| match next() % 7 {
                    0 => -(next() as f32) / 97.0,
                    1 => 0.0,
                    2 => -0.0,
                    3 => 1e-40 * (next() % 5) as f32,
                    _ => (next() % 3000) as f32 - 1024.5,
                })
                .collect();
            v.push(f32::NAN);
            v.push(f32::INFINITY);
            let mut sorted: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
            sorted.sort_by(f32::total_cmp);
            let ks: Vec<usize> = (0..sorted.len()).collect();
            let got = ranked(&v, &ks);
            for (k, want) in sorted.iter().enumerate() {
                assert_eq!(got[k].to_bits(), want.to_bits(), "n {n}, rank {k}");
            }
        }
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
