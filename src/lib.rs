//! A headless DICOM de-identification engine that runs RSNA DICOM Anonymizer
//! and CTP DicomAnonymizer `.script` files unchanged.
//!
//! - [`script`]: the script language (parser, AST, printer).
//! - [`check`]: validation of a parsed script against a dialect.
//! - [`diagnostic`]: problems and how they are shown.

pub mod batch;
pub mod charset;
pub mod check;
pub mod cli;
pub mod deface;
pub mod diagnostic;
pub mod dialect;
pub mod dicom_file;
pub mod explain;
pub mod filter;
pub mod functions;
pub mod input_tree;
pub mod interpreter;
pub mod keywords;
pub mod network;
pub mod onnx;
pub mod pixel;
pub mod png;
pub mod policy;
pub mod policy_diff;
pub mod script;
pub mod shard;
pub mod spelling;
pub mod store;
pub mod validity;
