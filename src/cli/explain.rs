//! `dicom-anonymizer explain --script low|high|PATH FILE`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::anonymize::{DEFAULT_PROJECT_NAME, DEFAULT_UID_ROOT};
use super::usage;
use crate::dialect::Dialect;
use crate::dicom_file;
use crate::explain::{Explainer, render_text};
use crate::functions::rsna::{acc, uid::UidGenerator};
use crate::interpreter::rsna::Project;
use crate::policy::{LoadedScript, ScriptSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The project settings a preview (`explain`, `diff`) runs with; no store
/// is read or written, and the patient is the first of a new store.
#[derive(Debug, Args)]
pub struct PreviewSettings {
    /// Whose semantics to apply; previews cover the rsna dialect (the
    /// bundled policies' own) so far.
    #[arg(long, value_enum, default_value = "rsna")]
    pub dialect: Dialect,
    /// The site ID generated IDs and UIDs are made with.
    #[arg(long, value_name = "ID", default_value = "1")]
    pub site_id: String,
    /// The UID root of generated UIDs.
    #[arg(long, value_name = "ROOT", default_value = DEFAULT_UID_ROOT)]
    pub uid_root: String,
    /// The project name written in the RSNA private block.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_PROJECT_NAME)]
    pub project_name: String,
    /// Preview the RSNA tool's exact (invalid) `@acc` and `@round` values,
    /// as `anonymize --rsna-exact` writes them.
    #[arg(long)]
    pub rsna_exact: bool,
}

impl PreviewSettings {
    /// Load and check a script (`low`, `high` or a path) for a preview.
    pub fn load_script(&self, arg: &str) -> Result<LoadedScript, String> {
        ScriptSource::named(arg)
            .and_then(|s| LoadedScript::load(&s, self.dialect, &[], &mut std::io::stderr()))
    }

    /// The project, and the salt of `@acc`.
    pub fn project(&self) -> Result<(Project, String), String> {
        if self.dialect != Dialect::Rsna {
            return Err(format!(
                "previews of the {} dialect are not available yet: `anonymize --dialect {}` into a scratch directory shows what it writes",
                self.dialect.as_str(),
                self.dialect.as_str()
            ));
        }
        let uids = UidGenerator::new(&self.uid_root, &self.site_id)
            .map_err(|e| format!("UID prefix {:?} leaves no room for digits", e.0))?;
        Ok((
            Project {
                site_id: self.site_id.clone(),
                project_name: self.project_name.clone(),
                uids,
                rsna_exact: self.rsna_exact,
            },
            acc::salt(&self.site_id, &self.uid_root),
        ))
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The script: `low` or `high` (the bundled policies) or a path.
    #[arg(long, value_name = "low|high|PATH")]
    script: String,
    /// The DICOM file to explain (read only).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Show the original values (PHI); without it they are hidden.
    #[arg(long)]
    show_phi: bool,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also say whether this CTP filter script passes the file.
    #[arg(long, value_name = "FILE")]
    filter: Option<PathBuf>,
    /// Also say which signature of this CTP pixel script the file matches,
    /// and the pixels its regions blank.
    #[arg(long, value_name = "FILE")]
    pixel_script: Option<PathBuf>,
    /// Which files the burned-in text detector searches (`at-risk`, `all`,
    /// `off`); default: the script's PIXEL_TEXT. A file it searches is
    /// searched here, and the lines found and words kept are shown.
    #[arg(long, value_enum, value_name = "SCOPE")]
    pixel_text: Option<crate::pixel::text::Scope>,
    /// Words the text detector leaves, beside the bundled list (as for
    /// `anonymize`).
    #[arg(long, value_name = "FILE")]
    pixel_whitelist: Option<PathBuf>,
    /// The text detector's models. Default: $DICOM_ANONYMIZER_TEXT_MODELS,
    /// else .cache/text-models in the source tree.
    #[arg(long, value_name = "DIR")]
    text_models: Option<PathBuf>,
    #[command(flatten)]
    settings: PreviewSettings,
}

/// Exit status: 0 when explained, 1 when the script cannot be applied to
/// the file, 2 on a usage, script or read error.
pub fn run(args: &ExplainArgs) -> ExitCode {
    let (project, accession_salt) = match args.settings.project() {
        Ok(p) => p,
        Err(m) => return usage(m),
    };
    let loaded = match args.settings.load_script(&args.script) {
        Ok(l) => l,
        Err(m) => return usage(m),
    };
    let file = match dicom_file::open(&args.file, None) {
        Ok(f) => f,
        Err(e) => return usage(format!("{}: {e}", args.file.display())),
    };
    let stages = match pixel_stages(args, &file) {
        Ok(s) => s,
        Err(m) => return usage(m),
    };
    let mut stages = stages;
    let ts = file.meta().transfer_syntax().to_string();
    let mut obj = file.into_inner();
    text_detector(args, loaded.pixel_text(), &mut obj, &ts, &mut stages);
    let explainer = Explainer {
        rules: &loaded.rules,
        project: &project,
        accession_salt,
        show_phi: args.show_phi,
    };
    let entries = match explainer.explain(&obj) {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "error: {}: {} cannot be applied: {e} (anonymize quarantines this file as Storage_Error)",
                args.file.display(),
                loaded.name
            );
            return ExitCode::from(1);
        }
    };
    match args.format {
        Format::Text => {
            print!("{}", render_text(&entries));
            for line in &stages.text {
                println!("{line}");
            }
        }
        Format::Json if stages.json.is_empty() => println!(
            "{}",
            serde_json::to_string_pretty(&entries).expect("explanations serialize")
        ),
        Format::Json => {
            let mut object = stages.json;
            object.insert(
                "elements".into(),
                serde_json::to_value(&entries).expect("explanations serialize"),
            );
            println!(
                "{}",
                serde_json::to_string_pretty(&object).expect("explanations serialize")
            );
        }
    }
    ExitCode::SUCCESS
}

