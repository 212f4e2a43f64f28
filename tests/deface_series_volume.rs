//! The first steps of the deface stage: a DICOM series assembled into a
//! volume (slices ordered by position, rescaled, geometry kept; a tilted or
//! gappy stack resampled), what cannot be a volume refused with its reason, and the volume written as NIfTI with
//! the right RAS affine in both qform and sform.

mod common;

use std::path::Path;

use common::synthetic::text;
use dicom_anonymizer::deface::nifti;
use dicom_anonymizer::deface::series::{NotAVolume, Slice, assemble, group_series};
use dicom_core::value::{PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;

const COLS: usize = 16;
const ROWS: usize = 20;
/// An oblique orientation: rows along (cos 20°, sin 20°, 0), columns along z.
fn directions() -> ([f64; 3], [f64; 3]) {
    let (s, c) = (20f64.to_radians().sin(), 20f64.to_radians().cos());
    ([c, s, 0.0], [0.0, 0.0, -1.0])
}
const DI: f64 = 0.7; // column spacing (along a row)
const DJ: f64 = 0.5; // row spacing
const STEP: f64 = 2.5;

fn cross(r: [f64; 3], c: [f64; 3]) -> [f64; 3] {
    [
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    ]
}

fn normal() -> [f64; 3] {
    let (r, c) = directions();
    cross(r, c)
}

/// Slice `k` of a CT series, its stored values `k*1000 + j*20 + i`.
fn slice(k: usize, position: [f64; 3], rows: usize) -> InMemDicomObject {
    let (r, c) = directions();
    let ds = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.6}"))
            .collect::<Vec<_>>()
            .join("\\")
    };
    let pixels: Vec<u16> = (0..rows * COLS)
        .map(|n| (k * 1000 + (n / COLS) * 20 + n % COLS) as u16)
        .collect();
    InMemDicomObject::from_element_iter([
        text(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE),
        text(tags::SOP_INSTANCE_UID, VR::UI, &format!("2.25.99.{k}")),
        text(tags::SERIES_INSTANCE_UID, VR::UI, "2.25.99"),
        text(tags::PATIENT_NAME, VR::PN, "Secret^Face"),
        // Deliberately not in position order.
        text(tags::INSTANCE_NUMBER, VR::IS, &format!("{}", 100 - k)),
        text(tags::IMAGE_POSITION_PATIENT, VR::DS, &ds(&position)),
        text(
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            &ds(&[r[0], r[1], r[2], c[0], c[1], c[2]]),
        ),
        text(tags::PIXEL_SPACING, VR::DS, &ds(&[DJ, DI])),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(rows as u16)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(COLS as u16)),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16)),
        DataElement::new(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ),
        text(tags::RESCALE_INTERCEPT, VR::DS, "-1024"),
        text(tags::RESCALE_SLOPE, VR::DS, "1"),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(pixels.into())),
    ])
}

fn position(k: f64) -> [f64; 3] {
    let n = normal();
    [
        10.0 + k * STEP * n[0],
        -20.0 + k * STEP * n[1],
        30.0 + k * STEP * n[2],
    ]
}

fn write(dir: &Path, name: &str, obj: InMemDicomObject) {
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    file.write_to_file(dir.join(name)).unwrap();
}

/// A series of `n` slices, written in scrambled order.
fn series(dir: &Path, n: usize, edit: impl Fn(usize, &mut InMemDicomObject)) {
    for k in (0..n).rev() {
        let mut obj = slice(k, position(k as f64), ROWS);
        edit(k, &mut obj);
        write(dir, &format!("f{}.dcm", (k * 7) % n), obj);
    }
}

fn load(dir: &Path) -> Result<dicom_anonymizer::deface::volume::Volume, NotAVolume> {
    let mut groups = group_series(dir).unwrap();
    assert_eq!(groups.len(), 1);
    let slices = groups.values_mut().next().unwrap();
    assemble(slices)
}

