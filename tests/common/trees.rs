//! What a run wrote: the output files of a tree, outside the store, spool
//! and quarantine.

use std::collections::BTreeMap;
use std::path::Path;

/// Every output file under `root` (not `.anonymizer/` or `quarantine/`),
/// relative path → bytes.
pub fn outputs(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if entry.file_type().is_file()
            && !rel.starts_with(".anonymizer")
            && !rel.starts_with("quarantine")
        {
            out.insert(rel, std::fs::read(entry.path()).unwrap());
        }
    }
    out
}
