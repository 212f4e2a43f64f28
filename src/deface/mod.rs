//! The deface stage (head CT and brain MRI): series → volume → face mask →
//! defaced NIfTI and DICOM.
//!
//! - [`series`]: DICOM files grouped into series, and a series assembled
//!   into a [`volume::Volume`] (slices ordered along the normal of their
//!   orientation, rescaled), with a clear reason for what cannot be one;
//! - [`head`]: which series are heads;
//! - [`canonical`]: the grid and intensities the model sees;
//! - [`model`]: the ONNX face-mask model through `ort` (tract backend);
//! - [`template`]: pydeface's head and face on a 2 mm grid, bundled;
//! - [`register`]: that template aligned to a volume;
//! - [`face_mask`]: the aligned template's face, or the model's
//!   probabilities → mask on the native grid → refined;
//! - [`edit`]: the change to one DICOM file, as data, applied after the
//!   header script;
//! - [`pipeline`]: a tree's head series found and defaced, and the plan
//!   the batch applies;
//! - [`nifti`], [`resample`]: NIfTI files and moving volumes between grids;
//! - [`qa`]: the QA sheet a reviewer looks at per defaced series;
//! - [`stack`]: tilted or unevenly spaced slices onto an orthogonal grid,
//!   and a mask on that grid back onto each slice.

pub mod arrivals;
pub mod canonical;
pub mod edit;
pub mod face_mask;
pub mod head;
pub mod model;
pub mod nifti;
pub mod pipeline;
pub mod qa;
pub mod register;
pub mod resample;
pub mod series;
pub mod stack;
pub mod template;
pub mod volume;