#[test]
fn slices_are_ordered_by_position_and_rescaled() {
    let dir = tempfile::tempdir().unwrap();
    series(dir.path(), 12, |_, _| {});
    let v = load(dir.path()).unwrap();
    assert_eq!(v.dims, [COLS, ROWS, 12]);
    for (i, j, k) in [(0, 0, 0), (3, 5, 7), (15, 19, 11)] {
        assert_eq!(v.get(i, j, k), (k * 1000 + j * 20 + i) as f32 - 1024.0);
    }
    let (r, c) = directions();
    let n = normal();
    let p0 = position(0.0);
    for row in 0..3 {
        let expected = [r[row] * DI, c[row] * DJ, n[row] * STEP, p0[row]];
        for (col, e) in expected.iter().enumerate() {
            assert!(
                (v.affine_lps[row][col] - e).abs() < 1e-4,
                "{:?}",
                v.affine_lps
            );
        }
    }
    let s = v.spacing();
    assert!((s[0] - DI).abs() < 1e-6 && (s[1] - DJ).abs() < 1e-6 && (s[2] - STEP).abs() < 1e-4);
}

/// A gantry-tilted series: each slice one row (0.5 mm) further down its
/// columns than the normal would put it, 11.3° off. The volume is the
/// stack resampled onto an orthogonal grid a row taller per slice, on
/// which every slice's pixels are found whole.
#[test]
fn a_gantry_tilted_series_is_resampled_onto_an_orthogonal_grid() {
    let dir = tempfile::tempdir().unwrap();
    let (_, c) = directions();
    let tilted = |k: usize| {
        let p = position(k as f64);
        [0, 1, 2].map(|i| p[i] + k as f64 * DJ * c[i])
    };
    series(dir.path(), 8, |k, o| {
        let p = tilted(k);
        o.put(text(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            &format!("{}\\{}\\{}", p[0], p[1], p[2]),
        ));
    });
    let v = load(dir.path()).unwrap();
    assert_eq!(v.dims, [COLS, ROWS + 7, 8]);
    for k in 0..8 {
        for (i, j) in [(0, 0), (3, 5), (15, 19)] {
            let want = (k * 1000 + j * 20 + i) as f32 - 1024.0;
            assert!(
                (v.get(i, j + k, k) - want).abs() < 1e-2,
                "slice {k} ({i}, {j}): {} vs {want}",
                v.get(i, j + k, k)
            );
        }
        // The rows of the grid slice k does not reach are air (the
        // darkest value of the series).
        if k > 0 {
            assert_eq!(v.get(0, k - 1, k), -1024.0);
        }
    }
    // The axes are the rows, the columns and the normal, 2.5 mm apart.
    let n = normal();
    assert!((0..3).all(|row| (v.affine_lps[row][2] - n[row] * STEP).abs() < 1e-4));
    let p0 = position(0.0);
    assert!((0..3).all(|row| (v.affine_lps[row][3] - p0[row]).abs() < 1e-4));
}

/// One slice missing from ten: the grid keeps its ten places, the missing
/// one interpolated between its neighbours.
#[test]
fn a_missing_slice_is_interpolated() {
    let dir = tempfile::tempdir().unwrap();
    series(dir.path(), 10, |_, _| {});
    std::fs::remove_file(dir.path().join(format!("f{}.dcm", (4 * 7) % 10))).unwrap();
    let v = load(dir.path()).unwrap();
    assert_eq!(v.dims, [COLS, ROWS, 10]);
    // The values grow linearly along the slices, so the interpolated slice
    // holds what the missing one held.
    for k in [3, 4, 5] {
        let want = (k * 1000 + 5 * 20 + 3) as f32 - 1024.0;
        assert!((v.get(3, 5, k) - want).abs() < 1e-2, "slice {k}");
    }
    assert!((v.spacing()[2] - STEP).abs() < 1e-4);
}

