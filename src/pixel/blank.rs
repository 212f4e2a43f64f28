//! Blanking regions of native pixel data, as CTP's `DICOMPixelAnonymizer`
//! does (`processUnencapsulatedPixels`, `blankRegions`, and `Regions`'
//! clipping), byte for byte:
//!
//! - a negative `x` (`y`) counts from the right (bottom) edge, then is
//!   clamped to 0; a width (height) reaching past the edge is cut there;
//! - a region covers rows `y..=y+height` and columns `x..=x+width`, both
//!   ends included (so `(0,0,10,10)` blanks 11×11 pixels), within the image;
//! - every frame, and for planar colour data every plane, is blanked;
//! - the value written: 0 (black for RGB and MONOCHROME2), 255 in each
//!   byte of 8-bit MONOCHROME1, 15 in each byte of 16-bit MONOCHROME1;
//!   YBR_FULL_422 pixel pairs get luma 0 and chroma 128 (pairs are
//!   aligned on even columns); planar YBR_FULL gets luma 0 and chroma 127.
//!
//! One deliberate difference: CTP writes YBR_FULL with interleaved samples
//! as if it were YBR_FULL_422 (four bytes per pair of three-byte pixels),
//! which leaves part of each pixel unblanked; here every pixel of the
//! region gets luma 0 and chroma 128.

use super::script::Region;

/// What the pixel data hold, read from the data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    pub rows: usize,
    pub columns: usize,
    pub frames: usize,
    pub samples: usize,
    pub planar: usize,
    pub bits_allocated: usize,
    pub photometric: String,
}

/// Blank `regions` in `bytes` (the native pixel data, in the order of the
/// file's byte stream: the values written are the same in either byte
/// order). Returns how many pixels of one frame were blanked.
pub fn blank(bytes: &mut [u8], g: &Geometry, regions: &[Region]) -> Result<u64, String> {
    let blanker = Blanker::new(g, regions)?;
    let (unit, units) = (blanker.unit_bytes(), blanker.units());
    let needed = unit * units;
    if bytes.len() < needed {
        return Err(format!(
            "the pixel data hold {} bytes, fewer than the {needed} of {} frame(s) of {}×{}",
            bytes.len(),
            g.frames,
            g.columns,
            g.rows
        ));
    }
    let mut blanked = 0;
    for (n, chunk) in bytes[..needed].chunks_exact_mut(unit).enumerate() {
        let count = blanker.blank_unit(n, chunk);
        if n == 0 {
            blanked = count;
        }
    }
    Ok(blanked)
}

/// Blanking one unit of pixel data at a time, as CTP walks it: a frame
/// (interleaved samples) or one plane of a frame (planar colour), so that
/// pixel data can be cleaned as they stream past.
#[derive(Debug, Clone)]
pub struct Blanker {
    regions: Vec<Region>,
    rows: usize,
    columns: usize,
    frames: usize,
    sample_bytes: usize,
    samples: usize,
    pixel_bytes: usize,
    planar: usize,
    photometric: String,
}

impl Blanker {
    /// Refuses images it cannot blank: no Rows or Columns, bits allocated
    /// not whole bytes.
    pub fn new(g: &Geometry, regions: &[Region]) -> Result<Blanker, String> {
        if g.rows == 0 || g.columns == 0 {
            return Err("the image has no Rows or Columns".into());
        }
        if g.bits_allocated == 0 || !g.bits_allocated.is_multiple_of(8) {
            return Err(format!(
                "pixel data of {} bits allocated cannot be blanked (whole bytes only)",
                g.bits_allocated
            ));
        }
        let photometric = g.photometric.trim().to_uppercase();
        let sample_bytes = g.bits_allocated / 8;
        let samples = if photometric == "YBR_FULL_422" && g.samples == 3 {
            2
        } else {
            g.samples.max(1)
        };
        let (pixel_bytes, frames) = if g.planar == 0 {
            (sample_bytes * samples, g.frames)
        } else {
            (sample_bytes, g.frames * samples)
        };
        Ok(Blanker {
            regions: regions.to_vec(),
            rows: g.rows,
            columns: g.columns,
            frames,
            sample_bytes,
            samples,
            pixel_bytes,
            planar: g.planar,
            photometric,
        })
    }

    /// The bytes of one unit.
    pub fn unit_bytes(&self) -> usize {
        self.rows * self.columns * self.pixel_bytes
    }

    /// How many units the image has (frames, or frames × planes).
    pub fn units(&self) -> usize {
        self.frames
    }

