//! Head CT acquired with the gantry tilted (0°, 5°, 15°, 30°) or with
//! slices missing: each series is resampled onto an orthogonal grid,
//! defaced there, and the mask mapped back onto its own slices. The same
//! head acquired untilted is the reference: the share of its face voxels
//! removed must be the same within one percentage point, and the rest of
//! the head must not lose more.

mod common;

use std::path::Path;

use common::head_phantom::{
    Case, Contrast, Identity, Rng, Tally, Template, case_on, remove_slices, scanner_grid,
    write_series,
};
use dicom_anonymizer::deface::canonical::Modality;
use dicom_anonymizer::deface::edit::removed_on_slices;
use dicom_anonymizer::deface::face_mask::Settings;
use dicom_anonymizer::deface::model::FaceMaskModel;
use dicom_anonymizer::deface::pipeline::judge_series;
use dicom_anonymizer::deface::resample::pose;
use dicom_anonymizer::deface::series::series_headers;

/// In-plane pixels and their size, mm; slices of the untilted scan, and
/// the table's step between slices, mm.
const N: usize = 128;
const MM: f64 = 2.0;
const SLICES: usize = 128;
const TABLE_STEP: f64 = 2.0;

/// The head scanned at `tilt_deg`, with enough slices that the tilted
/// stack still covers it.
fn scan(template: &Template, tilt_deg: f64) -> Case {
    let extra = (N as f64 * MM * tilt_deg.to_radians().sin() / TABLE_STEP).ceil() as usize;
    let slices = SLICES + extra;
    assert_ne!(slices % 37, 0, "write_series names files by k·37 mod n");
    let grid = scanner_grid(template, [N, slices], MM, TABLE_STEP, tilt_deg);
    let head_pose = pose([6.0, -4.0, 3.0], 1.0, [3.0, -5.0, 2.0], template.centre);
    case_on(
        template,
        Contrast::Ct,
        head_pose,
        format!("tilt {tilt_deg}°"),
        grid,
        1.0,
        &mut Rng::new(31),
    )
}

/// Write `case` as a CT series (only the slices `keep` takes), deface it
/// as `anonymize` and `deface` do, and count on the written slices which
/// of their face and other head pixels the mask removes; with the grid
/// the series was defaced on.
fn deface(
    dir: &Path,
    case: &Case,
    model: &FaceMaskModel,
    keep: impl Fn(usize) -> bool,
) -> (Tally, [usize; 3]) {
    let [nx, ny, nz] = case.image.dims;
    let who = Identity {
        patient_name: "Tilt^Gantry",
        patient_id: "T-1",
        uid: 77,
        body_part: "HEAD",
        description: "Head CT",
    };
    write_series(dir, &case.image, Modality::Ct, &who);
    let kept: Vec<usize> = (0..nz).filter(|&k| keep(k)).collect();
    remove_slices(dir, nz, (0..nz).filter(|&k| !keep(k)));
    let mut series = series_headers(dir).unwrap();
    assert_eq!(series.len(), 1);
    let (first, paths) = series.pop_first().unwrap().1;
    let (report, defaced) = judge_series(&first, paths, model, &Settings::default());
    let d = defaced.unwrap_or_else(|| panic!("{}: {report}", case.description));
    let removed = removed_on_slices(&d.slices, &d.volume, &d.mask);
    assert_eq!(removed.len(), kept.len());
    let mut t = Tally::default();
    // The slices are in position order: the order of the scan's k.
    for (slice, &k) in removed.iter().zip(&kept) {
        assert_eq!(slice.len(), nx * ny);
        for (n, &r) in slice.iter().enumerate() {
            t.add(case, n + nx * ny * k, r);
        }
    }
    (t, d.volume.dims)
}

fn report(what: &str, (t, grid): &(Tally, [usize; 3])) {
    println!(
        "{what:<28} defaced on {grid:?}: face removed {:6.2} % ({} voxels), other head removed {:5.2} %",
        t.face_pct(),
        t.face,
        t.other_pct()
    );
}

#[test]
fn tilted_and_gappy_head_ct_loses_the_same_face_as_the_untilted_scan() {
    let Some(template) = Template::load() else {
        return;
    };
    let model = FaceMaskModel::bundled().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let straight = scan(&template, 0.0);
    let (reference, grid) = deface(&tmp.path().join("0"), &straight, model, |_| true);
    report("untilted", &(reference, grid));
    assert_eq!(grid, [N, N, SLICES], "untilted: the slices' own grid");
    assert!(reference.face_pct() > 95.0, "{reference:?}");

    let mut cases: Vec<(String, (Tally, [usize; 3]))> = Vec::new();
    for tilt in [5.0, 15.0, 30.0] {
        let case = scan(&template, tilt);
        let (t, grid) = deface(&tmp.path().join(format!("{tilt}")), &case, model, |_| true);
        let [_, ny, nz] = case.image.dims;
        // Resampled: taller by the shear, the slices' own count along the normal.
        assert!(grid[1] > ny && grid[2] == nz, "{tilt}°: {grid:?}");
        cases.push((format!("tilt {tilt}°"), (t, grid)));
    }
    // One slice in five missing (gaps of 4 mm among gaps of 2 mm).
    let keep = |k: usize| k % 5 != 2;
    let gappy = deface(&tmp.path().join("gaps"), &straight, model, keep);
    let last = (0..SLICES).rfind(|&k| keep(k)).unwrap();
    assert_eq!(gappy.1, [N, N, last + 1], "the missing slices interpolated");
    cases.push(("one slice in five missing".into(), gappy));

    for (what, t) in &cases {
        report(what, t);
    }
    for (what, (t, _)) in &cases {
        assert!(
            (t.face_pct() - reference.face_pct()).abs() <= 1.0,
            "{what}: {:.2} % of the face removed, untilted {:.2} %",
            t.face_pct(),
            reference.face_pct()
        );
        assert!(
            t.other_pct() <= reference.other_pct() + 1.0,
            "{what}: {:.2} % of the rest of the head removed, untilted {:.2} %",
            t.other_pct(),
            reference.other_pct()
        );
    }
}
