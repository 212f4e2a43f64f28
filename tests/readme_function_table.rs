//! The README's function table lists every function the checker knows.

use dicom_anonymizer::check::signatures::SIGNATURES;

#[test]
fn readme_lists_every_function_with_its_engines() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for sig in SIGNATURES {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `@{}` |", sig.name)))
            .unwrap_or_else(|| panic!("README has no row for @{}", sig.name));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2] == "—", sig.ctp.is_none(), "{row}");
        assert_eq!(cells[3] == "yes", sig.rsna, "{row}");
        assert_eq!(cells[3] == "ours", sig.ours, "{row}");
    }
}
