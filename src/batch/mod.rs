//! The headless batch: anonymize a directory tree into another.
//!
//! Files are taken in sorted path order, in chunks. For each chunk:
//! 1. files are read in parallel (whole up to 1 MiB, else up to the pixel
//!    data) and checked for
//!    the attributes the reference requires;
//! 2. identities are captured into the store one file after another, so
//!    patient numbers follow path order whatever the number of threads;
//! 3. files are anonymized and written in parallel under temporary names,
//!    failures copied to the quarantine;
//! 4. the chunk's outputs are synced at once and renamed into place, on a
//!    thread of their own while the next chunk is read, captured and
//!    anonymized (steps 1 to 3); then the chunk is committed to the store,
//!    in one transaction. The next chunk's identities were captured before
//!    that commit: a file of it that duplicates a failure of the chunk
//!    before (an instance the commit forgets) is held back, as a duplicate
//!    of a failure in its own chunk is, and taken again after the commit.
//!
//! A final name only ever holds whole content: its data is durable before
//! the rename. A file recorded as done whose output exists is skipped on a
//! later run, so a killed run resumes where its last commit left it; one
//! recorded as done whose rename did not survive a crash has no output,
//! and is done again. The renames are made durable once at the end of the
//! run under `--sync filesystem` (one `syncfs`), after each chunk's
//! renames under `--sync files` (each directory that gained a name, up to
//! the output root), and not at all under `--sync none`.

mod file;
pub mod layout;
pub mod quarantine;
mod stream;
mod tail_pixels;

use file::{FileOutcome, Scanned, anonymize_file, scan};
pub use file::{REQUIRED, reserved_output};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use self::layout::Layout;
use self::quarantine::Reason;
use crate::deface::pipeline::DefacePlan;
use crate::dicom_file;
use crate::functions::ctp::integer::MemoryIntegerTable;
use crate::input_tree::{self, Walk};
use crate::interpreter::ctp::CtpScript;
use crate::interpreter::rsna::{self, Project, RsnaRules, Subject};
use crate::store::{
    CaptureContext, CaptureOutcome, FileRecord, FileStatus, Identity, Store, StoreError,
};

/// Files per chunk: large enough to keep every thread busy, small enough
/// that a kill loses little work.
const CHUNK: usize = 512;

/// From this size, a file's pixel data is copied from input to output in
/// chunks (or cleaned frame by frame) instead of being decoded and held,
/// so memory stays bounded however large the file: the size from which
/// the first step reads a file from a prefix rather than whole (smaller
/// files take the streaming path).
pub const TAIL_COPY_MIN: u64 = 1 << 20;

/// What to run.
pub struct Options {
    pub input: PathBuf,
    pub output: PathBuf,
    pub layout: Layout,
    pub jobs: usize,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// The files to process, each with its key (see [`input_tree`]: the
    /// output's name under `output`); `None`: every file under `input`.
    pub files: Option<Vec<(PathBuf, String)>>,
    /// Follow symbolic links in the input tree (else counted and skipped).
    pub follow_links: bool,
    /// The store's database file (no output may land on it).
    pub store: PathBuf,
    /// How outputs are made durable before they are recorded as done.
    pub durability: dicom_file::Durability,
    /// Take only the input files of this shard (`--shard K/N`).
    pub shard: Option<crate::shard::Shard>,
    /// Files of at least this many bytes are read up to their pixel data,
    /// which is copied as bytes where it can be ([`TAIL_COPY_MIN`]).
    pub tail_copy_min: u64,
    /// Where to write a PNG of each file whose burned-in text was cleaned
    /// (`--pixel-preview`).
    pub pixel_preview: Option<PathBuf>,
    /// Anonymize small files from their bytes where they qualify (see
    /// [`stream`]); off: every file through dicom-rs's object model.
    pub streaming: bool,
}

/// The script and the project settings, ready to apply.
pub struct Engine {
    pub interpreter: Interpreter,
    pub project: Project,
    pub capture: CaptureContext,
    /// The deface stage's edits (and refusals), by input path: applied to a
    /// file after its header script.
    pub deface: Option<DefacePlan>,
    /// Quarantine an object the script would make invalid
    /// (`QUARANTINE_INVALID`, [`crate::validity::gate`]).
    pub valid_output: bool,
    /// A CTP DicomFilter script files must pass (`--filter`).
    pub filter: Option<FilterStage>,
    /// A CTP DicomPixelAnonymizer script (`--pixel-script`).
    pub pixel_script: Option<crate::pixel::script::PixelScript>,
    /// The burned-in text detector (`PIXEL_TEXT`, `--pixel-text`).
    pub text: Option<crate::pixel::text::TextStage>,
}

