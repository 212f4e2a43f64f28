//! Text burned into frames the way scanners and workstations do it, for
//! the burned-in text tests: real frames from pydicom's corpus, scaled to
//! the size of an ultrasound frame, with names, IDs, dates and accession
//! numbers (and whitelisted words) rendered over them in Debian's fonts
//! (fonts-dejavu-core, fonts-liberation) with ab_glyph.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};

use super::head_phantom::Rng;

/// The TrueType fonts the text is drawn in (panics when fewer than four
/// are installed: `tests/run.sh` installs them).
pub fn fonts() -> Vec<(String, FontVec)> {
    let wanted = [
        "dejavu/DejaVuSans.ttf",
        "dejavu/DejaVuSansMono.ttf",
        "dejavu/DejaVuSerif.ttf",
        "dejavu/DejaVuSans-Bold.ttf",
        "liberation/LiberationSans-Regular.ttf",
        "liberation/LiberationMono-Regular.ttf",
        "liberation/LiberationSerif-Bold.ttf",
        "liberation2/LiberationSans-Regular.ttf",
        "liberation2/LiberationMono-Regular.ttf",
        "liberation2/LiberationSerif-Bold.ttf",
    ];
    let mut out = Vec::new();
    for w in wanted {
        let path = Path::new("/usr/share/fonts/truetype").join(w);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if out.iter().any(|(n, _)| *n == name) {
            continue;
        }
        if let Ok(bytes) = std::fs::read(&path) {
            out.push((name, FontVec::try_from_vec(bytes).expect("a TrueType font")));
        }
    }
    assert!(
        out.len() >= 4,
        "the burned-in text tests need fonts-dejavu-core and fonts-liberation (tests/run.sh installs them); found {:?}",
        out.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    out
}

/// An RGB frame with text drawn on it, and where the text is.
pub struct Burned {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
    /// For each pixel: 0 no text, 1 the text's anti-aliased edge, 2 a
    /// glyph pixel (coverage of at least a half) of an identifying string,
    /// 3 a glyph pixel of a whitelisted word.
    pub label: Vec<u8>,
    pub strings: Vec<String>,
}

pub const EDGE: u8 = 1;
pub const PHI: u8 = 2;
pub const LISTED: u8 = 3;

fn luma(c: [u8; 3]) -> u8 {
    ((u32::from(c[0]) * 3 + u32::from(c[1]) * 6 + u32::from(c[2])) / 10) as u8
}

/// The mean luminance of `rgb` in the box `[x0, y0, x1, y1]`.
fn mean_luma(rgb: &[u8], width: usize, height: usize, b: [f32; 4]) -> f32 {
    let (x0, y0) = (b[0].max(0.0) as usize, b[1].max(0.0) as usize);
    let (x1, y1) = ((b[2] as usize).min(width), (b[3] as usize).min(height));
    let (mut sum, mut n) = (0f32, 0f32);
    for y in y0..y1 {
        for x in x0..x1 {
            let p = &rgb[(y * width + x) * 3..(y * width + x) * 3 + 3];
            sum += f32::from(luma([p[0], p[1], p[2]]));
            n += 1.0;
        }
    }
    if n == 0.0 { 0.0 } else { sum / n }
}

const COLOURS: &[[u8; 3]] = &[
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 0],
    [0, 255, 255],
    [205, 205, 205],
    [255, 165, 0],
    [24, 24, 24],
    [48, 48, 48],
    [0, 0, 170],
];

const GIVEN: &[&str] = &[
    "JOHN", "Jane", "MARIA", "Ahmed", "WEI", "Olga", "PIERRE", "Aiko", "Kwame", "LUCIA",
];
const FAMILY: &[&str] = &[
    "DOE", "Smith", "GARCIA", "Nguyen", "MUELLER", "Okafor", "ROSSI", "Tanaka", "KOWALSKI",
    "Haddad",
];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn pick<'a>(rng: &mut Rng, from: &[&'a str]) -> &'a str {
    from[(rng.next_u64() % from.len() as u64) as usize]
}

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + (rng.next_u64() % 10) as u8))
        .collect()
}

