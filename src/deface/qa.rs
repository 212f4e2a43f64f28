//! The QA sheet: one picture per defaced series for a person to check at a
//! glance that the face is gone and the rest of the head is not.
//!
//! Top row: the skin surface seen from the patient's left and from the
//! front-left (45°), before and after defacing (depth renders lit from
//! the viewer, 1 mm per pixel over 256 mm, superior up, anterior left).
//! Bottom row: the mid-sagittal plane and the axial plane through the
//! middle of the removed region, with the removed voxels tinted red, and
//! the surface seen from the front, before and after. A header names the
//! subject and the series and gives the share of head voxels (brighter
//! than the model's head threshold) removed. Everything is sampled in
//! patient space, so a volume on any grid (oblique, resampled) looks the
//! same.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rayon::prelude::*;

use super::canonical::{HEAD_FRACTION, Modality, percentiles};
use super::face_mask::FaceMask;
use super::resample::{Affine, apply, inverse, round};
use super::volume::Volume;

/// Side of each panel, pixels (1 mm each).
const PANEL: usize = 256;
/// Height of the header, pixels.
const HEADER: usize = 48;
/// Gap between panels, pixels.
const GAP: usize = 4;

/// What the sheet says about the series.
#[derive(Debug, Clone)]
pub struct Caption {
    pub subject: String,
    pub series: String,
}

impl Caption {
    /// `subject` and the series number of its header `first` (never the
    /// descriptions, which may name the patient).
    pub fn new(subject: &str, first: Option<&InMemDicomObject>) -> Caption {
        let number = first
            .and_then(|o| o.get(tags::SERIES_NUMBER))
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Caption {
            subject: subject.to_string(),
            series: format!("series {number}"),
        }
    }
}

/// Render the sheet and write it to `path` (owner-only, atomically).
pub fn write(
    path: &Path,
    volume: &Volume,
    mask: &FaceMask,
    modality: Modality,
    caption: &Caption,
) -> Result<Sheet, String> {
    let sheet = render(volume, mask, modality, caption);
    let png = sheet.png();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    crate::dicom_file::write_private_atomically(path, |w| w.write_all(&png))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(sheet)
}

/// An RGB picture.
pub struct Sheet {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
    /// Head voxels, and how many of them the mask removes.
    pub head_voxels: usize,
    pub removed_head_voxels: usize,
}

impl Sheet {
    /// The share of head voxels removed, percent.
    pub fn removed_pct(&self) -> f64 {
        100.0 * self.removed_head_voxels as f64 / self.head_voxels.max(1) as f64
    }

    pub fn png(&self) -> Vec<u8> {
        crate::png::encode(self.width, self.height, 3, &self.rgb)
    }

    fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let n = 3 * (x + self.width * y);
            self.rgb[n..n + 3].copy_from_slice(&c);
        }
    }

    fn panel(&mut self, x0: usize, y0: usize, pixels: &[[u8; 3]]) {
        for (n, &c) in pixels.iter().enumerate() {
            self.put(x0 + n % PANEL, y0 + n / PANEL, c);
        }
    }

    /// `text` in the 8×8 font scaled by `scale`, from `(x0, y0)`; characters
    /// beyond ASCII are drawn as `?`.
    fn text(&mut self, x0: usize, y0: usize, scale: usize, text: &str, c: [u8; 3]) {
        for (n, ch) in text.chars().enumerate() {
            let code = if ch.is_ascii() {
                ch as usize
            } else {
                '?' as usize
            };
            let glyph = font8x8::legacy::BASIC_LEGACY[code];
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                self.put(x0 + (n * 8 + col) * scale + dx, y0 + row * scale + dy, c);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The volume's voxel at patient point `p` (nearest), if inside.
struct Sampler<'a> {
    volume: &'a Volume,
    to_voxel: Affine,
    /// The first and last voxel index on each axis that a ray may find
    /// solid (the box around the head): rays are walked only within it.
    bounds: [[usize; 2]; 3],
}

impl Sampler<'_> {
    /// How far (mm, in whole steps of 1 mm) along `dir` from `start` the
    /// first voxel `solid` takes lies, within `reach`; only the stretch of
    /// the ray inside the volume is walked.
    fn first_hit(
        &self,
        start: [f64; 3],
        dir: [f64; 3],
        reach: f64,
        solid: &(dyn Fn(usize) -> bool + Sync),
    ) -> Option<f64> {
        let a = &self.to_voxel;
        let u0 = apply(a, start);
        let du = [0, 1, 2].map(|r| a[r][0] * dir[0] + a[r][1] * dir[1] + a[r][2] * dir[2]);
        let dims = self.volume.dims;
        // The stretch of the ray within the bounds on every axis.
        let (mut lo, mut hi) = (0.0f64, reach);
        for d in 0..3 {
            let [first, last] = self.bounds[d];
            let (min, max) = (first as f64 - 0.5, last as f64 + 0.5);
            if du[d].abs() < 1e-12 {
                if u0[d] < min || u0[d] >= max {
                    return None;
                }
                continue;
            }
            let (t1, t2) = ((min - u0[d]) / du[d], (max - u0[d]) / du[d]);
            lo = lo.max(t1.min(t2));
            hi = hi.min(t1.max(t2));
        }
        if lo > hi {
            return None;
        }
        let last = dims.map(|n| (n - 1) as f64);
        (lo.ceil() as usize..=hi.floor() as usize).find_map(|t| {
            let t = t as f64;
            let u = [0, 1, 2].map(|d| round(u0[d] + du[d] * t).clamp(0.0, last[d]));
            let n = self
                .volume
                .index(u[0] as usize, u[1] as usize, u[2] as usize);
            solid(n).then_some(t)
        })
    }

    fn voxel(&self, p: [f64; 3]) -> Option<usize> {
        let u = apply(&self.to_voxel, p).map(round);
        let d = self.volume.dims;
        if u.iter().zip(d).all(|(&x, n)| x >= 0.0 && x < n as f64) {
            Some(
                self.volume
                    .index(u[0] as usize, u[1] as usize, u[2] as usize),
            )
        } else {
            None
        }
    }
}

fn add(a: [f64; 3], b: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] + b[0] * s, a[1] + b[1] * s, a[2] + b[2] * s]
}

fn norm(a: [f64; 3]) -> [f64; 3] {
    let l = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
    a.map(|x| x / l)
}

/// The point of pixel `(a, b)` of a panel centred on `centre` whose
/// horizontal axis is `right` and vertical axis `up` (LPS, unit vectors).
fn at(centre: [f64; 3], right: [f64; 3], up: [f64; 3], a: usize, b: usize) -> [f64; 3] {
    let half = PANEL as f64 / 2.0;
    add(add(centre, right, a as f64 - half), up, half - b as f64)
}

