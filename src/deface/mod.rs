//! The deface stage (head CT and brain MRI): series → volume → face mask →
//! defaced NIfTI and DICOM.
//!
//! Built so far:
//! - [`series`]: DICOM files grouped into series, and a series assembled
//!   into a volume (slices ordered along the normal of their orientation,
//!   rescaled), with a clear reason for what cannot be a volume;
//! - [`nifti`]: a volume written as NIfTI-1 (gzip), with the DICOM LPS
//!   geometry as the NIfTI RAS qform and sform, and no text from the
//!   source in its header.

pub mod model;
pub mod nifti;
pub mod resample;
pub mod series;
pub mod volume;