/// A filter script and what becomes of the files it does not pass.
pub struct FilterStage {
    pub filter: crate::filter::Filter,
    pub action: FilterAction,
}

/// What becomes of a file the filter script does not pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FilterAction {
    /// Skipped: counted, recorded in the store, not copied anywhere.
    Skip,
    /// Copied into `quarantine/Filtered/` and listed in its report, as
    /// CTP's DicomFilter does.
    #[default]
    Quarantine,
}

/// The record reason of a file the filter did not pass.
pub const FILTERED: &str = "not passed by the filter";
/// The record reason of an anonymized file whose pixels were cleaned.
pub const PIXELS_CLEANED: &str = "pixels cleaned";

/// Whose semantics the script is applied with.
pub enum Interpreter {
    /// The RSNA DICOM Anonymizer's: files are captured into the store
    /// (patients, studies, duplicates) before they are anonymized.
    Rsna(RsnaRules),
    /// CTP's DicomAnonymizer: each file stands alone.
    Ctp(Box<CtpEngine>),
}

/// A CTP script with the tables its functions read.
pub struct CtpEngine {
    pub script: CtpScript,
    /// The local lookup table (`--lookup-table`, a Java properties file).
    pub lookup: HashMap<String, String>,
    /// `@integer` numbers.
    pub integers: Integers,
}

/// Where `@integer` numbers come from.
pub enum Integers {
    /// A table in memory, seeded from the store and written back with each
    /// chunk (a store one process uses at a time).
    Memory(MemoryIntegerTable),
    /// The store itself, number by number (a store workers share).
    Shared(crate::store::StoreIntegerTable),
}

impl Integers {
    /// The numbers given since the last call that the store does not hold
    /// yet.
    fn take_fresh(&self) -> Vec<(String, String, u64)> {
        match self {
            Integers::Memory(m) => m.take_fresh(),
            Integers::Shared(_) => Vec::new(),
        }
    }
}

