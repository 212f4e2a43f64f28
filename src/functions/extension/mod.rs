//! Functions of our own, for the `rsna` dialect: what the bundled high-level
//! policy needs and the RSNA tool lacks. The RSNA tool does not know them
//! and keeps the element's original value where a rule uses one, so
//! `check` warns about each such rule (`rsna-extension`).
//!
//! - [`age_group`]: `@agegroup(this,N)`, Safe Harbor age groups.
//! - [`bin`]: `@bin(this,W)`, a number to the nearest multiple of a width.
//! - [`dummy`]: `@dummy()`, a fixed value of the element's VR.

pub mod age_group;
pub mod bin;
pub mod dummy;

/// The names of the extension functions, as written after `@`.
pub const NAMES: [&str; 3] = ["agegroup", "bin", "dummy"];
