//! `dicom-anonymizer deface --input ROOT --output OUT [--subjects …]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::anonymize::{self, AnonymizeArgs, Prepared, default_store};
use super::usage;
use crate::batch::layout::component;
use crate::deface::face_mask::{FaceMask, MadeBy, Settings};
use crate::deface::model::FaceMaskModel;
use crate::deface::nifti;
use crate::deface::pipeline::{self, Defaced, Defacing, SeriesOutcome};
use crate::deface::qa::{self, Caption};

#[derive(Debug, Args)]
pub struct DefaceArgs {
    /// A directory with one folder of DICOM files per subject (never modified).
    #[arg(long, value_name = "ROOT")]
    input: PathBuf,
    /// Where each subject's `defaced.nii.gz`, `defaced_mask.nii.gz`,
    /// `qa.png` and `defaced_dicom/` go.
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
    /// Only (re)write each subject's `qa.png` from its existing
    /// `defaced_mask.nii.gz` and its input series (the model is not run,
    /// nothing else is written).
    #[arg(long)]
    qa_only: bool,
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
    if args.qa_only {
        return each_subject(
            &subjects,
            "wrote the QA sheet of",
            "NO QA SHEET",
            |subject| qa_subject(args, subject),
        );
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
    let model = match FaceMaskModel::bundled() {
        Ok(m) => m,
        Err(e) => return usage(e),
    };
    each_subject(&subjects, "defaced", "NOT DEFACED", |subject| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            deface_subject(args, subject, model, &mut prepared)
        }))
        .unwrap_or_else(|_| {
            // What the store remembers may have been rolled back.
            prepared.store.forget_memo();
            Err("internal error (a panic); the other subjects go on".into())
        })
    })
}

/// Run `one` on every subject, reporting each line, or the reason after
/// `failure`; then how many were `done`. The exit status of the command.
fn each_subject(
    subjects: &[String],
    done: &str,
    failure: &str,
    mut one: impl FnMut(&str) -> Result<String, String>,
) -> ExitCode {
    let mut failed = Vec::new();
    for subject in subjects {
        match one(subject) {
            Ok(line) => eprintln!("{subject}: {line}"),
            Err(why) => {
                eprintln!("{subject}: {failure}: {why}");
                failed.push(subject.clone());
            }
        }
    }
    eprintln!(
        "{done} {} of {} subjects{}",
        subjects.len() - failed.len(),
        subjects.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failed: {}", failed.join(", "))
        }
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `--qa-only`: the subject's head series assembled again (no model run),
/// the one its `defaced_mask.nii.gz` was made on found by its grid, and
/// the QA sheet written from the two.
fn qa_subject(args: &DefaceArgs, subject: &str) -> Result<String, String> {
    let dir = args.input.join(subject);
    let name = component(subject);
    let out = args.output.join(&name);
    let mask_path = out.join("defaced_mask.nii.gz");
    let mask = nifti::read(&mask_path).map_err(|e| format!("no mask to render: {e}"))?;
    let mut found = None;
    pipeline::head_volumes(&dir, |modality, first, volume| {
        let same_grid = volume.dims == mask.dims
            && (0..3).all(|r| {
                (0..4).all(|c| (volume.affine_lps[r][c] - mask.affine_lps[r][c]).abs() < 1e-2)
            });
        if found.is_none() && same_grid {
            found = Some((modality, first.clone(), volume));
        }
    })
    .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let (modality, first, volume) = found.ok_or_else(|| {
        format!(
            "no head series under {} has the grid of {}",
            dir.display(),
            mask_path.display()
        )
    })?;
    let removed = FaceMask {
        dims: mask.dims,
        removed: mask.data.iter().map(|&m| m > 0.5).collect(),
        made_by: MadeBy::File,
    };
    let sheet = qa::write(
        &out.join("qa.png"),
        &volume,
        &removed,
        modality,
        &Caption::new(&name, Some(&first)),
    )?;
    Ok(format!(
        "wrote {}/qa.png ({:.2} % of head voxels removed)",
        out.display(),
        sheet.removed_pct()
    ))
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
    let first = chosen.slices.first().map(|s| &s.obj);
    qa::write(
        &out.join("qa.png"),
        &chosen.volume,
        &chosen.mask,
        chosen.modality,
        &Caption::new(&name, first),
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