impl crate::functions::ctp::integer::IntegerTable for Integers {
    fn integer(&self, key_type: &str, text: &str) -> Result<u64, String> {
        match self {
            Integers::Memory(m) => m.integer(key_type, text),
            Integers::Shared(s) => s.integer(key_type, text),
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub anonymized: usize,
    pub already_done: usize,
    pub not_dicom: usize,
    pub duplicates: usize,
    /// Files a CTP script's `@skip()` dropped.
    pub script_skipped: usize,
    pub quarantined: BTreeMap<&'static str, usize>,
    /// Files and directories the file system would not let us read.
    pub unreadable: usize,
    /// Files whose output would land on the output's own files
    /// (`.anonymizer/`, `quarantine/`, the store, a temporary name).
    pub refused: usize,
    /// Symbolic links not followed.
    pub symlinks: usize,
    /// FIFOs, sockets and devices in the input tree.
    pub special: usize,
    /// Files not passed by the filter script and skipped.
    pub filtered: usize,
    /// Files anonymized whose burned-in text was blanked (`--pixel-script`).
    pub pixel_cleaned: usize,
    /// Files anonymized whose pixel data was copied as bytes, not decoded
    /// (large files; see [`crate::dicom_file::tail`]).
    pub pixel_copied: usize,
    /// Files anonymized whose compressed pixel data were decoded and
    /// cleaned one frame at a time (large files).
    pub pixel_framewise: usize,
    /// Files anonymized from their bytes, element by element ([`stream`]).
    pub streamed: usize,
    pub elapsed: Duration,
}

impl Summary {
    pub fn quarantined_total(&self) -> usize {
        self.quarantined.values().sum()
    }
}

/// The reasons recorded for files that were not read.
const UNREADABLE: &str = "unreadable";
const RESERVED: &str = "reserved output name";

/// A batch error that stops the run (the store failed).
#[derive(Debug)]
pub enum BatchError {
    Store(StoreError),
    Io(String),
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Store(e) => write!(f, "{e}"),
            BatchError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<StoreError> for BatchError {
    fn from(e: StoreError) -> Self {
        BatchError::Store(e)
    }
}

/// Run the batch.
pub fn run(options: &Options, engine: &Engine, store: &mut Store) -> Result<Summary, BatchError> {
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs)
        .build()
        .map_err(|e| BatchError::Io(e.to_string()))?;
    let mut walk = match &options.files {
        Some(files) => Walk {
            files: files.clone(),
            ..Walk::default()
        },
        None => input_tree::walk(&options.input, options.follow_links)
            .map_err(|e| BatchError::Io(format!("cannot list {}: {e}", options.input.display())))?,
    };
    if let Some(shard) = options.shard {
        walk.files.retain(|(_, key)| shard.takes(key));
        walk.unreadable.retain(|(key, _)| shard.takes(key));
    }
    if let Some(shard) = options.shard {
        let worker = format!("{} shard {shard}", store.worker());
        store.set_worker(worker);
    }
    let owner = options.shard.map(temp_owner);
    if let Some(owner) = &owner {
        dicom_file::set_temp_owner(owner);
    }
    remove_stale_temporaries(&options.output, owner.as_deref());
    let done: HashMap<String, String> = store.done_files()?;
    let mut summary = Summary {
        symlinks: walk.symlinks,
        special: walk.special,
        unreadable: walk.unreadable.len(),
        ..Summary::default()
    };
    // What cannot be read or must not be written is named now.
    let mut refusals: Vec<FileRecord> = Vec::new();
    for (key, why) in &walk.unreadable {
        eprintln!("cannot read {key}: {why}");
        refusals.push(record(
            key,
            FileStatus::Failed,
            None,
            Some(UNREADABLE),
            Some(why.clone()),
        ));
    }
    let todo: Vec<&(PathBuf, String)> = walk
        .files
        .iter()
        .filter(|(_, rel)| {
            if options.layout == Layout::Preserve
                && let Some(why) =
                    reserved_output(&options.output, &options.store, &input_tree::rel_path(rel))
            {
                eprintln!("refused {rel}: its output {why}");
                summary.refused += 1;
                refusals.push(record(
                    rel,
                    FileStatus::Failed,
                    None,
                    Some(RESERVED),
                    Some(format!("its output {why}")),
                ));
                return false;
            }
            match done.get(rel) {
                Some(out) if options.output.join(input_tree::rel_path(out)).is_file() => {
                    summary.already_done += 1;
                    false
                }
                _ => true,
            }
        })
        .collect();
    store.record(&refusals, &[], &[], &now())?;

    let bar = if options.progress {
        ProgressBar::new(todo.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} files  {per_sec}  ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );

    let rsna_mode = matches!(engine.interpreter, Interpreter::Rsna(_));
    // The streaming path applies the header script alone: nothing else may
    // need the data set (defaced files are sent on from the third step).
    let stream_rules = match &engine.interpreter {
        Interpreter::Rsna(rules)
            if options.streaming
                && engine.filter.is_none()
                && engine.pixel_script.is_none()
                && engine.text.is_none() =>
        {
            Some((rules, engine.valid_output))
        }
        _ => None,
    };
    std::thread::scope(|scope| -> Result<(), BatchError> {
        // The previous chunk, being synced and renamed.
        let mut previous: Option<Finishing> = None;
        // Files skipped as duplicates of a file that then failed: taken
        // again once that failure is committed (its instance forgotten),
        // so a broken copy never hides a good one.
        let mut pending = todo;
        // The failures of the chunk being synced and renamed, whose
        // instances the store forgets when it is committed.
        let mut unforgotten: HashSet<String> = HashSet::new();
        while !pending.is_empty() {
            let mut hidden: Vec<&(PathBuf, String)> = Vec::new();
            for chunk in pending.chunks(CHUNK) {
                let scanned: Vec<Scanned> = pool.install(|| {
                    chunk
                        .par_iter()
                        .map(|(path, rel)| {
                            guard(|| {
                                scan(path, rel, rsna_mode, engine.filter.as_ref(), stream_rules)
                            })
                            .unwrap_or_else(|panic| {
                                Scanned::Quarantine(Reason::DicomReadError, panic)
                            })
                        })
                        .collect()
                });
                // Captured while the chunk before is still being synced and
                // renamed: its failures are not yet forgotten in the store,
                // so a duplicate of one of them is held back (below) too.
                let plans = plan_chunk(scanned, chunk, store, engine, rsna_mode)?;
                let duplicate_of: Vec<Option<String>> = plans
                    .iter()
                    .map(|p| match p {
                        Plan::Duplicate(first) => Some(first.clone()),
                        _ => None,
                    })
                    .collect();
                let outcomes: Vec<Outcome> = pool.install(|| {
                    plans
                        .into_par_iter()
                        .zip(chunk.par_iter())
                        .map(|(plan, (path, rel))| {
                            let outcome = carry_out(plan, path, rel, engine, options, rsna_mode);
                            bar.inc(1);
                            outcome
                        })
                        .collect()
                });

                // The chunk's outputs: synced together, then renamed into place,
                // while the next chunk is read and anonymized; recorded once
                // that is done.
                let failed: HashSet<String> = outcomes
                    .iter()
                    .filter(|(r, ..)| r.forget_instance.is_some())
                    .map(|(r, ..)| r.source.clone())
                    .collect();
                let (records, staged): (Vec<_>, Vec<_>) = outcomes
                    .into_iter()
                    .zip(duplicate_of)
                    .zip(chunk)
                    .filter_map(|((outcome, first), file)| {
                        if first.is_some_and(|f| failed.contains(&f) || unforgotten.contains(&f)) {
                            hidden.push(file);
                            return None;
                        }
                        Some(outcome)
                    })
                    .map(|(r, u, reason, s)| ((r, u, reason), s))
                    .unzip();
                let staged: Vec<dicom_file::Staged> = staged.into_iter().flatten().collect();
                // The chunk before: renamed by now (it had this chunk's whole
                // time), then committed, its failures forgotten.
                if let Some(finishing) = previous.take() {
                    finishing.finish(store, &mut summary)?;
                }
                unforgotten = failed;
                let pixel_copied = staged.iter().filter(|s| s.pixel_copied).count();
                let pixel_framewise = staged.iter().filter(|s| s.pixel_framewise).count();
                let streamed = staged.iter().filter(|s| s.streamed).count();
                let output = &options.output;
                let durability = options.durability;
                let renaming = scope.spawn(move || sync_and_rename(output, staged, durability));
                let integers = match &engine.interpreter {
                    Interpreter::Ctp(c) => c.integers.take_fresh(),
                    Interpreter::Rsna(_) => Vec::new(),
                };
                previous = Some(Finishing {
                    renaming,
                    records,
                    integers,
                    pixel_copied,
                    pixel_framewise,
                    streamed,
                });
            }
            // The held-back duplicates are taken again once every failure
            // before them is forgotten.
            if !hidden.is_empty()
                && let Some(finishing) = previous.take()
            {
                finishing.finish(store, &mut summary)?;
                unforgotten.clear();
            }
            bar.inc_length(hidden.len() as u64);
            pending = hidden;
        }
        match previous {
            Some(finishing) => finishing.finish(store, &mut summary),
            None => Ok(()),
        }
    })?;
    // The renames of the whole run (`files` synced each chunk's
    // directories after its renames; `none` promises nothing).
    if options.durability == dicom_file::Durability::Filesystem {
        dicom_file::sync_filesystem(&options.output, &[]).map_err(|e| {
            BatchError::Io(format!("cannot sync {}: {e}", options.output.display()))
        })?;
    }
    bar.finish_and_clear();
    let rows = store.quarantined()?;
    quarantine::write_report(&options.output, &rows)
        .map_err(|e| BatchError::Io(format!("cannot write the quarantine report: {e}")))?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// What to do with one file of a chunk, once identities are captured.
enum Plan {
    Record(FileRecord),
    Quarantine(Reason, String),
    /// Its SOPInstanceUID was captured from this other file first.
    Duplicate(String),
    /// Anonymize, with the captured subject (RSNA), the SOPInstanceUID
    /// and the data set when the scan kept it.
    Anonymize(Option<Subject>, String, Option<file::Read>),
}

/// What became of one file: its record, the UIDs it mapped, why it was
/// quarantined, and its output waiting to be renamed into place.
type Outcome = (
    FileRecord,
    rsna::UidLog,
    Option<Reason>,
    Option<dicom_file::Staged>,
);

/// Capture a chunk's identities (RSNA) in path order, and decide each file.
fn plan_chunk(
    scanned: Vec<Scanned>,
    chunk: &[&(PathBuf, String)],
    store: &mut Store,
    engine: &Engine,
    rsna_mode: bool,
) -> Result<Vec<Plan>, BatchError> {
    let ids: Vec<Identity> = scanned
        .iter()
        .filter_map(|s| match s {
            Scanned::Accepted(id, _) if rsna_mode => Some(id.clone()),
            _ => None,
        })
        .collect();
    let mut outcomes = store.capture_all(&ids, &engine.capture)?.into_iter();
    Ok(scanned
        .into_iter()
        .zip(chunk)
        .map(|(s, (_, rel))| match s {
            Scanned::NotDicom => Plan::Record(record(
                rel,
                FileStatus::Skipped,
                None,
                Some("not DICOM"),
                None,
            )),
            Scanned::Unreadable(e) => {
                eprintln!("cannot read {rel}: {e}");
                Plan::Record(record(
                    rel,
                    FileStatus::Failed,
                    None,
                    Some(UNREADABLE),
                    Some(e),
                ))
            }
            Scanned::Quarantine(reason, detail) => Plan::Quarantine(reason, detail),
            Scanned::Filtered => {
                Plan::Record(record(rel, FileStatus::Skipped, None, Some(FILTERED), None))
            }
            Scanned::Accepted(id, obj) if !rsna_mode => {
                Plan::Anonymize(None, id.sop_instance_uid, obj)
            }
            Scanned::Accepted(id, obj) => {
                match outcomes.next().expect("one outcome per identity") {
                    CaptureOutcome::Subject(subject) => {
                        Plan::Anonymize(Some(subject), id.sop_instance_uid, obj)
                    }
                    CaptureOutcome::Duplicate { first_source } => Plan::Duplicate(first_source),
                    CaptureOutcome::LookupMiss(m) => Plan::Quarantine(Reason::LookupMiss, m),
                    CaptureOutcome::Integrity(m) => Plan::Quarantine(Reason::InvalidDicom, m),
                }
            }
        })
        .collect())
}

/// Carry out one file's plan: anonymize and write it, or quarantine it.
fn carry_out(
    plan: Plan,
    path: &Path,
    rel: &str,
    engine: &Engine,
    options: &Options,
    rsna_mode: bool,
) -> Outcome {
    let quarantine = |reason: Reason, detail: String, forget: Option<String>| {
        let detail = match quarantine::put(&options.output, reason, path, rel) {
            Ok(()) => detail,
            Err(e) => format!("{detail} (copy to quarantine failed: {e})"),
        };
        let mut r = record(
            rel,
            FileStatus::Quarantined,
            None,
            Some(reason.dir_name()),
            Some(detail),
        );
        r.forget_instance = forget;
        (r, Vec::new(), Some(reason), None)
    };
    match plan {
        Plan::Record(r) => (r, Vec::new(), None, None),
        Plan::Duplicate(first_source) => (
            record(
                rel,
                FileStatus::Skipped,
                None,
                Some("duplicate SOPInstanceUID"),
                Some(format!("already captured from {first_source}")),
            ),
            Vec::new(),
            None,
            None,
        ),
        Plan::Quarantine(reason, detail) => quarantine(reason, detail, None),
        Plan::Anonymize(subject, sop, parsed) => {
            let anonymized =
                guard(|| anonymize_file(path, rel, subject.as_ref(), parsed, engine, options))
                    .unwrap_or_else(|panic| Err((Reason::StorageError, panic)));
            match anonymized {
                Ok(FileOutcome::Written(out, uids, warnings, cleaned, staged)) => {
                    let mut notes = Vec::new();
                    notes.extend(cleaned.as_ref().map(|c| format!("{PIXELS_CLEANED}: {c}")));
                    if !warnings.is_empty() {
                        notes.push(format!("warnings: {}", warnings.join("; ")));
                    }
                    let detail = (!notes.is_empty()).then(|| notes.join("; "));
                    let reason = cleaned.is_some().then_some(PIXELS_CLEANED);
                    (
                        record(rel, FileStatus::Done, Some(out), reason, detail),
                        uids,
                        None,
                        Some(staged),
                    )
                }
                Ok(FileOutcome::Skipped(m)) => (
                    record(
                        rel,
                        FileStatus::Skipped,
                        None,
                        Some("skipped by the script"),
                        Some(m),
                    ),
                    Vec::new(),
                    None,
                    None,
                ),
                Err((reason, detail)) => {
                    let forget = rsna_mode.then_some(sop);
                    quarantine(reason, detail, forget)
                }
            }
        }
    }
}

/// Run one file's step so that a panic in it (a bug of ours or of a
/// library, on input nobody foresaw) fails that file, with the panic's
/// message, instead of ending the run.
fn guard<T>(step: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        format!("internal error, please report it: {message}")
    })
}

/// A chunk whose outputs are being synced and renamed into place, and what
/// to record about its files once they are.
struct Finishing<'scope> {
    renaming: std::thread::ScopedJoinHandle<'scope, Result<(), BatchError>>,
    records: Vec<(FileRecord, rsna::UidLog, Option<Reason>)>,
    integers: Vec<(String, String, u64)>,
    pixel_copied: usize,
    pixel_framewise: usize,
    streamed: usize,
}