/// An identifying string of one of the kinds burned into images.
pub fn identifying(rng: &mut Rng) -> String {
    let (y, m, d) = (
        1930 + rng.next_u64() % 90,
        1 + rng.next_u64() % 12,
        1 + rng.next_u64() % 28,
    );
    match rng.next_u64() % 9 {
        0 => format!(
            "{}^{}",
            pick(rng, FAMILY).to_uppercase(),
            pick(rng, GIVEN).to_uppercase()
        ),
        1 => format!("{}, {}", pick(rng, FAMILY), pick(rng, GIVEN)),
        2 => format!("MRN: {}", digits(rng, 7)),
        3 => format!("ID {}-{}", digits(rng, 4), digits(rng, 4)),
        4 => format!("DOB {d:02}/{m:02}/{y}"),
        5 => format!("{y}-{m:02}-{d:02}"),
        6 => format!("{d:02}-{}-{y}", MONTHS[(m - 1) as usize]),
        7 => format!("ACC A{}", digits(rng, 8)),
        _ => format!(
            "{} {} {}",
            pick(rng, GIVEN),
            pick(rng, FAMILY),
            digits(rng, 6)
        ),
    }
}

/// The advance width, ascent and descent of `text` in `font` at `size` px.
fn layout(font: &FontVec, size: f32, text: &str) -> (f32, f32, f32) {
    let scaled = font.as_scaled(PxScale::from(size));
    let width: f32 = text
        .chars()
        .map(|c| scaled.h_advance(scaled.glyph_id(c)))
        .sum();
    (width, scaled.ascent(), -scaled.descent())
}

/// Draw `text` at (`x`, `baseline`) in `font` at `size` px: `plot` gets
/// each covered pixel and its coverage.
fn draw(
    font: &FontVec,
    size: f32,
    text: &str,
    x: f32,
    baseline: f32,
    mut plot: impl FnMut(i64, i64, f32),
) {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut pen = x;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        let glyph = id.with_scale_and_position(PxScale::from(size), point(pen, baseline));
        pen += scaled.h_advance(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, cov| {
                plot(b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64, cov)
            });
        }
    }
}

