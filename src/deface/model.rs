//! The face-mask model: an ONNX graph run through `ort`.
//!
//! The default build runs it with ort's pure-Rust tract backend
//! (`ort-tract`), so nothing is downloaded at build or run time. The
//! `load-dynamic` cargo feature uses a native ONNX Runtime library instead,
//! loaded at run time (`ORT_DYLIB_PATH`).
//!
//! A model takes `image` `[1, 1, D, H, W]` (float32) and gives `mask`, the
//! same shape, the probability that each voxel is face.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::value::Tensor;

/// The backend's environment, started once per process.
fn environment() -> Result<&'static Environment, String> {
    static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            #[cfg(not(feature = "load-dynamic"))]
            ort::set_api(ort_tract::api());
            ort::init()
                .with_name("dicom-anonymizer")
                .build()
                .map_err(|e| format!("ONNX backend: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A loaded model, ready to run (one inference at a time).
pub struct FaceMaskModel {
    session: Mutex<Session>,
}

impl FaceMaskModel {
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let session = Session::builder(environment()?)
            .and_then(|mut b| b.commit_from_file(path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(FaceMaskModel {
            session: Mutex::new(session),
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let session = Session::builder(environment()?)
            .and_then(|mut b| b.commit_from_memory(bytes))
            .map_err(|e| format!("face-mask model: {e}"))?;
        Ok(FaceMaskModel {
            session: Mutex::new(session),
        })
    }

    /// Run the model on a volume of `dims` (`[nx, ny, nz]`, x fastest, as
    /// [`super::volume::Volume`] stores it); the output has the same layout.
    pub fn predict(&self, dims: [usize; 3], data: &[f32]) -> Result<Vec<f32>, String> {
        let [nx, ny, nz] = dims;
        if data.len() != nx * ny * nz {
            return Err(format!("{} values for a {nx}×{ny}×{nz} grid", data.len()));
        }
        let input = Tensor::from_array(([1usize, 1, nz, ny, nx], data.to_vec()))
            .map_err(|e| format!("face-mask model input: {e}"))?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| "face-mask model: a previous run panicked".to_string())?;
        let outputs = session
            .run(ort::inputs!["image" => input])
            .map_err(|e| format!("face-mask model: {e}"))?;
        let (shape, values) = outputs["mask"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("face-mask model output: {e}"))?;
        let expected = [1i64, 1, nz as i64, ny as i64, nx as i64];
        if shape.iter().copied().collect::<Vec<i64>>() != expected {
            return Err(format!(
                "face-mask model: output shape {shape:?}, expected {expected:?}"
            ));
        }
        Ok(values.to_vec())
    }
}