impl Finishing<'_> {
    /// Wait for the renames, then commit the chunk to the store.
    fn finish(self, store: &mut Store, summary: &mut Summary) -> Result<(), BatchError> {
        self.renaming
            .join()
            .map_err(|_| BatchError::Io("the thread renaming outputs panicked".into()))??;
        summary.pixel_copied += self.pixel_copied;
        summary.pixel_framewise += self.pixel_framewise;
        summary.streamed += self.streamed;
        let mut uids = Vec::new();
        let mut file_records = Vec::with_capacity(self.records.len());
        for (r, u, reason) in self.records {
            match r.status {
                FileStatus::Done => {
                    summary.anonymized += 1;
                    if r.reason.as_deref() == Some(PIXELS_CLEANED) {
                        summary.pixel_cleaned += 1;
                    }
                }
                FileStatus::Quarantined => {
                    let reason = reason.map_or("unknown", Reason::dir_name);
                    *summary.quarantined.entry(reason).or_default() += 1;
                }
                FileStatus::Skipped if r.reason.as_deref() == Some("not DICOM") => {
                    summary.not_dicom += 1
                }
                FileStatus::Skipped if r.reason.as_deref() == Some("skipped by the script") => {
                    summary.script_skipped += 1
                }
                FileStatus::Skipped if r.reason.as_deref() == Some(FILTERED) => {
                    summary.filtered += 1
                }
                FileStatus::Skipped => summary.duplicates += 1,
                FileStatus::Failed => summary.unreadable += 1,
            }
            uids.extend(u);
            file_records.push(r);
        }
        store.record(&file_records, &uids, &self.integers, &now())?;
        Ok(())
    }
}