/// `frame` (RGB, `fw`×`fh`) scaled to `width`×`height`, with 2–4
/// identifying strings and, when `listed` is not empty, some of those
/// words, drawn where they do not touch one another.
#[allow(clippy::too_many_arguments)]
pub fn burn(
    rng: &mut Rng,
    fonts: &[(String, FontVec)],
    frame: &[u8],
    fw: usize,
    fh: usize,
    width: usize,
    height: usize,
    grey: bool,
    listed: &[&str],
) -> Burned {
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let sx = (x * fw / width).min(fw - 1);
            let sy = (y * fh / height).min(fh - 1);
            let p = &frame[(sy * fw + sx) * 3..(sy * fw + sx) * 3 + 3];
            if grey {
                let l = ((u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) / 10) as u8;
                rgb.extend_from_slice(&[l, l, l]);
            } else {
                rgb.extend_from_slice(p);
            }
        }
    }
    let mut label = vec![0u8; width * height];
    let mut taken: Vec<[f32; 4]> = Vec::new();
    let mut strings = Vec::new();
    let n_phi = 2 + (rng.next_u64() % 3) as usize;
    let n_listed = if listed.is_empty() {
        0
    } else {
        (rng.next_u64() % 3) as usize
    };
    for k in 0..n_phi + n_listed {
        let is_phi = k < n_phi;
        let text = if is_phi {
            identifying(rng)
        } else {
            pick(rng, listed).to_string()
        };
        let (name, font) = &fonts[(rng.next_u64() % fonts.len() as u64) as usize];
        let _ = name;
        let size = if is_phi {
            rng.uniform(12.0, 26.0) as f32
        } else {
            rng.uniform(18.0, 28.0) as f32
        };
        let (w, ascent, descent) = layout(font, size, &text);
        let mut placed = None;
        // Somewhere it fits, clear of the others by 8 px, in a colour that
        // stands out from what is under every part of it, as a
        // workstation's annotation does (a luminance difference of 100 or
        // more from each 16×8 pixels of the background under it).
        for _ in 0..400 {
            let x = rng.uniform(4.0, (width as f64 - w as f64 - 4.0).max(5.0)) as f32;
            let top = rng.uniform(
                4.0,
                (height as f64 - (ascent + descent) as f64 - 4.0).max(5.0),
            ) as f32;
            let b = [
                x - 8.0,
                top - 8.0,
                x + w + 8.0,
                top + ascent + descent + 8.0,
            ];
            if !taken
                .iter()
                .all(|t| b[2] < t[0] || t[2] < b[0] || b[3] < t[1] || t[3] < b[1])
            {
                continue;
            }
            let mut under = Vec::new();
            let (t0, t1) = (b[1] + 8.0, b[3] - 8.0);
            let mut y = t0;
            while y < t1 {
                let mut x = b[0] + 8.0;
                while x < b[2] - 8.0 {
                    let cell = [x, y, (x + 16.0).min(b[2] - 8.0), (y + 8.0).min(t1)];
                    under.push(mean_luma(&rgb, width, height, cell));
                    x += 16.0;
                }
                y += 8.0;
            }
            let readable: Vec<[u8; 3]> = COLOURS
                .iter()
                .copied()
                .map(|c| {
                    if grey {
                        let l = luma(c);
                        [l, l, l]
                    } else {
                        c
                    }
                })
                .filter(|&c| {
                    under
                        .iter()
                        .all(|u| (f32::from(luma(c)) - u).abs() >= 100.0)
                })
                .collect();
            if !readable.is_empty() {
                placed = Some((x, top + ascent, b, readable));
                break;
            }
        }
        let Some((x, baseline, b, readable)) = placed else {
            continue;
        };
        let colour = readable[(rng.next_u64() % readable.len() as u64) as usize];
        taken.push(b);
        strings.push(text.clone());
        draw(font, size, &text, x, baseline, |px, py, cov| {
            if px < 0 || py < 0 || px as usize >= width || py as usize >= height || cov <= 0.0 {
                return;
            }
            let at = py as usize * width + px as usize;
            for c in 0..3 {
                let v = &mut rgb[at * 3 + c];
                *v = (f32::from(*v) * (1.0 - cov) + f32::from(colour[c]) * cov).round() as u8;
            }
            let l = if cov >= 0.5 {
                if is_phi { PHI } else { LISTED }
            } else {
                EDGE
            };
            label[at] = label[at].max(l);
        });
    }
    Burned {
        width,
        height,
        rgb,
        label,
        strings,
    }
}

/// Where the backgrounds come from: decodable image files of pydicom's
/// corpus (CT, MR, NM, secondary captures, an ultrasound frame, RGB and
/// multi-frame files).
pub fn background_files(corpus: &Path) -> Vec<PathBuf> {
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "JPGExtended.dcm",
        "SC_rgb_jpeg_dcmd.dcm",
        "SC_jpeg_no_color_transform.dcm",
        "SC_jpeg_no_color_transform_2.dcm",
        "SC_rgb_rle_2frame.dcm",
        "SC_ybr_full_422_uncompressed.dcm",
        "image_dfl.dcm",
        "ExplVR_BigEnd.dcm",
        "JPEG-lossy.dcm",
        "SC_rgb_rle_16bit.dcm",
    ]
    .iter()
    .map(|f| corpus.join("test_files").join(f))
    .collect()
}
