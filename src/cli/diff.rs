//! `dicom-anonymizer diff --from OLD --to NEW --input DIR`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rayon::prelude::*;

use super::explain::{Format, PreviewSettings};
use super::usage;
use crate::dicom_file::{self, ReadError};
use crate::explain::Explainer;
use crate::input_tree;
use crate::policy_diff::{file_changes, summarize};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The script in use: `low`, `high` or a path.
    #[arg(long, value_name = "low|high|PATH")]
    from: String,
    /// The script proposed.
    #[arg(long, value_name = "low|high|PATH")]
    to: String,
    /// The corpus to compare on (read only).
    #[arg(long, value_name = "DIR")]
    input: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    settings: PreviewSettings,
}

/// Exit status: 0 when no outcome changes, 1 when some do, 2 on a usage
/// or script error.
pub fn run(args: &DiffArgs) -> ExitCode {
    let (project, salt) = match args.settings.project() {
        Ok(p) => p,
        Err(m) => return usage(m),
    };
    let load = |arg: &str| args.settings.load_script(arg);
    let (from, to) = match (load(&args.from), load(&args.to)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(m), _) | (_, Err(m)) => return usage(m),
    };
    let files = match input_tree::files(&args.input) {
        Ok(f) => f,
        Err(e) => return usage(format!("cannot read --input {}: {e}", args.input.display())),
    };
    let explainer = |rules| Explainer {
        rules,
        project: &project,
        accession_salt: salt.clone(),
        show_phi: false,
    };
    let (a, b) = (explainer(&from.rules), explainer(&to.rules));
    let per_file: Vec<Result<Vec<_>, Option<String>>> = files
        .par_iter()
        .map(|(path, rel)| match dicom_file::open(path, None) {
            Ok(f) => Ok(file_changes(&a, &b, &f.into_inner())),
            Err(ReadError::NotDicom) => Err(None),
            Err(e) => Err(Some(format!("{rel}: {e}"))),
        })
        .collect();
    let mut compared = 0;
    let mut not_dicom = 0;
    let mut changes = Vec::new();
    for result in per_file {
        match result {
            Ok(c) => {
                compared += 1;
                changes.extend(c);
            }
            Err(None) => not_dicom += 1,
            Err(Some(m)) => eprintln!("warning: not compared: {m}"),
        }
    }
    let summary = summarize(changes);
    match args.format {
        super::explain::Format::Text => {
            for change in &summary {
                println!("{change}");
            }
        }
        super::explain::Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("changes serialize")
        ),
    }
    eprintln!(
        "{compared} files compared ({not_dicom} not DICOM); {} tag outcomes change, from {} to {}",
        summary.len(),
        from.name,
        to.name
    );
    if summary.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