/// What `--filter` and `--pixel-script` say about a file: lines of text,
/// and the same as JSON fields.
#[derive(Default)]
struct Stages {
    text: Vec<String>,
    json: serde_json::Map<String, serde_json::Value>,
}

fn pixel_stages(
    args: &ExplainArgs,
    file: &dicom_object::DefaultDicomObject,
) -> Result<Stages, String> {
    use crate::filter::condition::Values;
    use serde_json::json;
    let mut stages = Stages::default();
    let meta = crate::interpreter::ctp::elements::meta_values(file.meta());
    let values = Values {
        ds: file,
        meta: &meta,
    };
    if let Some(path) = &args.filter {
        let filter = crate::filter::Filter::load(path)?;
        let passes = filter.passes(&values);
        stages.text.push(format!(
            "filter {}: {}",
            path.display(),
            if passes {
                "passes the file"
            } else {
                "does not pass the file (anonymize quarantines it as Filtered, or skips it with --filter-action skip)"
            }
        ));
        stages.json.insert(
            "filter".into(),
            json!({ "script": path.display().to_string(), "passes": passes }),
        );
    }
    if let Some(path) = &args.pixel_script {
        let script = crate::pixel::script::PixelScript::load(path)?;
        let int = |tag| {
            file.get(tag)
                .and_then(|e| e.to_int::<usize>().ok())
                .unwrap_or(0)
        };
        let (rows, columns) = (
            int(dicom_dictionary_std::tags::ROWS),
            int(dicom_dictionary_std::tags::COLUMNS),
        );
        match script.matching(&values) {
            Some((n, signature)) => {
                stages.text.push(format!(
                    "pixel script {}: signature {} (line {}) matches: {{ {} }}",
                    path.display(),
                    n + 1,
                    signature.line,
                    signature
                        .text
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
                let mut regions = Vec::new();
                for r in &signature.regions {
                    let covered = crate::pixel::blank::covered(r, rows, columns);
                    let what = match covered {
                        Some([x0, x1, y0, y1]) => format!("columns {x0}..={x1}, rows {y0}..={y1}"),
                        None => "nothing in this image".to_string(),
                    };
                    stages.text.push(format!(
                        "  region ({}, {}, {}, {}) blanks {what} of the {columns}×{rows} image",
                        r.x, r.y, r.width, r.height
                    ));
                    regions.push(json!({
                        "x": r.x, "y": r.y, "width": r.width, "height": r.height,
                        "covered": covered.map(|[x0, x1, y0, y1]| json!({
                            "first_column": x0, "last_column": x1, "first_row": y0, "last_row": y1
                        })),
                    }));
                }
                if signature.regions.is_empty() {
                    stages
                        .text
                        .push("  it lists no regions: the pixels pass as they are".into());
                }
                stages.json.insert(
                    "pixel_script".into(),
                    json!({
                        "script": path.display().to_string(),
                        "signature": n + 1,
                        "line": signature.line,
                        "condition": signature.text,
                        "regions": regions,
                    }),
                );
            }
            None => {
                stages.text.push(format!(
                    "pixel script {}: no signature matches; the pixels pass as they are",
                    path.display()
                ));
                stages.json.insert(
                    "pixel_script".into(),
                    json!({
                        "script": path.display().to_string(),
                        "signature": null,
                    }),
                );
            }
        }
    }
    Ok(stages)
}

/// What the burned-in text detector does with the file: whether it is
/// searched and why, and if so the lines found (cleaned in every frame)
/// and the whitelisted words kept. The file is searched as `anonymize`
/// searches it; missing models are said, not fatal, here.
fn text_detector(
    args: &ExplainArgs,
    asked: crate::pixel::text::Scope,
    obj: &mut dicom_object::InMemDicomObject,
    transfer_syntax: &str,
    stages: &mut Stages,
) {
    use serde_json::json;
    let scope = args.pixel_text.unwrap_or(asked);
    let why = obj
        .get(dicom_dictionary_std::tags::PIXEL_DATA)
        .and_then(|_| scope.why_searched(obj));
    let Some(why) = why else {
        let said = if obj.get(dicom_dictionary_std::tags::PIXEL_DATA).is_none() {
            "no pixel data"
        } else if scope == crate::pixel::text::Scope::Off {
            "off"
        } else {
            "the file is not at risk"
        };
        stages
            .text
            .push(format!("text detector: not searched ({said})"));
        // In JSON only when asked for, so that the output of a file no
        // stage speaks of stays the list of elements.
        if args.pixel_text.is_some() {
            stages.json.insert(
                "text_detector".into(),
                json!({ "searched": false, "why": said }),
            );
        }
        return;
    };
    let stage_args = super::anonymize::StageArgs {
        pixel_text: Some(scope),
        pixel_whitelist: args.pixel_whitelist.clone(),
        text_models: args.text_models.clone(),
        ..Default::default()
    };
    let modality = crate::interpreter::values::string_of(obj, dicom_dictionary_std::tags::MODALITY)
        .unwrap_or_default();
    let found = super::anonymize::text_stage(&stage_args, scope).and_then(|stage| {
        let stage = stage.expect("the scope is not off");
        crate::pixel::text::search(
            &stage.models,
            &stage.whitelist,
            obj,
            transfer_syntax,
            &modality,
        )
    });
    match found {
        Err(e) => {
            stages.text.push(format!(
                "text detector: searched ({why}), but {e} (anonymize quarantines such a file as Pixel_Clean_Error, or stops when the models are missing)"
            ));
            stages.json.insert(
                "text_detector".into(),
                json!({ "searched": true, "why": why, "error": e }),
            );
        }
        Ok(found) => {
            // As `pixel_script`'s regions are given.
            let regions: Vec<serde_json::Value> = found
                .regions
                .iter()
                .map(|r| json!({ "x": r.x, "y": r.y, "width": r.width, "height": r.height }))
                .collect();
            let mut line = format!(
                "text detector: searched ({why}), {} frame(s): ",
                found.frames_searched
            );
            if found.regions.is_empty() {
                line.push_str("no text to clean");
            } else {
                line.push_str(&format!(
                    "{} line(s) of text cleaned in every frame: {}",
                    found.regions.len(),
                    crate::pixel::script::regions_text(&found.regions)
                ));
            }
            if !found.kept.is_empty() {
                line.push_str(&format!(
                    "; whitelisted words kept: {}",
                    found.kept.join(" ")
                ));
            }
            stages.text.push(line);
            stages.json.insert(
                "text_detector".into(),
                json!({
                    "searched": true,
                    "why": why,
                    "frames_searched": found.frames_searched,
                    "regions": regions,
                    "kept": found.kept,
                }),
            );
        }
    }
}
