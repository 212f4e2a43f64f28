//! Where an anonymized file goes in the output tree.

use std::path::PathBuf;

/// The output layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// The input's relative paths, unchanged.
    Preserve,
    /// `<patient>/<study UID>/<series UID>/<SOP instance UID>.dcm`, from the
    /// anonymized values, as the RSNA tool stores files.
    Rsna,
}

/// One path component made from a value: no separators, no `.`/`..`, not
/// empty, so an anonymized value can never escape the output directory.
pub fn component(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | '\0') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    match cleaned.as_str() {
        "" | "." | ".." => "_".to_string(),
        _ => cleaned,
    }
}

/// The RSNA layout's relative path.
pub fn rsna_path(patient: &str, study: &str, series: &str, instance: &str) -> PathBuf {
    [
        component(patient),
        component(study),
        component(series),
        format!("{}.dcm", component(instance)),
    ]
    .iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_escape_the_output_directory() {
        assert_eq!(component("../../etc"), ".._.._etc");
        assert_eq!(component(".."), "_");
        assert_eq!(component(""), "_");
        assert_eq!(component("a\\b"), "a_b");
        assert_eq!(
            rsna_path("99-000001", "1.2", "1.3", "1.4"),
            PathBuf::from("99-000001/1.2/1.3/1.4.dcm")
        );
    }
}
