//! The face-mask model: an ONNX graph run through `ort`.
//!
//! The backend is [`crate::onnx`]'s (tract by default).
//!
//! A model takes `image` `[1, C, D, H, W]` (float32) and gives `mask`
//! `[1, 1, D', H', W']`, the probability that each voxel is face. The
//! bundled model's grids are described in [`super::canonical`].

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use ort::session::Session;
use ort::value::Tensor;

use crate::onnx;

/// A loaded model, ready to run (one inference at a time).
pub struct FaceMaskModel {
    session: Mutex<Session>,
}

impl FaceMaskModel {
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let session = onnx::session_from_file(path)?;
        Ok(FaceMaskModel {
            session: Mutex::new(session),
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let session = onnx::session_from_bytes(bytes, "face-mask model")?;
        Ok(FaceMaskModel {
            session: Mutex::new(session),
        })
    }

    /// The model this build ships (`src/deface/face_mask.onnx`, made by
    /// `scripts/train_face_mask.py`), loaded once per process.
    pub fn bundled() -> Result<&'static FaceMaskModel, String> {
        static MODEL: OnceLock<Result<FaceMaskModel, String>> = OnceLock::new();
        MODEL
            .get_or_init(|| FaceMaskModel::from_bytes(BUNDLED))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Run the model on one `[1, C, D, H, W]` tensor; the output `mask`
    /// with its shape.
    pub fn run(&self, shape: [usize; 5], data: Vec<f32>) -> Result<(Vec<usize>, Vec<f32>), String> {
        if data.len() != shape.iter().product::<usize>() {
            return Err(format!("{} values for a tensor of {shape:?}", data.len()));
        }
        let input =
            Tensor::from_array((shape, data)).map_err(|e| format!("face-mask model input: {e}"))?;
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
        let shape = shape.iter().map(|&d| d.max(0) as usize).collect();
        Ok((shape, values.to_vec()))
    }

    /// Run a one-channel model on a volume of `dims` (`[nx, ny, nz]`, x
    /// fastest, as [`super::volume::Volume`] stores it) whose output has
    /// the same layout.
    pub fn predict(&self, dims: [usize; 3], data: &[f32]) -> Result<Vec<f32>, String> {
        let [nx, ny, nz] = dims;
        let (shape, values) = self.run([1, 1, nz, ny, nx], data.to_vec())?;
        if shape != [1, 1, nz, ny, nx] {
            return Err(format!(
                "face-mask model: output shape {shape:?}, expected {:?}",
                [1, 1, nz, ny, nx]
            ));
        }
        Ok(values)
    }
}

/// The trained face-mask model (see `scripts/train_face_mask.py`).
const BUNDLED: &[u8] = include_bytes!("face_mask.onnx");
