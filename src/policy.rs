//! The bundled policies, and loading the script a command names.
//!
//! `--script low` and `--script high` name the two policies under `scripts/`
//! (compiled into the binary, so a release build needs no checkout); any
//! other value is a path. A file called `low` or `high` is named `./low`.

use std::path::Path;

use crate::check::{CHECK_ONLY, check_with_params, has_errors};
use crate::diagnostic::Severity;
use crate::dialect::Dialect;
use crate::interpreter::rsna::RsnaRules;
use crate::script::ast::{Item, Script};
use crate::script::parse;

/// `scripts/dicom_header_anonymizer_low_level.script`.
pub const LOW_LEVEL: &str = include_str!("../scripts/dicom_header_anonymizer_low_level.script");
/// `scripts/dicom_header_anonymizer_high_level.script`.
pub const HIGH_LEVEL: &str = include_str!("../scripts/dicom_header_anonymizer_high_level.script");

/// The script parameter that asks for head series to be defaced.
pub const DEFACE_PARAM: &str = "DEFACE";

/// The script parameter that says which files' pixels the text detector
/// searches for burned-in text: `all`, `at-risk` or `off`
/// ([`crate::pixel::text::Scope`]).
pub const PIXEL_TEXT_PARAM: &str = "PIXEL_TEXT";

/// The parameter that asks for every object the script would make invalid
/// (a Type 1 or 2 attribute of its IOD removed, a Type 1 or 1C one
/// emptied) to be quarantined rather than released
/// ([`crate::validity::gate`]). The RSNA tool ignores it.
pub const QUARANTINE_INVALID_PARAM: &str = "QUARANTINE_INVALID";

/// A script's text and the name messages give it.
#[derive(Debug, Clone)]
pub struct ScriptSource {
    /// A path, or `scripts/…_level.script (bundled)`.
    pub name: String,
    pub text: String,
}

impl ScriptSource {
    /// `low`, `high`, or a path to a UTF-8 script file.
    pub fn named(arg: &str) -> Result<Self, String> {
        let bundled = |file: &str, text: &str| ScriptSource {
            name: format!("scripts/{file} (bundled)"),
            text: text.to_string(),
        };
        match arg {
            "low" => Ok(bundled(
                "dicom_header_anonymizer_low_level.script",
                LOW_LEVEL,
            )),
            "high" => Ok(bundled(
                "dicom_header_anonymizer_high_level.script",
                HIGH_LEVEL,
            )),
            path => Ok(ScriptSource {
                name: path.to_string(),
                text: read_utf8(Path::new(path))?,
            }),
        }
    }
}

