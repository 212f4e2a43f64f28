//! The material the face-mask model is made from and measured on: pydeface's
//! full-head template and face mask (from its PyPI wheel), read through our
//! NIfTI reader, and moved through head poses by our resampler.

mod common;

use dicom_anonymizer::deface::nifti;
use dicom_anonymizer::deface::resample::{IDENTITY, Interpolation, apply, inverse, pose, resample};
use dicom_anonymizer::deface::volume::Volume;

fn load() -> Option<(Volume, Volume)> {
    let dir = common::reference::pydeface_template()?;
    let head = nifti::read(&dir.join("mean_reg2mean.nii.gz")).unwrap();
    let mask = nifti::read(&dir.join("facemask.nii.gz")).unwrap();
    Some((head, mask))
}

/// Voxels of the head: brighter than a tenth of the maximum.
fn head_voxels(head: &Volume) -> Vec<bool> {
    let max = head.data.iter().cloned().fold(f32::MIN, f32::max);
    head.data.iter().map(|&v| v > 0.1 * max).collect()
}

#[test]
fn the_template_and_its_face_mask_are_read_with_their_geometry() {
    let Some((head, mask)) = load() else { return };
    assert_eq!(head.dims, [176, 256, 256]);
    assert_eq!(mask.dims, head.dims);
    // nibabel reads this sform (RAS): x row [1.0, 0.05, 0.01, -100.01].
    let ras = head.affine_ras();
    for (got, want) in ras[0].iter().zip([1.0, 0.05, 0.01, -100.01]) {
        assert!((got - want).abs() < 0.01, "{:?}", ras[0]);
    }
    assert!((ras[1][3] + 113.16).abs() < 0.01 && (ras[2][3] + 121.89).abs() < 0.01);

    // The face (mask 0 inside the head) is in front of the head's centre.
    let inside = head_voxels(&head);
    let (mut face, mut all) = ((0usize, 0.0), (0usize, 0.0));
    for k in 0..head.dims[2] {
        for j in 0..head.dims[1] {
            for i in 0..head.dims[0] {
                let n = head.index(i, j, k);
                if !inside[n] {
                    continue;
                }
                let y_ras = apply(&ras, [i as f64, j as f64, k as f64])[1];
                all = (all.0 + 1, all.1 + y_ras);
                if mask.data[n] < 0.5 {
                    face = (face.0 + 1, face.1 + y_ras);
                }
            }
        }
    }
    println!("head {} voxels, face {} voxels", all.0, face.0);
    assert!(face.0 > 50_000 && face.0 < all.0 / 5, "{face:?} of {all:?}");
    assert!(
        face.1 / face.0 as f64 > all.1 / all.0 as f64 + 30.0,
        "the face is anterior"
    );
}

#[test]
fn poses_move_the_mask_and_their_inverse_moves_it_back() {
    let Some((head, mask)) = load() else { return };
    // A 2 mm grid over the same field of view keeps the test quick.
    let mut grid = head.affine_lps;
    for row in grid.iter_mut().take(3) {
        for v in row.iter_mut().take(3) {
            *v *= 2.0;
        }
    }
    let dims = head.dims.map(|d| d / 2);
    // The face voxels inside the head (the mask's zeros reach out into the
    // air in front of the face, to the edge of the field of view).
    let head_small = resample(&head, dims, grid, &IDENTITY, Interpolation::Linear, 0.0).unwrap();
    let inside = head_voxels(&head_small);
    let face = |v: &Volume| {
        v.data
            .iter()
            .zip(&inside)
            .map(|(&x, &h)| x < 0.5 && h)
            .collect::<Vec<bool>>()
    };
    let still = resample(&mask, dims, grid, &IDENTITY, Interpolation::Nearest, 1.0).unwrap();
    let center = apply(&head.affine_lps, [88.0, 128.0, 128.0]);
    // Rotated, scaled and moved back (LPS +y is posterior), staying in view.
    let p = pose([12.0, -9.0, 14.0], 1.07, [8.0, 15.0, 6.0], center);
    let moved = resample(&mask, dims, grid, &p, Interpolation::Nearest, 1.0).unwrap();
    let back = resample(
        &moved,
        dims,
        grid,
        &inverse(&p).unwrap(),
        Interpolation::Nearest,
        1.0,
    )
    .unwrap();
    let (a, b, c) = (face(&still), face(&moved), face(&back));
    let dice = |x: &[bool], y: &[bool]| {
        let both = x.iter().zip(y).filter(|(p, q)| **p && **q).count() as f64;
        2.0 * both / (x.iter().filter(|p| **p).count() + y.iter().filter(|q| **q).count()) as f64
    };
    println!(
        "dice still/moved {:.3}, still/back {:.3}",
        dice(&a, &b),
        dice(&a, &c)
    );
    assert!(dice(&a, &b) < 0.8, "the pose really moves the face");
    // Two nearest-neighbour resamplings of a shell a few voxels thick lose
    // some voxels at its edges.
    assert!(dice(&a, &c) > 0.9, "and its inverse brings it back");
    // Linear resampling at the voxel centres gives the values back.
    let same = resample(
        &head,
        head.dims,
        head.affine_lps,
        &IDENTITY,
        Interpolation::Linear,
        0.0,
    )
    .unwrap();
    assert!(
        same.data
            .iter()
            .zip(&head.data)
            .all(|(x, y)| (x - y).abs() < 1e-3)
    );
}
