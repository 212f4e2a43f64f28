//! The deface stage end to end: find the head series of a directory tree,
//! make each one a volume, mask its face, and describe the change to every
//! one of its files ([`DefacePlan`]) for the batch to apply after the
//! header script.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::canonical::Modality;
use super::edit::{self, PixelEdit};
use super::face_mask::{FaceMask, MadeBy, Settings, apply_mask, face_mask};
use super::head;
use super::model::FaceMaskModel;
use super::series::{Slice, assemble, series_headers};
use super::volume::Volume;

/// What the batch does with one file of a head series.
#[derive(Debug, Clone)]
pub enum Defacing {
    /// Write it with these pixels removed.
    Edit(Arc<PixelEdit>),
    /// Its series is a head that could not be defaced: never write it.
    Refused(String),
}

/// The deface stage's decision for every file of every head series.
pub type DefacePlan = HashMap<PathBuf, Defacing>;

/// The files of a series as slices for [`assemble`]: read whole, or (a
/// series of one enhanced multi-frame image with native pixel data) frame
/// by frame.
pub fn load_slices(paths: &[PathBuf]) -> Result<Vec<Slice>, String> {
    if let [path] = paths
        && let Some(frames) = Slice::read_frames(path)?
    {
        return Ok(frames);
    }
    paths.iter().map(|path| Slice::read(path)).collect()
}

/// How one series was judged.
#[derive(Debug, Clone)]
pub struct SeriesReport {
    /// `SeriesNumber SeriesDescription (n files)`, for people.
    pub label: String,
    pub files: Vec<PathBuf>,
    pub outcome: SeriesOutcome,
}

#[derive(Debug, Clone)]
pub enum SeriesOutcome {
    /// Not a head: left alone.
    NotHead(String),
    /// A head, defaced: voxels removed of the volume's total, and which
    /// face mask it was.
    Defaced {
        removed: usize,
        voxels: usize,
        made_by: MadeBy,
    },
    /// A head that could not be defaced.
    Failed(String),
}

impl std::fmt::Display for SeriesReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            SeriesOutcome::NotHead(why) => write!(f, "{}: not a head ({why})", self.label),
            SeriesOutcome::Defaced {
                removed,
                voxels,
                made_by,
            } => write!(
                f,
                "{}: defaced ({removed} of {voxels} voxels removed; {made_by})",
                self.label
            ),
            SeriesOutcome::Failed(why) => {
                write!(f, "{}: a head that cannot be defaced: {why}", self.label)
            }
        }
    }
}

fn label(first: &InMemDicomObject, files: usize) -> String {
    let t = |tag| {
        first
            .get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "series {} {:?} ({files} file{})",
        t(tags::SERIES_NUMBER),
        t(tags::SERIES_DESCRIPTION),
        if files == 1 { "" } else { "s" }
    )
}

/// A defaced head volume and what it came from.
pub struct Defaced {
    /// The series' slices, in position order.
    pub slices: Vec<Slice>,
    /// The volume the mask was made on: the slices' own voxels, or (a
    /// tilted or unevenly spaced series) the slices resampled onto an
    /// orthogonal grid; the NIfTI outputs are written on it.
    pub volume: Volume,
    pub modality: Modality,
    pub mask: FaceMask,
}

impl Defaced {
    /// The volume with the face set to air.
    pub fn defaced_volume(&self) -> Volume {
        apply_mask(&self.volume, &self.mask, self.modality.background())
    }

    /// The change to each file: the mask mapped back onto its slices.
    pub fn edits(&self) -> HashMap<PathBuf, Arc<PixelEdit>> {
        edit::plan(
            &self.slices,
            &self.volume,
            &self.mask,
            self.modality.background(),
        )
    }
}

/// Judge one series from its headers: `Err(why)` when it is not a head,
/// its modality when it may be one (the volume decides).
pub fn screen(first: &InMemDicomObject) -> Result<Modality, String> {
    let modality = head::modality(first)?;
    if head::header_says_head(first) == Some(false) {
        return Err("its body part or description names another part of the body".into());
    }
    Ok(modality)
}