    /// Blank unit number `n` (counted from the first frame), whose bytes
    /// are `unit`; returns the pixels blanked.
    pub fn blank_unit(&self, n: usize, unit: &mut [u8]) -> u64 {
        let pi = self.photometric.as_str();
        let row_bytes = self.pixel_bytes * self.columns;
        let mut blanked = 0;
        for (row, line) in unit.chunks_exact_mut(row_bytes).enumerate() {
            let ranges = ranges_for(&self.regions, row, self.rows, self.columns);
            blanked += if pi == "YBR_FULL_422" && self.planar == 0 {
                blank_pairs(line, &ranges, self.columns, self.sample_bytes)
            } else if pi == "YBR_FULL" && self.planar == 0 {
                blank_ybr(line, &ranges, self.columns, self.sample_bytes, self.samples)
            } else {
                let value = if pi == "YBR_FULL" && self.planar == 1 {
                    if n.is_multiple_of(3) { 0 } else { 127 }
                } else if pi == "MONOCHROME1" && self.pixel_bytes == 2 {
                    15
                } else if pi == "MONOCHROME1" && self.pixel_bytes == 1 {
                    255
                } else {
                    0
                };
                blank_runs(line, &ranges, self.pixel_bytes, value)
            };
        }
        blanked
    }
}

/// The pixels a region blanks in an image of `rows`×`columns` (the
/// generic case: YBR_FULL_422 widens to whole pixel pairs): the first and
/// last column and the first and last row, all included; `None` when it
/// blanks nothing.
pub fn covered(region: &Region, rows: usize, columns: usize) -> Option<[usize; 4]> {
    let (x, w) = clip(region.x, region.width, columns as i64);
    let (y, h) = clip(region.y, region.height, rows as i64);
    let last_column = (x + w).min(columns as i64 - 1);
    let last_row = (y + h).min(rows as i64 - 1);
    (last_column >= x && last_row >= y && w >= 0 && h >= 0).then_some([
        x as usize,
        last_column as usize,
        y as usize,
        last_row as usize,
    ])
}

/// `Regions.getRangesFor`: the regions crossing `row`, each as CTP's
/// `(x, x + width)` after clipping.
fn ranges_for(regions: &[Region], row: usize, rows: usize, columns: usize) -> Vec<(i64, i64)> {
    let (row, rows, columns) = (row as i64, rows as i64, columns as i64);
    regions
        .iter()
        .filter_map(|r| {
            let (x, w) = clip(r.x, r.width, columns);
            let (y, h) = clip(r.y, r.height, rows);
            (y <= row && y + h >= row).then_some((x, x + w))
        })
        .collect()
}

/// One axis of `Regions.getAdjustedRegions`.
fn clip(start: i32, extent: i32, size: i64) -> (i64, i64) {
    let mut s = i64::from(start);
    if s < 0 {
        s += size;
    }
    s = s.max(0);
    let mut e = i64::from(extent);
    if s + e > size {
        e = size - s;
    }
    (s, e)
}

/// The generic `blankRegions`: bytes `pixel_bytes·x .. pixel_bytes·(end+1)`
/// within the row set to `value`. Returns the pixels blanked.
fn blank_runs(line: &mut [u8], ranges: &[(i64, i64)], pixel_bytes: usize, value: u8) -> u64 {
    let mut count = 0;
    for &(x, end) in ranges {
        let left = (pixel_bytes as i64 * x).max(0) as usize;
        let right = (pixel_bytes as i64 * (end + 1)).min(line.len() as i64);
        if right <= left as i64 {
            continue;
        }
        let right = right as usize;
        line[left..right].fill(value);
        count += ((right - left) / pixel_bytes) as u64;
    }
    count
}

/// The YBR_FULL_422 `blankRegions`: pairs of pixels from the even column
/// at or before `x` while `k < (end + 1) & !1` and `k < columns - 1`, each
/// pair's two luma samples 0 and two chroma samples 128.
fn blank_pairs(line: &mut [u8], ranges: &[(i64, i64)], columns: usize, sample_bytes: usize) -> u64 {
    let mut count = 0;
    let pair = 4 * sample_bytes;
    for &(x, end) in ranges {
        let mut k = x & !1;
        let stop = (end + 1) & !1;
        while k < stop && k < columns as i64 - 1 {
            let at = k as usize * 2 * sample_bytes;
            line[at..at + 2 * sample_bytes].fill(0);
            line[at + 2 * sample_bytes..at + pair].fill(128);
            count += 2;
            k += 2;
        }
    }
    count
}

