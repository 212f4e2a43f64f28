//! `dicom-anonymizer deface --input ROOT --output OUT [--subjects …]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::anonymize::{self, AnonymizeArgs, Prepared, default_store};
use super::usage;
use crate::batch::layout::component;
use crate::deface::face_mask::Settings;
use crate::deface::model::FaceMaskModel;
use crate::deface::nifti;
use crate::deface::pipeline::{self, Defaced, Defacing, SeriesOutcome};

#[derive(Debug, Args)]
pub struct DefaceArgs {
    /// A directory with one folder of DICOM files per subject (never modified).
    #[arg(long, value_name = "ROOT")]
    input: PathBuf,
    /// Where each subject's `defaced.nii.gz`, `defaced_mask.nii.gz` and
    /// `defaced_dicom/` go.
    #[arg(long, value_name = "OUT")]
    output: PathBuf,
    /// The subjects to deface (folder names under ROOT; default: all).
    #[arg(long, value_name = "NAME", num_args = 1..)]
    subjects: Vec<String>,
    /// The script the DICOM output's headers are anonymized with.
    #[arg(long, value_name = "low|high|PATH", default_value = "high")]
    script: String,
    /// Worker threads for writing DICOM (default: all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

/// Exit status: 0 when every subject was defaced, 1 when some were not
/// (each is reported with its reason; the others complete), 2 on a usage
/// error.
pub fn run(args: &DefaceArgs) -> ExitCode {
    if !args.input.is_dir() {
        return usage(format!(
            "--input {} is not a directory",
            args.input.display()
        ));
    }
    // The script, the output directory and the store, checked and opened
    // once for all subjects, before any DICOM file is read.
    let prepare = || {
        anonymize::prepare(&AnonymizeArgs::for_deface(
            args.input.clone(),
            args.output.clone(),
            args.script.clone(),
            default_store(&args.output),
            args.jobs,
        ))
    };
    let mut prepared = match prepare() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let subjects = if args.subjects.is_empty() {
        match subject_dirs(&args.input) {
            Ok(s) => s,
            Err(e) => return usage(format!("cannot list {}: {e}", args.input.display())),
        }
    } else {
        args.subjects.clone()
    };
    if subjects.is_empty() {
        return usage(format!("no subject folders under {}", args.input.display()));
    }
    let model = match FaceMaskModel::bundled() {
        Ok(m) => m,
        Err(e) => return usage(e),
    };
    let mut failed = Vec::new();
    for subject in &subjects {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            deface_subject(args, subject, model, &mut prepared)
        }))
        .unwrap_or_else(|_| {
            // What the store remembers may have been rolled back.
            prepared.store.forget_memo();
            Err("internal error (a panic); the other subjects go on".into())
        });
        match outcome {
            Ok(line) => eprintln!("{subject}: {line}"),
            Err(why) => {
                eprintln!("{subject}: NOT DEFACED: {why}");
                failed.push(subject.clone());
            }
        }
    }
    eprintln!(
        "defaced {} of {} subjects{}",
        subjects.len() - failed.len(),
        subjects.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; not defaced: {}", failed.join(", "))
        }
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The folders directly under `root`, sorted.
fn subject_dirs(root: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(root)?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// One subject: its head volume chosen and defaced, written as NIfTI and
/// as anonymized DICOM. A one-line summary, or why it failed.
fn deface_subject(
    args: &DefaceArgs,
    subject: &str,
    model: &FaceMaskModel,
    prepared: &mut Prepared,
) -> Result<String, String> {
    let dir = args.input.join(subject);
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let name = component(subject);
    let out = args.output.join(&name);
    let mut best: Option<Defaced> = None;
    let mut heads = 0;
    let mut failures = Vec::new();
    pipeline::deface_tree(&dir, model, &Settings::default(), |report, defaced| {
        eprintln!("{subject}: {report}");
        if let SeriesOutcome::Failed(why) = &report.outcome {
            failures.push(format!("{}: {why}", report.label));
        }
        if let Some(d) = defaced {
            heads += 1;
            if best
                .as_ref()
                .is_none_or(|b| d.volume.data.len() > b.volume.data.len())
            {
                best = Some(d);
            }
        }
    })
    .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let Some(chosen) = best else {
        return Err(if failures.is_empty() {
            "no head series among its DICOM files".into()
        } else {
            format!("no head series could be defaced ({})", failures.join("; "))
        });
    };
    if heads > 1 {
        eprintln!(
            "{subject}: {heads} head series; the largest volume ({} voxels) is written, the others are not",
            chosen.volume.data.len()
        );
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    nifti::write(&chosen.defaced_volume(), &out.join("defaced.nii.gz"))?;
    nifti::write(
        &chosen.mask.as_volume(&chosen.volume),
        &out.join("defaced_mask.nii.gz"),
    )?;

    // The DICOM files, in the volume's order, each written once.
    let mut files: Vec<PathBuf> = Vec::new();
    for s in &chosen.slices {
        if !files.contains(&s.path) {
            files.push(s.path.clone());
        }
    }
    prepared.options.files = Some(
        files
            .iter()
            .enumerate()
            .map(|(n, p)| {
                (
                    p.clone(),
                    format!("{name}/defaced_dicom/slice_{:03}.dcm", n + 1),
                )
            })
            .collect(),
    );
    prepared.engine.deface = Some(
        chosen
            .edits()
            .into_iter()
            .map(|(p, e)| (p, Defacing::Edit(e)))
            .collect(),
    );
    let code = anonymize::execute(prepared);
    if code != ExitCode::SUCCESS {
        return Err(format!(
            "the defaced DICOM files were not all written (see {})",
            crate::batch::quarantine::root(&args.output)
                .join("report.csv")
                .display()
        ));
    }
    Ok(format!(
        "wrote {}/defaced.nii.gz, defaced_mask.nii.gz and {} DICOM files ({} voxels removed)",
        out.display(),
        files.len(),
        chosen.mask.count()
    ))
}