#[test]
fn what_cannot_be_a_volume_is_refused_with_its_reason() {
    type Case = (&'static str, Box<dyn Fn(&Path)>, fn(&NotAVolume) -> bool);
    let cases: Vec<Case> = vec![
        (
            "slices far off their normal",
            Box::new(|d| {
                series(d, 8, |k, o| {
                    let p = position(k as f64);
                    let (_, c) = directions();
                    // 7.5 mm along the column per 2.5 mm step: 71.6°.
                    let p = [0, 1, 2].map(|i| p[i] + k as f64 * 3.0 * STEP * c[i]);
                    o.put(text(
                        tags::IMAGE_POSITION_PATIENT,
                        VR::DS,
                        &format!("{}\\{}\\{}", p[0], p[1], p[2]),
                    ));
                })
            }),
            |e| matches!(e, NotAVolume::Tilted(a) if (a - 71.57).abs() < 0.1),
        ),
        (
            "two missing slices in a row",
            Box::new(|d| {
                series(d, 10, |_, _| {});
                for k in [3, 4] {
                    std::fs::remove_file(d.join(format!("f{}.dcm", (k * 7) % 10))).unwrap();
                }
            }),
            |e| matches!(e, NotAVolume::UnevenSpacing(a, b) if (a - STEP).abs() < 1e-3 && (b - 3.0 * STEP).abs() < 1e-3),
        ),
        (
            "two orientations",
            Box::new(|d| {
                series(d, 6, |k, o| {
                    if k == 2 {
                        o.put(text(
                            tags::IMAGE_ORIENTATION_PATIENT,
                            VR::DS,
                            "1\\0\\0\\0\\1\\0",
                        ));
                    }
                })
            }),
            |e| matches!(e, NotAVolume::MixedOrientations(n) if n == &[5, 1]),
        ),
        (
            "mixed sizes",
            Box::new(|d| {
                series(d, 6, |_, _| {});
                write(d, "f3.dcm", slice(3, position(3.0), ROWS - 2));
            }),
            |e| matches!(e, NotAVolume::MixedSizes),
        ),
        (
            "two slices at one place",
            Box::new(|d| {
                series(d, 6, |_, _| {});
                let mut o = slice(9, position(2.0), ROWS);
                o.put(text(tags::SOP_INSTANCE_UID, VR::UI, "2.25.99.77"));
                write(d, "extra.dcm", o);
            }),
            |e| matches!(e, NotAVolume::DuplicatePosition),
        ),
        (
            "compressed pixels",
            Box::new(|d| {
                series(d, 5, |_, o| {
                    o.put(DataElement::new(
                        tags::PIXEL_DATA,
                        VR::OB,
                        Value::PixelSequence(PixelFragmentSequence::new(
                            vec![],
                            vec![vec![0u8; 8]],
                        )),
                    ));
                })
            }),
            |e| matches!(e, NotAVolume::Compressed(_)),
        ),
        (
            "too few slices",
            Box::new(|d| series(d, 2, |_, _| {})),
            |e| matches!(e, NotAVolume::TooFewSlices(2)),
        ),
    ];
    for (name, make, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        make(dir.path());
        let err = load(dir.path()).expect_err(name);
        assert!(expected(&err), "{name}: {err}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn nifti_carries_the_ras_geometry_and_no_source_text() {
    let dir = tempfile::tempdir().unwrap();
    series(&dir.path().join("dicom"), 10, |_, _| {});
    let v = load(&dir.path().join("dicom")).unwrap();
    let path = dir.path().join("out/volume.nii.gz");
    nifti::write(&v, &path).unwrap();
    // Nothing left beside it.
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );

    use ::nifti::{IntoNdArray, NiftiObject, ReaderOptions};
    let obj = ReaderOptions::new().read_file(&path).unwrap();
    let h = obj.header().clone();
    assert_eq!(&h.dim[..4], &[3, COLS as u16, ROWS as u16, 10]);
    let ras = v.affine_ras();
    // DICOM is LPS, NIfTI RAS: x and y change sign, z does not.
    let p0 = position(0.0);
    let (r0, _) = directions();
    assert!((ras[0][3] + p0[0]).abs() < 1e-6 && (ras[1][3] + p0[1]).abs() < 1e-6);
    assert!((ras[2][3] - p0[2]).abs() < 1e-6);
    assert!((ras[0][0] + r0[0] * DI).abs() < 1e-6 && (ras[1][0] + r0[1] * DI).abs() < 1e-6);
    for (row, srow) in [h.srow_x, h.srow_y, h.srow_z].iter().enumerate() {
        for col in 0..4 {
            assert!(
                (srow[col] as f64 - ras[row][col]).abs() < 1e-3,
                "sform row {row}"
            );
        }
    }
    assert_eq!((h.sform_code, h.qform_code), (1, 1));
    // The qform gives the same voxel-to-RAS mapping.
    let r = nifti::rotation(h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64);
    let qfac = h.pixdim[0] as f64;
    for row in 0..3 {
        for col in 0..3 {
            let flip = if col == 2 { qfac } else { 1.0 };
            let q = r[row][col] * h.pixdim[col + 1] as f64 * flip;
            assert!(
                (q - ras[row][col]).abs() < 1e-3,
                "qform {row},{col}: {q} vs {}",
                ras[row][col]
            );
        }
    }
    assert!((h.quatern_x as f64 - ras[0][3]).abs() < 1e-3);
    let descrip = String::from_utf8_lossy(&h.descrip);
    assert!(descrip.starts_with("dicom-anonymizer"), "{descrip}");
    for field in [
        &h.aux_file[..],
        &h.intent_name[..],
        &h.db_name[..],
        &h.descrip[..],
    ] {
        assert!(!String::from_utf8_lossy(field).contains("Secret"));
    }
    let data = obj.into_volume().into_ndarray::<f32>().unwrap();
    assert_eq!(data.shape(), &[COLS, ROWS, 10]);
    assert_eq!(data[[3, 5, 7]], v.get(3, 5, 7));
    assert_eq!(data[[15, 19, 9]], (9 * 1000 + 19 * 20 + 15) as f32 - 1024.0);
}

/// The same series as one enhanced multi-frame image: orientation, pixel
/// measures and rescale in the shared functional groups, each frame's
/// position in its own, frames stored out of position order.
#[test]
fn an_enhanced_multi_frame_image_is_a_volume() {
    use dicom_core::value::DataSetSequence;
    let dir = tempfile::tempdir().unwrap();
    let order = [3usize, 0, 5, 1, 4, 2]; // frame f holds slice order[f]
    let (r, c) = directions();
    let ds = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.6}"))
            .collect::<Vec<_>>()
            .join("\\")
    };
    let item = |e: DataElement<InMemDicomObject>| InMemDicomObject::from_element_iter([e]);
    let seq = |tag, items: Vec<InMemDicomObject>| {
        DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
    };
    let shared = InMemDicomObject::from_element_iter([
        seq(
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![item(text(
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                &ds(&[r[0], r[1], r[2], c[0], c[1], c[2]]),
            ))],
        ),
        seq(
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![item(text(tags::PIXEL_SPACING, VR::DS, &ds(&[DJ, DI])))],
        ),
        seq(
            tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                text(tags::RESCALE_INTERCEPT, VR::DS, "-1024"),
                text(tags::RESCALE_SLOPE, VR::DS, "1"),
            ])],
        ),
    ]);
    let per_frame: Vec<InMemDicomObject> = order
        .iter()
        .map(|&k| {
            item(seq(
                tags::PLANE_POSITION_SEQUENCE,
                vec![item(text(
                    tags::IMAGE_POSITION_PATIENT,
                    VR::DS,
                    &ds(&position(k as f64)),
                ))],
            ))
        })
        .collect();
    let pixels: Vec<u16> = order
        .iter()
        .flat_map(|&k| {
            (0..ROWS * COLS).map(move |n| (k * 1000 + (n / COLS) * 20 + n % COLS) as u16)
        })
        .collect();
    let mut obj = slice(0, position(0.0), ROWS);
    for tag in [
        tags::IMAGE_POSITION_PATIENT,
        tags::IMAGE_ORIENTATION_PATIENT,
        tags::PIXEL_SPACING,
        tags::RESCALE_INTERCEPT,
        tags::RESCALE_SLOPE,
    ] {
        obj.remove_element(tag);
    }
    obj.put(text(
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::ENHANCED_CT_IMAGE_STORAGE,
    ));
    obj.put(text(tags::NUMBER_OF_FRAMES, VR::IS, "6"));
    obj.put(seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]));
    obj.put(seq(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, per_frame));
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(pixels.into()),
    ));
    write(dir.path(), "enhanced.dcm", obj);

    let v = load(dir.path()).unwrap();
    assert_eq!(v.dims, [COLS, ROWS, 6]);
    for (i, j, k) in [(0, 0, 0), (3, 5, 2), (15, 19, 5)] {
        assert_eq!(v.get(i, j, k), (k * 1000 + j * 20 + i) as f32 - 1024.0);
    }
    let p0 = position(0.0);
    assert!((0..3).all(|row| (v.affine_lps[row][3] - p0[row]).abs() < 1e-4));
    let s = v.spacing();
    assert!((s[0] - DI).abs() < 1e-6 && (s[2] - STEP).abs() < 1e-4);

    // Read frame by frame (the header, then each frame's bytes apart from
    // the file), as the deface stage reads a series of one such image:
    // the same volume.
    let mut frames = Slice::read_frames(&dir.path().join("enhanced.dcm"))
        .unwrap()
        .expect("native frames are read apart");
    assert_eq!(frames.len(), 6);
    let w = assemble(&mut frames).unwrap();
    assert_eq!(
        (w.dims, &w.data, w.affine_lps),
        (v.dims, &v.data, v.affine_lps)
    );
    assert!(
        frames.iter().all(|f| f.obj.get(tags::PIXEL_DATA).is_none()),
        "the pixel data are let go once in the volume"
    );
    // A single-frame image is read whole.
    let single = tempfile::tempdir().unwrap();
    write(single.path(), "one.dcm", slice(0, position(0.0), ROWS));
    assert!(
        Slice::read_frames(&single.path().join("one.dcm"))
            .unwrap()
            .is_none()
    );
}