/// Interleaved YBR_FULL: every pixel of the run, luma 0 and chroma 128.
fn blank_ybr(
    line: &mut [u8],
    ranges: &[(i64, i64)],
    columns: usize,
    sample_bytes: usize,
    samples: usize,
) -> u64 {
    let pixel = sample_bytes * samples;
    let mut count = 0;
    for &(x, end) in ranges {
        let last = end.min(columns as i64 - 1);
        let mut k = x.max(0);
        while k <= last {
            let at = k as usize * pixel;
            line[at..at + sample_bytes].fill(0);
            line[at + sample_bytes..at + pixel].fill(128);
            count += 1;
            k += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mono(rows: usize, columns: usize, bits: usize, pi: &str) -> Geometry {
        Geometry {
            rows,
            columns,
            frames: 1,
            samples: 1,
            planar: 0,
            bits_allocated: bits,
            photometric: pi.into(),
        }
    }

    fn region(x: i32, y: i32, width: i32, height: i32) -> Region {
        Region {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn ends_are_included_and_regions_clipped() {
        let g = mono(4, 5, 8, "MONOCHROME2");
        let mut px = vec![9u8; 20];
        assert_eq!(blank(&mut px, &g, &[region(1, 1, 1, 1)]).unwrap(), 4);
        #[rustfmt::skip]
        assert_eq!(px, vec![
            9, 9, 9, 9, 9,
            9, 0, 0, 9, 9,
            9, 0, 0, 9, 9,
            9, 9, 9, 9, 9,
        ]);
        let mut px = vec![9u8; 20];
        // From the right edge, and past the bottom.
        blank(&mut px, &g, &[region(-2, 2, 10, 10)]).unwrap();
        #[rustfmt::skip]
        assert_eq!(px, vec![
            9, 9, 9, 9, 9,
            9, 9, 9, 9, 9,
            9, 9, 9, 0, 0,
            9, 9, 9, 0, 0,
        ]);
    }

    #[test]
    fn values_follow_the_photometric_interpretation() {
        let mut px = vec![1u8; 8];
        blank(
            &mut px,
            &mono(2, 2, 16, "MONOCHROME1"),
            &[region(0, 0, 0, 0)],
        )
        .unwrap();
        assert_eq!(px, vec![15, 15, 1, 1, 1, 1, 1, 1]);
        let mut px = vec![1u8; 4];
        blank(
            &mut px,
            &mono(2, 2, 8, "MONOCHROME1"),
            &[region(0, 0, 5, 5)],
        )
        .unwrap();
        assert_eq!(px, vec![255; 4]);
        let g = Geometry {
            samples: 3,
            planar: 1,
            photometric: "YBR_FULL".into(),
            ..mono(1, 2, 8, "")
        };
        let mut px = vec![1u8; 6];
        blank(&mut px, &g, &[region(1, 0, 0, 0)]).unwrap();
        assert_eq!(px, vec![1, 0, 1, 127, 1, 127]);
    }

    #[test]
    fn ybr_422_pairs_and_interleaved_ybr() {
        let g = Geometry {
            samples: 3,
            photometric: "YBR_FULL_422".into(),
            ..mono(1, 4, 8, "")
        };
        let mut px = vec![1u8; 8];
        blank(&mut px, &g, &[region(1, 0, 0, 0)]).unwrap();
        assert_eq!(px, vec![0, 0, 128, 128, 1, 1, 1, 1]);
        let g = Geometry {
            samples: 3,
            photometric: "YBR_FULL".into(),
            ..mono(1, 3, 8, "")
        };
        let mut px = vec![1u8; 9];
        blank(&mut px, &g, &[region(1, 0, 0, 0)]).unwrap();
        assert_eq!(px, vec![1, 1, 1, 0, 128, 128, 1, 1, 1]);
    }

    #[test]
    fn covered_agrees_with_blanking() {
        let g = mono(7, 9, 8, "MONOCHROME2");
        for r in [
            region(1, 1, 1, 1),
            region(-2, 2, 10, 10),
            region(3, -9, 2, 4),
            region(8, 6, 0, 0),
            region(9, 0, 3, 3),
            region(2, 2, -1, 3),
        ] {
            let mut px = vec![1u8; 63];
            blank(&mut px, &g, &[r]).unwrap();
            let blanked: Vec<usize> = (0..63).filter(|&i| px[i] == 0).collect();
            let want: Vec<usize> = match covered(&r, 7, 9) {
                Some([x0, x1, y0, y1]) => (y0..=y1)
                    .flat_map(|y| (x0..=x1).map(move |x| y * 9 + x))
                    .collect(),
                None => Vec::new(),
            };
            assert_eq!(blanked, want, "{r:?}");
        }
    }

    #[test]
    fn short_pixel_data_and_odd_bits_are_refused() {
        assert!(blank(&mut [0u8; 3], &mono(2, 2, 8, "MONOCHROME2"), &[]).is_err());
        assert!(blank(&mut [0u8; 4], &mono(2, 2, 1, "MONOCHROME2"), &[]).is_err());
    }
}
