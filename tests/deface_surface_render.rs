//! The skin surface seen from the front, before and after defacing: depth
//! renders written as PNG under the test output (`target/tmp/deface-renders/`)
//! for a person to look at, and checked: the face's surface recedes, the
//! rest of the head's surface stays where it was.

mod common;

use common::head_phantom::{Contrast, Rng, Template, axial_volume};
use common::png;
use dicom_anonymizer::deface::canonical::{Modality, percentiles};
use dicom_anonymizer::deface::face_mask::{Settings, apply_mask, face_mask};
use dicom_anonymizer::deface::model::FaceMaskModel;
use dicom_anonymizer::deface::resample::{Interpolation, pose, resample};
use dicom_anonymizer::deface::volume::Volume;

/// For each column i and slice k, the first row j (from the front: j grows
/// towards the back) whose voxel is head; `None` where the ray meets none.
fn depth_map(v: &Volume, threshold: f32) -> Vec<Option<usize>> {
    let [nx, ny, nz] = v.dims;
    let mut d = vec![None; nx * nz];
    for k in 0..nz {
        for i in 0..nx {
            d[i + nx * k] = (0..ny).find(|&j| v.get(i, j, k) > threshold);
        }
    }
    d
}

/// A shaded picture of a depth map: near is bright; superior is up.
fn render(depth: &[Option<usize>], nx: usize, nz: usize, ny: usize) -> Vec<u8> {
    let mut px = vec![0u8; nx * nz];
    for k in 0..nz {
        for i in 0..nx {
            let at = |i: usize, k: usize| depth[i + nx * k].map(|d| d as f64);
            let Some(d) = at(i, k) else { continue };
            // Light from the upper left: the slope of the surface shades it.
            let dx =
                at(i.saturating_sub(1), k).unwrap_or(d) - at((i + 1).min(nx - 1), k).unwrap_or(d);
            let dz =
                at(i, k.saturating_sub(1)).unwrap_or(d) - at(i, (k + 1).min(nz - 1)).unwrap_or(d);
            let near = 1.0 - d / ny as f64;
            let light = (0.5 + 0.15 * (dx - dz)).clamp(0.0, 1.0);
            let v = 255.0 * (0.25 + 0.5 * near + 0.25 * light);
            px[i + nx * (nz - 1 - k)] = v.clamp(0.0, 255.0) as u8;
        }
    }
    px
}

#[test]
fn the_face_surface_recedes_and_the_rest_of_the_head_surface_stays() {
    let Some(template) = Template::load() else {
        return;
    };
    let model = FaceMaskModel::bundled().unwrap();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("deface-renders");
    std::fs::create_dir_all(&out).unwrap();
    let mut rng = Rng::new(99);
    for (contrast, name) in [(Contrast::Ct, "ct"), (Contrast::T1, "t1")] {
        let p = pose([-7.0, 4.0, 6.0], 1.04, [3.0, 5.0, -4.0], template.centre);
        let v = axial_volume(&template, contrast, p, [128, 96], 2.0, &mut rng);
        let modality = contrast.modality();
        let mask = face_mask(&v, modality, model, &Settings::default()).unwrap();
        let defaced = apply_mask(&v, &mask, modality.background());
        let threshold = match modality {
            Modality::Ct => -500.0,
            Modality::Mr => {
                let (lo, hi) = percentiles(&v.data);
                lo + 0.1 * (hi - lo)
            }
        };
        let [nx, ny, nz] = v.dims;
        let before = depth_map(&v, threshold);
        let after = depth_map(&defaced, threshold);
        for (depth, suffix) in [(&before, "input"), (&after, "defaced")] {
            let path = out.join(format!("{name}_{suffix}.png"));
            png::write_grey(&path, nx, nz, &render(depth, nx, nz, ny));
            // A PNG ends with the IEND chunk and its known CRC.
            let bytes = std::fs::read(&path).unwrap();
            assert!(bytes.starts_with(b"\x89PNG") && bytes.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
            println!("wrote {}", path.display());
        }
        // Which surface points are face: the template's face mask, posed.
        let face = resample(
            &template.face,
            v.dims,
            v.affine_lps,
            &p,
            Interpolation::Nearest,
            0.0,
        )
        .unwrap();
        let (mut face_px, mut face_gone, mut other_px, mut other_kept) = (0, 0, 0, 0);
        let mut nose = (usize::MAX, usize::MAX);
        for k in 0..nz {
            for i in 0..nx {
                let Some(j) = before[i + nx * k] else {
                    continue;
                };
                let after_j = after[i + nx * k];
                if face.get(i, j, k) > 0.5 {
                    face_px += 1;
                    // Gone or at least 5 mm (2.5 voxels) further back.
                    if after_j.is_none_or(|a| a >= j + 3) {
                        face_gone += 1;
                    }
                    nose = nose.min((j, after_j.unwrap_or(ny)));
                } else {
                    other_px += 1;
                    if after_j == Some(j) {
                        other_kept += 1;
                    }
                }
            }
        }
        let gone = 100.0 * face_gone as f64 / face_px as f64;
        let kept = 100.0 * other_kept as f64 / other_px as f64;
        println!(
            "{name}: {gone:.1} % of the face's surface receded, {kept:.1} % of the rest of the head's surface unchanged; the nearest face point moved from row {} to {}",
            nose.0, nose.1
        );
        assert!(face_px > 500, "{face_px}");
        assert!(
            gone >= 90.0,
            "{name}: only {gone:.1} % of the face surface receded"
        );
        assert!(
            kept >= 85.0,
            "{name}: only {kept:.1} % of the rest of the surface kept"
        );
        assert!(
            nose.1 >= nose.0 + 8,
            "{name}: the front of the face moved only {} rows",
            nose.1 as i64 - nose.0 as i64
        );
    }
}