/// The skin seen along `view` (from the viewer into the head): the first
/// solid voxel on each ray, shaded by the slope of the depth.
fn surface(
    s: &Sampler,
    solid: &(dyn Fn(usize) -> bool + Sync),
    centre: [f64; 3],
    view: [f64; 3],
) -> Vec<[u8; 3]> {
    let up = [0.0, 0.0, 1.0];
    let right = norm([
        view[1] * up[2] - view[2] * up[1],
        view[2] * up[0] - view[0] * up[2],
        view[0] * up[1] - view[1] * up[0],
    ]);
    const REACH: f64 = 300.0;
    let depth: Vec<f64> = (0..PANEL)
        .into_par_iter()
        .flat_map_iter(|b| {
            (0..PANEL).map(move |a| {
                let start = add(at(centre, right, up, a, b), view, -REACH / 2.0);
                s.first_hit(start, view, REACH, solid).unwrap_or(f64::NAN)
            })
        })
        .collect();
    // Smooth the voxel staircase out of the depth (a 5×5 mean over the
    // rays that met the head), so the shading shows shape, not voxels.
    let raw = depth;
    let depth: Vec<f64> = (0..PANEL * PANEL)
        .map(|n| {
            let (a, b) = (n % PANEL, n / PANEL);
            if raw[n].is_nan() {
                return f64::NAN;
            }
            let (mut sum, mut count) = (0.0, 0.0);
            for y in b.saturating_sub(2)..(b + 3).min(PANEL) {
                for x in a.saturating_sub(2)..(a + 3).min(PANEL) {
                    let v = raw[x + PANEL * y];
                    if !v.is_nan() {
                        sum += v;
                        count += 1.0;
                    }
                }
            }
            sum / count
        })
        .collect();
    let d = |a: usize, b: usize| depth[a + PANEL * b];
    (0..PANEL * PANEL)
        .map(|n| {
            let (a, b) = (n % PANEL, n / PANEL);
            let here = d(a, b);
            if here.is_nan() {
                return [16, 16, 24];
            }
            let near = |x: f64| if x.is_nan() { here } else { x };
            let dx = near(d(a.saturating_sub(1), b)) - near(d((a + 1).min(PANEL - 1), b));
            let dy = near(d(a, b.saturating_sub(1))) - near(d(a, (b + 1).min(PANEL - 1)));
            // Lit from the viewer: a surface facing it is bright.
            let facing = 1.0 / (1.0 + 0.25 * (dx * dx + dy * dy)).sqrt();
            let fade = 1.0 - 0.4 * (here / REACH);
            let g = (255.0 * facing * fade).clamp(0.0, 255.0) as u8;
            [g, g, g.saturating_add(8)]
        })
        .collect()
}

/// The grey scale and the head threshold of the sheet: the volume's 2nd
/// and 99.5th percentiles and the model's head fraction between them, as
/// [`super::canonical::Intensities`] has them, over every 8th voxel (a picture does not need
/// more, and the sheet is made for every series).
struct Window {
    modality: Modality,
    lo: f32,
    hi: f32,
    threshold: f32,
}

impl Window {
    fn of(volume: &Volume, modality: Modality) -> Window {
        let sample: Vec<f32> = volume
            .data
            .iter()
            .step_by(8)
            .map(|&v| modality.clamp(v))
            .collect();
        let (lo, hi) = percentiles(&sample);
        Window {
            modality,
            lo,
            hi,
            threshold: lo + HEAD_FRACTION * (hi - lo),
        }
    }

    fn grey(&self, v: f32) -> u8 {
        ((self.modality.clamp(v) - self.lo) / (self.hi - self.lo) * 255.0).clamp(0.0, 255.0) as u8
    }
}

/// A plane through the volume, grey from the dark to the bright end of
/// its intensities, removed voxels tinted red.
fn plane(
    s: &Sampler,
    window: &Window,
    mask: &FaceMask,
    centre: [f64; 3],
    right: [f64; 3],
    up: [f64; 3],
) -> Vec<[u8; 3]> {
    (0..PANEL * PANEL)
        .map(|n| {
            let Some(v) = s.voxel(at(centre, right, up, n % PANEL, n / PANEL)) else {
                return [0, 0, 0];
            };
            let g = window.grey(s.volume.data[v]);
            if mask.removed[v] {
                [g / 2 + 127, g / 3, g / 3]
            } else {
                [g, g, g]
            }
        })
        .collect()
}

/// The first and last index along each axis of the voxels set in `set`
/// (the whole grid when none is).
fn bounds(dims: [usize; 3], set: &[bool]) -> [[usize; 2]; 3] {
    let mut b = dims.map(|n| [n, 0]);
    let (nx, ny) = (dims[0], dims[1]);
    for (n, _) in set.iter().enumerate().filter(|&(_, &s)| s) {
        for (d, x) in [n % nx, n / nx % ny, n / (nx * ny)].into_iter().enumerate() {
            b[d] = [b[d][0].min(x), b[d][1].max(x)];
        }
    }
    if b[0][0] > b[0][1] {
        return dims.map(|n| [0, n - 1]);
    }
    b
}