/// pydicom's MR_small.dcm and MR_small_RLE.dcm hold the same image, native
/// and RLE-compressed: stacked into series, they make the same volume. Its
/// JPEG-LS copy is refused with the reason.
#[test]
fn rle_compressed_series_decode_to_the_native_values() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let stack = |name: &str, dir: &Path| {
        let file = dicom_object::open_file(corpus.join("test_files").join(name)).unwrap();
        let ts = file
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string();
        let obj = file.into_inner();
        let n = normal_of(&obj);
        for k in 0..4 {
            let mut o = obj.clone();
            let p = [
                k as f64 * 3.0 * n[0],
                k as f64 * 3.0 * n[1],
                k as f64 * 3.0 * n[2],
            ];
            o.put(text(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                &format!("{}\\{}\\{}", p[0], p[1], p[2]),
            ));
            o.put(text(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                &format!("2.25.555.{k}"),
            ));
            let f = o
                .with_meta(FileMetaTableBuilder::new().transfer_syntax(ts.as_str()))
                .unwrap();
            std::fs::create_dir_all(dir).unwrap();
            f.write_to_file(dir.join(format!("{k}.dcm"))).unwrap();
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    stack("MR_small.dcm", &tmp.path().join("native"));
    stack("MR_small_RLE.dcm", &tmp.path().join("rle"));
    stack("MR_small_jpeg_ls_lossless.dcm", &tmp.path().join("jpegls"));
    let native = load(&tmp.path().join("native")).unwrap();
    let rle = load(&tmp.path().join("rle")).unwrap();
    assert_eq!(native.dims, [64, 64, 4]);
    assert_eq!(rle.dims, native.dims);
    assert!(native.data.iter().any(|&v| v > 100.0));
    assert_eq!(rle.data, native.data);
    let err = load(&tmp.path().join("jpegls")).unwrap_err();
    assert!(matches!(err, NotAVolume::Compressed(_)), "{err}");
}

fn normal_of(obj: &InMemDicomObject) -> [f64; 3] {
    let o = obj
        .get(tags::IMAGE_ORIENTATION_PATIENT)
        .unwrap()
        .to_multi_float64()
        .unwrap();
    cross([o[0], o[1], o[2]], [o[3], o[4], o[5]])
}
