//! The bundled face template (`src/deface/face_template.bin.gz`) is what
//! `deface::template::derive` makes of pydeface's template, fetched from
//! PyPI: a change to either shows here. `WRITE_FACE_TEMPLATE=1` writes the
//! derived one over the bundled file instead of comparing.

mod common;

use dicom_anonymizer::deface::nifti;
use dicom_anonymizer::deface::template::{Template, derive};

#[test]
fn the_bundled_face_template_is_derived_from_pydeface_s() {
    let Some(dir) = common::reference::pydeface_template() else {
        return;
    };
    let t1 = nifti::read(&dir.join("mean_reg2mean.nii.gz")).unwrap();
    let mask = nifti::read(&dir.join("facemask.nii.gz")).unwrap();
    let derived = derive(&t1, &mask).unwrap();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/deface/face_template.bin.gz");
    if std::env::var_os("WRITE_FACE_TEMPLATE").is_some() {
        std::fs::write(&path, derived.encode()).unwrap();
        return;
    }
    let bundled = Template::bundled().unwrap();
    assert_eq!(bundled.dims, derived.dims);
    assert_eq!(bundled.affine_lps, derived.affine_lps);
    assert!(bundled.head == derived.head, "the head shares differ");
    assert!(bundled.face == derived.face, "the face shares differ");
}
