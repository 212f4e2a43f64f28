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
    let obj = match dicom_file::open(&args.file, None) {
        Ok(f) => f.into_inner(),
        Err(e) => return usage(format!("{}: {e}", args.file.display())),
    };
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
        Format::Text => print!("{}", render_text(&entries)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&entries).expect("explanations serialize")
        ),
    }
    ExitCode::SUCCESS
}
