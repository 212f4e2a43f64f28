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

/// Whether `width`, the second argument of a call to the extension `name`
/// as a rule writes it, is one the function can use: a whole number of
/// years for `@agegroup`, a positive number for `@bin`; `@dummy` takes
/// none.
pub fn usable_width(name: &str, width: Option<&str>) -> bool {
    match (name, width) {
        ("dummy", _) => true,
        ("agegroup", Some(w)) => w.parse::<u32>().is_ok_and(|n| n > 0),
        ("bin", Some(w)) => bin::Width::parse(w).is_some(),
        _ => false,
    }
}