/// Assemble, check and deface one series whose headers passed [`screen`].
/// `Err(Ok(why))`: not a head after all; `Err(Err(why))`: a head that
/// failed.
fn deface_series(
    paths: &[PathBuf],
    first: &InMemDicomObject,
    modality: Modality,
    model: &FaceMaskModel,
    settings: &Settings,
) -> Result<Defaced, Result<String, String>> {
    let says_head = head::header_says_head(first) == Some(true);
    let mut slices = load_slices(paths).map_err(Err)?;
    let volume = match assemble(&mut slices) {
        Ok(v) => v,
        // A series its headers call a head must be defaced or held back;
        // one they say nothing about, and that is not even a volume
        // (a localizer, a single image), is not a head.
        Err(e) if says_head => return Err(Err(e.to_string())),
        Err(e) => return Err(Ok(format!("not a volume: {e}"))),
    };
    if let Err(why) = head::geometry_fits_a_head(&volume) {
        return if says_head {
            Err(Err(why))
        } else {
            Err(Ok(why))
        };
    }
    let mask = face_mask(&volume, modality, model, settings).map_err(|e| Err(e.to_string()))?;
    Ok(Defaced {
        slices,
        volume,
        modality,
        mask,
    })
}

/// Every series under `root`: which are heads, and each head defaced.
/// Calls `each` with every series' report and, for a defaced head, the
/// result (one series in memory at a time).
pub fn deface_tree(
    root: &Path,
    model: &FaceMaskModel,
    settings: &Settings,
    mut each: impl FnMut(&SeriesReport, Option<Defaced>),
) -> std::io::Result<()> {
    for (_uid, (first, paths)) in series_headers(root)? {
        let (report, defaced) = judge_series(&first, paths, model, settings);
        each(&report, defaced);
    }
    Ok(())
}

/// The series under `root` that may be heads (by their headers) and make
/// a volume, with their modality and first header; the model is not run.
pub fn head_volumes(
    root: &Path,
    mut each: impl FnMut(Modality, &InMemDicomObject, Volume),
) -> std::io::Result<()> {
    for (_uid, (first, paths)) in series_headers(root)? {
        let Ok(modality) = screen(&first) else {
            continue;
        };
        let Ok(mut slices) = load_slices(&paths) else {
            continue;
        };
        if let Ok(volume) = assemble(&mut slices) {
            each(modality, &first, volume);
        }
    }
    Ok(())
}

/// Judge one series (its first file's header, and all its files): not a
/// head, a head defaced, or a head that failed.
pub fn judge_series(
    first: &InMemDicomObject,
    paths: Vec<PathBuf>,
    model: &FaceMaskModel,
    settings: &Settings,
) -> (SeriesReport, Option<Defaced>) {
    let label = label(first, paths.len());
    let (outcome, defaced) = match screen(first) {
        Err(why) => (SeriesOutcome::NotHead(why), None),
        Ok(modality) => match deface_series(&paths, first, modality, model, settings) {
            Ok(d) => (
                SeriesOutcome::Defaced {
                    removed: d.mask.count(),
                    voxels: d.mask.removed.len(),
                    made_by: d.mask.made_by,
                },
                Some(d),
            ),
            Err(Ok(why)) => (SeriesOutcome::NotHead(why), None),
            Err(Err(why)) => (SeriesOutcome::Failed(why), None),
        },
    };
    let report = SeriesReport {
        label,
        files: paths,
        outcome,
    };
    (report, defaced)
}

/// What the batch does with the files of one judged series, added to `plan`.
pub fn add_to_plan(plan: &mut DefacePlan, report: &SeriesReport, defaced: Option<&Defaced>) {
    match (&report.outcome, defaced) {
        (SeriesOutcome::Defaced { .. }, Some(d)) => {
            for (path, e) in d.edits() {
                plan.insert(path, Defacing::Edit(e));
            }
        }
        (SeriesOutcome::Failed(why), _) => {
            for path in &report.files {
                plan.insert(path.clone(), Defacing::Refused(why.clone()));
            }
        }
        _ => {}
    }
}

/// The plan for a whole tree, for `anonymize` with a script that asks for
/// defacing: the files of every defaced head with their edits, the files of
/// every head that failed refused. Reports go to `report`, with the
/// defaced volume of a head.
pub fn plan_tree(
    root: &Path,
    model: &FaceMaskModel,
    settings: &Settings,
    mut report: impl FnMut(&SeriesReport, Option<&Defaced>),
) -> std::io::Result<DefacePlan> {
    let mut plan = DefacePlan::new();
    deface_tree(root, model, settings, |r, defaced| {
        report(r, defaced.as_ref());
        add_to_plan(&mut plan, r, defaced.as_ref());
    })?;
    Ok(plan)
}