/// Make a chunk's outputs durable, then give them their final names.
fn sync_and_rename(
    output: &Path,
    staged: Vec<dicom_file::Staged>,
    durability: dicom_file::Durability,
) -> Result<(), BatchError> {
    if staged.is_empty() {
        return Ok(());
    }
    dicom_file::make_durable(durability, output, &staged)
        .map_err(|e| BatchError::Io(format!("cannot sync {}: {e}", output.display())))?;
    let mut directories = std::collections::BTreeSet::new();
    for s in staged {
        let path = s.path.clone();
        s.commit()
            .map_err(|e| BatchError::Io(format!("cannot rename into {}: {e}", path.display())))?;
        // Its directory and those above it, up to the output root: a
        // directory this run created is a new name in its parent.
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(output)) {
            if !directories.insert(d.to_path_buf()) {
                break;
            }
            dir = d.parent();
        }
    }
    if durability == dicom_file::Durability::Files {
        // The renames: each directory that gained a name, synced.
        for dir in &directories {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| BatchError::Io(format!("cannot sync {}: {e}", dir.display())))?;
        }
    }
    Ok(())
}

/// Remove the temporary files a killed run left in the output tree
/// (`.anon-tmp-<pid>-<n>`): their content never reached its final name,
/// and the files they were for are not recorded as done. A worker of a
/// shard removes only its shard's (`.anon-tmp-s<K>of<N>-…`): the other
/// shards' workers may be writing theirs now.
fn remove_stale_temporaries(output: &Path, owner: Option<&str>) {
    for entry in walkdir::WalkDir::new(output)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".anonymizer")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && dicom_file::is_temp_of(&name, owner) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The name a shard's temporary files carry.
fn temp_owner(shard: crate::shard::Shard) -> String {
    format!("s{}of{}", shard.index, shard.count)
}

fn record(
    source: &str,
    status: FileStatus,
    output: Option<String>,
    reason: Option<&str>,
    detail: Option<String>,
) -> FileRecord {
    FileRecord {
        source: source.to_string(),
        status,
        output,
        reason: reason.map(str::to_string),
        detail,
        forget_instance: None,
    }
}

/// Seconds since the Unix epoch, for audit records (UTC).
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