/// The mean position (LPS) of the voxels `select` takes, if any.
fn centroid(volume: &Volume, select: impl Fn(usize) -> bool) -> Option<[f64; 3]> {
    let [nx, ny, _] = volume.dims;
    let (mut sum, mut count) = ([0.0f64; 3], 0usize);
    for n in (0..volume.data.len()).filter(|&n| select(n)) {
        sum[0] += (n % nx) as f64;
        sum[1] += (n / nx % ny) as f64;
        sum[2] += (n / (nx * ny)) as f64;
        count += 1;
    }
    (count > 0).then(|| apply(&volume.affine_lps, sum.map(|x| x / count as f64)))
}

/// The QA sheet of `volume` (of `modality`) defaced by `mask`.
pub fn render(volume: &Volume, mask: &FaceMask, modality: Modality, caption: &Caption) -> Sheet {
    let window = Window::of(volume, modality);
    let head: Vec<bool> = volume
        .data
        .iter()
        .map(|&v| modality.clamp(v) > window.threshold)
        .collect();
    let head_voxels = head.iter().filter(|&&h| h).count();
    let removed_head_voxels = head
        .iter()
        .zip(&mask.removed)
        .filter(|&(&h, &r)| h && r)
        .count();
    let width = 4 * PANEL + 5 * GAP;
    let height = HEADER + 2 * PANEL + 3 * GAP;
    let mut sheet = Sheet {
        width,
        height,
        rgb: vec![0; 3 * width * height],
        head_voxels,
        removed_head_voxels,
    };
    let sampler = Sampler {
        volume,
        to_voxel: inverse(&volume.affine_lps).unwrap_or([[0.0; 4]; 4]),
        bounds: bounds(volume.dims, &head),
    };
    let middle = [0, 1, 2].map(|d| (volume.dims[d] as f64 - 1.0) / 2.0);
    let centre = centroid(volume, |n| head[n]).unwrap_or(apply(&volume.affine_lps, middle));
    let face = centroid(volume, |n| mask.removed[n]).unwrap_or(centre);

    let before = |n: usize| head[n];
    let after = |n: usize| head[n] && !mask.removed[n];
    // From the patient's left (+x in LPS) and from the front-left.
    let lateral = [-1.0, 0.0, 0.0];
    let oblique = norm([-1.0, 1.0, 0.0]);
    let top = HEADER + GAP;
    let column = |c: usize| GAP + c * (PANEL + GAP);
    let front = [0.0, 1.0, 0.0];
    let second = top + PANEL + GAP;
    for (c, y, view, solid) in [
        (0, top, lateral, &before as &(dyn Fn(usize) -> bool + Sync)),
        (1, top, lateral, &after),
        (2, top, oblique, &before),
        (3, top, oblique, &after),
        (2, second, front, &before),
        (3, second, front, &after),
    ] {
        let pixels = surface(&sampler, solid, centre, view);
        sheet.panel(column(c), y, &pixels);
    }
    // Mid-sagittal: anterior left, superior up. Axial through the removed
    // region: the patient's right on the left, anterior up.
    let sagittal = plane(
        &sampler,
        &window,
        mask,
        centre,
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
    );
    sheet.panel(column(0), second, &sagittal);
    let axial = plane(
        &sampler,
        &window,
        mask,
        [centre[0], centre[1], face[2]],
        [1.0, 0.0, 0.0],
        [0.0, -1.0, 0.0],
    );
    sheet.panel(column(1), second, &axial);

    let white = [235, 235, 235];
    let title = format!("{}  {}", caption.subject, caption.series);
    sheet.text(GAP, 6, 2, &title, white);
    let summary = format!(
        "removed {:.2} % of head voxels ({} of {}); {} x {} x {} voxels of {:.2} x {:.2} x {:.2} mm",
        sheet.removed_pct(),
        removed_head_voxels,
        head_voxels,
        volume.dims[0],
        volume.dims[1],
        volume.dims[2],
        volume.spacing()[0],
        volume.spacing()[1],
        volume.spacing()[2],
    );
    sheet.text(GAP, 30, 1, &summary, white);
    let labels = [
        "left, before",
        "left, after",
        "front-left, before",
        "front-left, after",
    ];
    for (c, label) in labels.iter().enumerate() {
        sheet.text(column(c) + 4, top + 4, 1, label, [255, 220, 80]);
    }
    sheet.text(column(0) + 4, second + 4, 1, "mid-sagittal", [255, 220, 80]);
    sheet.text(column(1) + 4, second + 4, 1, "axial", [255, 220, 80]);
    sheet.text(
        column(2) + 4,
        second + 4,
        1,
        "front, before",
        [255, 220, 80],
    );
    sheet.text(column(3) + 4, second + 4, 1, "front, after", [255, 220, 80]);
    sheet
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deface::resample::IDENTITY;

    /// A 2 mm ball of "head" with a box of it removed at the front.
    fn ball() -> (Volume, FaceMask) {
        let n = 80;
        let mut affine = IDENTITY;
        for (d, row) in affine.iter_mut().enumerate().take(3) {
            row[d] = 2.0;
        }
        let c = (n as f64 - 1.0) / 2.0;
        let mut data = vec![0.0f32; n * n * n];
        let mut removed = vec![false; n * n * n];
        for k in 0..n {
            for j in 0..n {
                for i in 0..n {
                    let r =
                        ((i as f64 - c).powi(2) + (j as f64 - c).powi(2) + (k as f64 - c).powi(2))
                            .sqrt();
                    let at = i + n * (j + n * k);
                    if r < 30.0 {
                        data[at] = 500.0;
                        // The front (small j) quarter of the ball.
                        removed[at] = (j as f64) < c - 20.0;
                    }
                }
            }
        }
        (
            Volume {
                dims: [n; 3],
                data,
                affine_lps: affine,
            },
            FaceMask {
                dims: [n; 3],
                removed,
                made_by: crate::deface::face_mask::MadeBy::Model,
            },
        )
    }

    #[test]
    fn the_sheet_shows_the_removed_part_and_counts_it() {
        let (v, m) = ball();
        let caption = Caption {
            subject: "sub-01".into(),
            series: "series 3".into(),
        };
        let sheet = render(&v, &m, Modality::Mr, &caption);
        assert_eq!(sheet.rgb.len(), 3 * sheet.width * sheet.height);
        let removed = m.removed.iter().filter(|&&r| r).count();
        assert_eq!(sheet.removed_head_voxels, removed);
        assert!(sheet.removed_pct() > 1.0 && sheet.removed_pct() < 20.0);
        // The lateral render after defacing shows less skin than before.
        let lit = |c: usize| {
            let x0 = GAP + c * (PANEL + GAP);
            (HEADER + GAP..HEADER + GAP + PANEL)
                .flat_map(|y| (x0..x0 + PANEL).map(move |x| (x, y)))
                .filter(|&(x, y)| sheet.rgb[3 * (x + sheet.width * y)] > 40)
                .count()
        };
        assert!(lit(1) < lit(0), "{} vs {}", lit(1), lit(0));
        // Red tint on the sagittal panel.
        let second = HEADER + 2 * GAP + PANEL;
        let red = (second..second + PANEL)
            .flat_map(|y| (GAP..GAP + PANEL).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let n = 3 * (x + sheet.width * y);
                sheet.rgb[n] > 150 && sheet.rgb[n + 1] < 100
            })
            .count();
        assert!(red > 100, "{red} red pixels");
        assert!(sheet.png().starts_with(b"\x89PNG"));
    }
}