/// Read a script as UTF-8 text; the error names the file.
pub fn read_utf8(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not UTF-8 text (invalid byte at offset {}); scripts are read as UTF-8, as CTP reads them",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Parameters given as `NAME=VALUE` (`--param`; a leading `@` or `$` on
/// the name is dropped), in order: a later one wins.
pub fn parse_params(args: &[String]) -> Result<Vec<(String, String)>, String> {
    args.iter()
        .map(|p| {
            let (name, value) = p
                .split_once('=')
                .ok_or_else(|| format!("--param {p:?} is not NAME=VALUE"))?;
            let name = name.trim().trim_start_matches(['@', '$']);
            if name.is_empty() || !crate::script::tag_forms::is_identifier(name) {
                return Err(format!(
                    "--param {p:?}: a parameter name is letters, digits and `_`"
                ));
            }
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
}

/// A script that parsed and checked without errors, ready to apply.
#[derive(Debug, Clone)]
pub struct LoadedScript {
    pub name: String,
    pub script: Script,
    pub rules: RsnaRules,
}

impl LoadedScript {
    /// Parse and check a script for a dialect. Warnings are written to
    /// `warnings` (rendered with the file, line and a caret); any error
    /// refuses the script, with a message naming the file.
    pub fn load(
        source: &ScriptSource,
        dialect: Dialect,
        params: &[(String, String)],
        warnings: &mut dyn std::io::Write,
    ) -> Result<Self, String> {
        let parsed = parse(&source.text);
        let diagnostics = check_with_params(&parsed, dialect, params);
        for d in diagnostics
            .iter()
            .filter(|d| d.severity != Severity::Info && !CHECK_ONLY.contains(&d.code))
        {
            let _ = write!(
                warnings,
                "{}",
                d.render(&source.name, &source.text, &parsed.lines)
            );
        }
        if has_errors(&diagnostics) {
            return Err(format!("{} has errors; no file was touched", source.name));
        }
        let Some(script) = parsed.script else {
            return Err(format!("{} could not be parsed", source.name));
        };
        let rules = RsnaRules::compile(&script);
        Ok(LoadedScript {
            name: source.name.clone(),
            script,
            rules,
        })
    }

    /// Whether the script asks for head series to be defaced:
    /// `<p t="DEFACE">yes</p>` (also `true` or `1`, in any case).
    pub fn requests_deface(&self) -> bool {
        requests_deface(&self.script)
    }

    /// Which files the script asks the text detector to search
    /// (`<p t="PIXEL_TEXT">`; off when it does not say).
    pub fn pixel_text(&self) -> crate::pixel::text::Scope {
        param(&self.script, PIXEL_TEXT_PARAM).map_or(
            crate::pixel::text::Scope::Off,
            crate::pixel::text::Scope::from_param,
        )
    }

    /// Whether the script asks for invalid outputs to be quarantined:
    /// `<p t="QUARANTINE_INVALID">yes</p>`.
    pub fn requests_valid_output(&self) -> bool {
        requests_valid_output(&self.script)
    }
}

/// Whether a script sets the [`DEFACE_PARAM`] parameter to yes; the last
/// definition wins, as for every parameter.
pub fn requests_deface(script: &Script) -> bool {
    says_yes(script, DEFACE_PARAM)
}

/// Whether a script sets the [`QUARANTINE_INVALID_PARAM`] parameter to yes.
pub fn requests_valid_output(script: &Script) -> bool {
    says_yes(script, QUARANTINE_INVALID_PARAM)
}

/// Whether the last definition of parameter `name` is `yes`, `true` or
/// `1`, in any case.
/// The value of parameter `name`: the last definition wins.
fn param<'a>(script: &'a Script, name: &str) -> Option<&'a str> {
    script
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Param(p) if p.name.value == name => Some(p.value.value.trim()),
            _ => None,
        })
        .next_back()
}

fn says_yes(script: &Script, name: &str) -> bool {
    param(script, name).is_some_and(|v| {
        ["yes", "true", "1"]
            .iter()
            .any(|y| v.eq_ignore_ascii_case(y))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(name: &str) -> LoadedScript {
        let source = ScriptSource::named(name).unwrap();
        let mut warnings = Vec::new();
        let s = LoadedScript::load(&source, Dialect::Rsna, &[], &mut warnings).unwrap();
        assert!(
            warnings.is_empty(),
            "{}",
            String::from_utf8_lossy(&warnings)
        );
        s
    }

    #[test]
    fn the_bundled_policies_load_clean_and_only_high_asks_for_defacing() {
        assert!(!loaded("low").requests_deface());
        assert!(loaded("high").requests_deface());
    }

    #[test]
    fn the_last_deface_parameter_wins() {
        let script = parse(r#"<script><p t="DEFACE">yes</p><p t="DEFACE">No</p></script>"#)
            .script
            .unwrap();
        assert!(!requests_deface(&script));
        let script = parse(r#"<script><p t="DEFACE"> TRUE </p></script>"#)
            .script
            .unwrap();
        assert!(requests_deface(&script));
    }

    #[test]
    fn a_missing_file_is_named_in_the_error() {
        let e = ScriptSource::named("/nonexistent/x.script").unwrap_err();
        assert!(e.contains("/nonexistent/x.script"), "{e}");
    }
}
