//! Each broken script under `tests/scripts/broken/<dialect>/` produces the
//! diagnostic its file is named after; the full output is snapshot-tested
//! (`snapshots/check/`), so a change to any message shows up in review.

use std::path::{Path, PathBuf};

use dicom_anonymizer::check::{check, has_errors};
use dicom_anonymizer::dialect::Dialect;
use dicom_anonymizer::script::parse;

fn scripts_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "script"))
        .collect();
    v.sort();
    v
}

fn render(path: &Path, dialect: Dialect) -> (String, Vec<&'static str>) {
    let source = std::fs::read_to_string(path).expect("read script");
    let parsed = parse(&source);
    let name = format!(
        "tests/scripts/{}",
        path.strip_prefix(scripts_dir()).unwrap().display()
    );
    let diagnostics = check(&parsed, dialect);
    let text = diagnostics
        .iter()
        .map(|d| d.render(&name, &source, &parsed.lines))
        .collect();
    (text, diagnostics.iter().map(|d| d.code).collect())
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts")
}

#[test]
fn every_broken_script_gives_its_documented_diagnostic() {
    let mut seen = 0;
    for (dialect, sub) in [(Dialect::Ctp, "ctp"), (Dialect::Rsna, "rsna")] {
        for path in scripts_in(&scripts_dir().join("broken").join(sub)) {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            // `xml-syntax-entity` documents `xml-syntax`, and so on.
            let code = ["xml-syntax"]
                .into_iter()
                .find(|c| stem.starts_with(c))
                .unwrap_or(stem);
            let (text, codes) = render(&path, dialect);
            assert!(
                codes.contains(&code),
                "{stem}: expected a `{code}` diagnostic, got {codes:?}\n{text}"
            );
            insta::with_settings!({
                snapshot_path => "../snapshots/check",
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(format!("{sub}__{stem}"), text);
            });
            seen += 1;
        }
    }
    assert!(seen >= 20, "only {seen} broken scripts found");
}

#[test]
fn the_script_with_every_ctp_construct_checks_without_errors_or_warnings() {
    let path = scripts_dir().join("valid/ctp_every_construct.script");
    let (text, codes) = render(&path, Dialect::Ctp);
    // Valid CTP, though not every object it writes is valid: it removes
    // PatientBirthDate, Type 2 in image IODs (line 39).
    let (validity, rest): (Vec<&str>, Vec<&str>) = codes
        .iter()
        .partition(|c| dicom_anonymizer::check::validity::CODES.contains(c));
    assert!(rest.iter().all(|c| *c == "disabled-rule"), "{text}");
    assert_eq!(rest.len(), 3, "{text}");
    assert_eq!(validity, ["removes-required"], "{text}");
}

#[test]
fn the_same_ctp_script_warns_about_every_leak_in_the_rsna_dialect() {
    let source =
        std::fs::read_to_string(scripts_dir().join("valid/ctp_every_construct.script")).unwrap();
    let parsed = parse(&source);
    let diagnostics = check(&parsed, Dialect::Rsna);
    assert!(!has_errors(&diagnostics));
    let leaks: Vec<u32> = diagnostics
        .iter()
        .filter(|d| d.code == "rsna-keeps-value")
        .map(|d| d.span.line)
        .collect();
    // @hashuid on SOPInstanceUID (line 15), @hash on AccessionNumber (25),
    // @hashname on PatientName (36), literal `@always()CTP` on BlockOwner (57) …
    for line in [15, 25, 36, 57] {
        assert!(
            leaks.contains(&line),
            "no leak warning on line {line}: {leaks:?}"
        );
    }
    // … but not for @hashdate (18) or @empty() (27), which the RSNA tool
    // knows, nor where the text contains `@remove` (43), which it removes.
    for line in [18, 27, 43] {
        assert!(
            !leaks.contains(&line),
            "leak warning on line {line}: {leaks:?}"
        );
    }
}

/// The bundled policies warn only where they use our own functions (which
/// the RSNA tool would not apply) and where an object cannot stay valid
/// (which their QUARANTINE_INVALID parameter quarantines): structured
/// report content and encapsulated documents.
#[test]
fn bundled_policies_warn_only_about_extensions_and_what_they_quarantine() {
    use dicom_anonymizer::diagnostic::Severity;
    use dicom_anonymizer::policy::{HIGH_LEVEL, LOW_LEVEL};
    for (name, source) in [("low", LOW_LEVEL), ("high", HIGH_LEVEL)] {
        let diagnostics = check(&parse(source), Dialect::Rsna);
        for d in diagnostics.iter().filter(|d| d.severity > Severity::Info) {
            match d.code {
                "rsna-extension" => {}
                "empties-required" => assert!(
                    [" SR", "Encapsulated PDF", "Key Object"]
                        .iter()
                        .any(|iod| d.message.contains(iod)),
                    "{name}: {}",
                    d.message
                ),
                _ => panic!("{name}: {} [{}]", d.message, d.code),
            }
        }
    }
}
