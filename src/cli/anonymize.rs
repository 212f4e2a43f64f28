//! `dicom-anonymizer anonymize --input DIR --output DIR --script PATH …`

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{EXIT_USAGE, usage};
use crate::batch::layout::{Layout, component};
use crate::batch::{self, CtpEngine, Engine, Integers, Interpreter, Options};
use crate::deface::face_mask::Settings;
use crate::deface::model::FaceMaskModel;
use crate::deface::pipeline;
use crate::deface::qa::{self, Caption};
use crate::dialect::Dialect;
use crate::dicom_file::Durability;
use crate::functions::ctp::integer::MemoryIntegerTable;
use crate::functions::rsna::{acc, lookup, uid::UidGenerator};
use crate::interpreter::ctp::CtpScript;
use crate::interpreter::rsna::Project;
use crate::policy::{LoadedScript, ScriptSource};
use crate::store::{CaptureContext, Store, StoreIntegerTable};

/// The RSNA tool's default UID root (its organisation root + `.2`). Set
/// your own with `--uid-root`.
pub const DEFAULT_UID_ROOT: &str = "1.2.826.0.1.3680043.10.474.2";
/// The RSNA tool's default project name.
pub const DEFAULT_PROJECT_NAME: &str = "MY_PROJECT";

#[derive(Debug, Args)]
pub struct AnonymizeArgs {
    /// The directory tree to anonymize (never modified).
    #[arg(long, value_name = "DIR")]
    input: PathBuf,
    /// Where anonymized files, the quarantine and (by default) the store go.
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// The script to apply: `low` or `high` (the bundled policies) or a path.
    #[arg(long, value_name = "low|high|PATH")]
    script: String,
    /// Whose semantics to apply the script with.
    #[arg(long, value_enum, default_value = "rsna")]
    dialect: Dialect,
    /// The site ID (anonymized patient IDs are `<site>-<n>`; UIDs are
    /// `<uid root>.<site>.2.<n>`). Default: the one the store was made
    /// with, else one derived from the time, as the RSNA tool does.
    #[arg(long, value_name = "ID")]
    site_id: Option<String>,
    /// The UID root of generated UIDs.
    #[arg(long, value_name = "ROOT")]
    uid_root: Option<String>,
    /// The project name written in the output's RSNA private block.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_PROJECT_NAME)]
    project_name: String,
    /// A CTP lookup table (a properties file of `keyType/value = replacement`
    /// lines; the rsna dialect reads `ptid/…` and `dateoffset/…`) for
    /// scripts that use `@lookup`.
    #[arg(long, value_name = "FILE")]
    lookup_table: Option<PathBuf>,
    /// Set a script parameter (`@NAME`), overriding the script's `<p>`
    /// (ctp dialect; the RSNA tool has no parameters). Repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// The store: a SQLite file (default:
    /// `<output>/.anonymizer/store.sqlite`), or a PostgreSQL database that
    /// workers on several machines share, `postgres://USER@HOST:PORT/DB`
    /// (the password from PGPASSWORD or ~/.pgpass, never in the URL).
    #[arg(long, value_name = "PATH|URL")]
    store: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// How output files are laid out.
    #[arg(long, value_enum, default_value = "preserve")]
    layout: Layout,
    /// Apply the script to headers only, even when it asks for head series
    /// to be defaced (DEFACE=yes): faces stay in the pixels. For comparing
    /// header output with other tools; a warning says so.
    #[arg(long)]
    no_deface: bool,
    /// Write what the RSNA tool writes even where its values are invalid
    /// (rsna dialect): `@acc` as `8-4-4` (18 characters in a 16-character
    /// SH) and `@round` as `5Y` (AS is 4 characters). By default those are
    /// written valid. Pinned in the store: a project keeps one form.
    #[arg(long)]
    rsna_exact: bool,
    /// Follow symbolic links in the input tree (by default they are
    /// counted and skipped).
    #[arg(long)]
    follow_symlinks: bool,
    /// How outputs are made durable before they are recorded as done:
    /// `filesystem` (one syncfs per chunk of 512 files, which also waits
    /// for other processes' pending writes; the cheapest measured), `files`
    /// (fdatasync each output: for a file system other jobs write heavily
    /// to) or `none` (scratch output: a crash may leave outputs recorded as
    /// done but empty).
    #[arg(long, value_enum, value_name = "HOW", default_value = "filesystem")]
    sync: Durability,
    /// The same as `--sync none`: for scratch output only.
    #[arg(long, conflicts_with = "sync")]
    no_sync: bool,
    /// Take only the input files of shard K of N (K from 0): a file's
    /// shard is the FNV-1a 64-bit hash of its path relative to `--input`,
    /// modulo N, so N workers cover every file exactly once. Needs a store
    /// the workers share (`--store postgres://…`); with the SQLite store,
    /// only `--single-machine`.
    #[arg(long, value_name = "K/N")]
    shard: Option<crate::shard::Shard>,
    /// Allow `--shard` with the SQLite store: the shards run on this
    /// machine, one after another, into one store and output.
    #[arg(long, requires = "shard")]
    single_machine: bool,
    /// The input is `serve`'s spool, inside the output's `.anonymizer/`.
    #[arg(skip)]
    spool: bool,
    #[command(flatten)]
    stages: StageArgs,
    /// Write a PNG of each cleaned file's first frame, with the blanked
    /// regions outlined in red, as DIR/<output path>.png (owner-only: the
    /// rest of the image may still show text), for a reviewer. Files are
    /// cleaned by --pixel-script and by the text detector (PIXEL_TEXT,
    /// --pixel-text).
    #[arg(long, value_name = "DIR")]
    pixel_preview: Option<PathBuf>,
    /// Write the QA sheet of each defaced head series (surface renders
    /// before and after, slices with the removed voxels tinted) as
    /// DIR/<series folder>_series<N>.png, owner-only, for a reviewer. Only
    /// with a script that defaces (DEFACE=yes: the high level).
    #[arg(long, value_name = "DIR")]
    deface_qa: Option<PathBuf>,
    /// Copy the pixel data of files of at least BYTES as bytes (default
    /// 1 MiB); for tests, which compare both paths.
    #[arg(long, value_name = "BYTES", hide = true)]
    tail_copy_min: Option<u64>,
    /// Read every file into dicom-rs's object model, never anonymizing a
    /// small file element by element from its bytes (the streaming path,
    /// which writes the same bytes faster): for comparing the two.
    #[arg(long)]
    no_streaming: bool,
}

/// Pin `--rsna-exact` in the store. A store that holds studies from before
/// the setting existed was made with the RSNA tool's forms.
fn pin_rsna_exact(store: &mut Store, exact: bool) -> Result<(), crate::store::StoreError> {
    if store.setting("rsna_exact")?.is_none() && !store.instances_by_study()?.is_empty() {
        store.pin_settings(&[("rsna_exact", "yes")])?;
    }
    let value = if exact { "yes" } else { "no" };
    store.pin_settings(&[("rsna_exact", value)])
}

/// The default store location inside an output directory.
pub fn default_store(output: &Path) -> PathBuf {
    output.join(".anonymizer").join("store.sqlite")
}

impl AnonymizeArgs {
    /// The settings `deface` anonymizes its DICOM output with: `script`,
    /// everything else as `anonymize` defaults it.
    pub fn for_deface(
        input: PathBuf,
        output: PathBuf,
        script: String,
        store: PathBuf,
        jobs: Option<usize>,
    ) -> Self {
        AnonymizeArgs {
            input,
            output,
            script,
            dialect: Dialect::Rsna,
            site_id: None,
            uid_root: None,
            project_name: DEFAULT_PROJECT_NAME.to_string(),
            lookup_table: None,
            params: Vec::new(),
            store: Some(store),
            jobs,
            layout: Layout::Preserve,
            no_deface: false,
            rsna_exact: false,
            follow_symlinks: false,
            sync: Durability::Filesystem,
            no_sync: false,
            shard: None,
            single_machine: false,
            spool: false,
            tail_copy_min: None,
            no_streaming: false,
            stages: StageArgs::default(),
            pixel_preview: None,
            deface_qa: None,
        }
    }

    /// The settings `serve` anonymizes its spool with: the spool as the
    /// input, outputs laid out by patient, study and series.
    pub fn for_serve(spool: PathBuf, run: &RunArgs) -> Self {
        AnonymizeArgs {
            input: spool,
            output: run.output.clone(),
            script: run.script.clone(),
            dialect: run.dialect,
            site_id: run.site_id.clone(),
            uid_root: run.uid_root.clone(),
            project_name: run.project_name.clone(),
            lookup_table: run.lookup_table.clone(),
            params: run.params.clone(),
            store: run.store.clone(),
            jobs: run.jobs,
            layout: Layout::Rsna,
            no_deface: run.no_deface,
            rsna_exact: run.rsna_exact,
            follow_symlinks: false,
            sync: Durability::Filesystem,
            no_sync: false,
            shard: None,
            single_machine: false,
            spool: true,
            tail_copy_min: None,
            no_streaming: false,
            stages: run.stages.clone(),
            pixel_preview: None,
            deface_qa: run.deface_qa.clone(),
        }
    }
}

/// What `serve` shares with `anonymize`: where outputs go and how they
/// are made.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where anonymized files, the quarantine, the spool and (by default)
    /// the store go.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// The script to apply: `low` or `high` (the bundled policies) or a path.
    #[arg(long, value_name = "low|high|PATH")]
    pub script: String,
    /// Whose semantics to apply the script with.
    #[arg(long, value_enum, default_value = "rsna")]
    pub dialect: Dialect,
    /// The site ID (as `anonymize --site-id`).
    #[arg(long, value_name = "ID")]
    pub site_id: Option<String>,
    /// The UID root of generated UIDs.
    #[arg(long, value_name = "ROOT")]
    pub uid_root: Option<String>,
    /// The project name written in the output's RSNA private block.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_PROJECT_NAME)]
    pub project_name: String,
    /// A lookup table (as `anonymize --lookup-table`).
    #[arg(long, value_name = "FILE")]
    pub lookup_table: Option<PathBuf>,
    /// Set a script parameter (as `anonymize --param`). Repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// The store: a SQLite file (default:
    /// `<output>/.anonymizer/store.sqlite`), or a PostgreSQL database that
    /// workers on several machines share, `postgres://USER@HOST:PORT/DB`
    /// (the password from PGPASSWORD or ~/.pgpass, never in the URL).
    #[arg(long, value_name = "PATH|URL")]
    pub store: Option<PathBuf>,
    /// Worker threads for anonymizing (default: all cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Apply the script to headers only, even when it asks for defacing.
    #[arg(long)]
    pub no_deface: bool,
    /// Write what the RSNA tool writes even where its values are invalid
    /// (rsna dialect): `@acc` as `8-4-4` (18 characters in a 16-character
    /// SH) and `@round` as `5Y` (AS is 4 characters). By default those are
    /// written valid. Pinned in the store: a project keeps one form.
    #[arg(long)]
    pub rsna_exact: bool,
    /// Write the QA sheet of each head series defaced (surface renders
    /// before and after, slices with the removed voxels tinted) as
    /// DIR/<the series' output folder>.png, owner-only, for a reviewer.
    /// Only with a script that defaces (DEFACE=yes: the high level).
    #[arg(long, value_name = "DIR")]
    pub deface_qa: Option<PathBuf>,
    #[command(flatten)]
    pub stages: StageArgs,
}

/// The CTP stages around the header script, for `anonymize` and `serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct StageArgs {
    /// A CTP DicomFilter script (a condition such as
    /// `!ImageType.contains("SECONDARY")`): files it does not pass are not
    /// anonymized. Evaluated on each file as it arrives.
    #[arg(long, value_name = "FILE")]
    pub filter: Option<PathBuf>,
    /// What becomes of a file the filter does not pass: `quarantine`
    /// (copied to quarantine/Filtered/, as CTP does) or `skip` (counted
    /// and recorded only).
    #[arg(
        long,
        value_enum,
        value_name = "ACTION",
        default_value = "quarantine",
        requires = "filter"
    )]
    pub filter_action: batch::FilterAction,
    /// A CTP DicomPixelAnonymizer script: the regions of the first
    /// signature a file matches (as it arrives) are blanked in every frame
    /// after the header script. A file whose pixels cannot be cleaned is
    /// quarantined (Pixel_Clean_Error).
    #[arg(long, value_name = "FILE")]
    pub pixel_script: Option<PathBuf>,
    /// Which files the burned-in text detector searches: `at-risk`
    /// (ultrasound, screen and secondary captures, angiography,
    /// fluoroscopy, documents, endoscopy, photographs, and files whose
    /// BurnedInAnnotation is YES), `all` (every file with pixel data) or
    /// `off`. Default: what the script's PIXEL_TEXT parameter says
    /// (at-risk at the high level, off at the low level).
    #[arg(long, value_enum, value_name = "SCOPE")]
    pub pixel_text: Option<crate::pixel::text::Scope>,
    /// Words the text detector leaves in the pixels, beside the bundled
    /// list (src/pixel/text/whitelist.txt, same format: one per line,
    /// `MOD: word` for one modality, `/regex/` for a pattern).
    #[arg(long, value_name = "FILE")]
    pub pixel_whitelist: Option<PathBuf>,
    /// How found text is cleaned: `blackout` (its rectangle blanked, the
    /// default) or `inpaint` (its strokes painted over from the pixels
    /// around them).
    #[arg(long, value_enum, value_name = "HOW", default_value = "blackout")]
    pub pixel_clean: crate::pixel::text::Cleaning,
    /// The text detector's models (det.onnx, rec.onnx, keys.txt, made by
    /// scripts/make_text_models.sh). Default: $DICOM_ANONYMIZER_TEXT_MODELS,
    /// else .cache/text-models in the source tree.
    #[arg(long, value_name = "DIR")]
    pub text_models: Option<PathBuf>,
}

/// The text stage `stages` and the script's PIXEL_TEXT ask for, with its
/// models and whitelist loaded; `None` when it is off.
pub(super) fn text_stage(
    stages: &StageArgs,
    asked: crate::pixel::text::Scope,
) -> Result<Option<crate::pixel::text::TextStage>, String> {
    use crate::pixel::text::{self, Scope, whitelist::Whitelist};
    let scope = stages.pixel_text.unwrap_or(asked);
    if scope == Scope::Off {
        return Ok(None);
    }
    let by = if stages.pixel_text.is_some() {
        "--pixel-text"
    } else {
        "the script (PIXEL_TEXT)"
    };
    let mut whitelist = Whitelist::bundled();
    if let Some(path) = &stages.pixel_whitelist {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--pixel-whitelist {}: {e}", path.display()))?;
        whitelist.extend(Whitelist::parse(&text, &path.display().to_string())?);
    }
    let dir = stages
        .text_models
        .clone()
        .unwrap_or_else(text::default_models_dir);
    let models = text::TextModels::load(&dir).map_err(|e| {
        format!(
            "{by} asks for burned-in text to be searched, but {e}; or run with --pixel-text off"
        )
    })?;
    Ok(Some(text::TextStage {
        scope,
        models,
        whitelist,
        cleaning: stages.pixel_clean,
    }))
}

/// Everything a run needs, checked and opened.
pub struct Prepared {
    pub engine: Engine,
    pub store: Store,
    pub options: Options,
    /// The script asks for head series to be defaced.
    pub deface: bool,
}

/// Exit status: 0 when every DICOM file was anonymized (or already was),
/// 1 when some were quarantined or unreadable, 2 on a usage, script or
/// store error (the script is checked before any file is touched).
pub fn run(args: &AnonymizeArgs) -> ExitCode {
    let mut prepared = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if prepared.deface {
        let model = match FaceMaskModel::bundled() {
            Ok(m) => m,
            Err(e) => return usage(e),
        };
        eprintln!("the script asks for head series to be defaced (DEFACE=yes): finding them");
        let input = prepared.options.input.clone();
        let mut sheets = QaNames::default();
        let plan = pipeline::plan_tree(&input, model, &Settings::default(), |r, defaced| {
            eprintln!("deface: {r}");
            if let (Some(dir), Some(d)) = (&args.deface_qa, defaced) {
                let (subject, path) = sheets.name(dir, &input, d);
                let first = d.slices.first().map(|s| &s.obj);
                match qa::write(
                    &path,
                    &d.volume,
                    &d.mask,
                    d.modality,
                    &Caption::new(&subject, first),
                ) {
                    Ok(_) => eprintln!("deface: QA sheet {}", path.display()),
                    Err(e) => eprintln!("deface: QA sheet not written: {e}"),
                }
            }
        });
        match plan {
            Ok(plan) => prepared.engine.deface = Some(plan),
            Err(e) => {
                return usage(format!(
                    "cannot read {}: {e}",
                    prepared.options.input.display()
                ));
            }
        }
    }
    execute(&mut prepared)
}

/// The names of the QA sheets of one run: the series' folder under the
/// input and its number, made unique.
#[derive(Default)]
struct QaNames(std::collections::HashSet<PathBuf>);

impl QaNames {
    /// The caption's subject (the series' folder) and the sheet's path.
    fn name(&mut self, dir: &Path, input: &Path, d: &pipeline::Defaced) -> (String, PathBuf) {
        let folder = d
            .slices
            .first()
            .and_then(|s| s.path.parent())
            .and_then(|p| p.strip_prefix(input).ok())
            .map(|p| {
                p.components()
                    .map(|c| component(&c.as_os_str().to_string_lossy()))
                    .collect::<Vec<_>>()
                    .join("_")
            })
            .unwrap_or_default();
        let caption = Caption::new(&folder, d.slices.first().map(|s| &s.obj));
        let stem = format!(
            "{}{}",
            if folder.is_empty() {
                String::new()
            } else {
                format!("{folder}_")
            },
            caption.series.replace(' ', "")
        );
        let mut path = dir.join(format!("{stem}.png"));
        let mut n = 1;
        while !self.0.insert(path.clone()) {
            n += 1;
            path = dir.join(format!("{stem}_{n}.png"));
        }
        (folder, path)
    }
}

/// Run the batch and report its summary; the exit status.
pub fn execute(prepared: &mut Prepared) -> ExitCode {
    let Prepared {
        engine,
        store,
        options,
        ..
    } = prepared;
    let output = options.output.clone();
    let summary = match batch::run(options, engine, store) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    report(&summary, &output)
}

/// The script, the directories, the store and the settings it pins,
/// checked in that order (nothing is touched if the script is wrong).
pub fn prepare(args: &AnonymizeArgs) -> Result<Prepared, ExitCode> {
    // Every early return here is a usage error.
    fn usage(message: impl std::fmt::Display) -> Result<Prepared, ExitCode> {
        Err(super::usage(message))
    }
    // The script first: nothing is touched if it is wrong.
    let params = match crate::policy::parse_params(&args.params) {
        Ok(p) => p,
        Err(message) => return usage(message),
    };
    if args.dialect == Dialect::Rsna {
        for (name, _) in &params {
            eprintln!("warning: --param {name} is ignored: the rsna dialect has no parameters");
        }
    }
    let loaded = match ScriptSource::named(&args.script).and_then(|source| {
        LoadedScript::load(&source, args.dialect, &params, &mut std::io::stderr())
    }) {
        Ok(l) => l,
        Err(message) => return usage(message),
    };
    let deface = loaded.requests_deface() && !args.no_deface;
    if args.deface_qa.is_some() && !deface {
        return usage(
            "--deface-qa needs a script that defaces head series (DEFACE=yes, as the high level)"
                .to_string(),
        );
    }
    let text = match text_stage(&args.stages, loaded.pixel_text()) {
        Ok(t) => t,
        Err(message) => return usage(message),
    };
    if let Some(shard) = args.shard {
        let shared = args.store.as_deref().is_some_and(crate::store::is_url);
        if !shared && !args.single_machine {
            return usage(format!(
                "--shard {shard}: the workers of a sharded run must share one store: give --store postgres://USER@HOST:PORT/DB, or add --single-machine to run the shards here one after another on the SQLite store"
            ));
        }
        if deface {
            return usage(format!(
                "--shard {shard}: {} asks for head series to be defaced, and a shard may hold part of a series; run without --shard, or with --no-deface",
                loaded.name
            ));
        }
    }
    let valid_output = loaded.requests_valid_output();
    if loaded.requests_deface() && args.no_deface {
        eprintln!(
            "warning: --no-deface: {} asks for head series to be defaced, but faces stay in the pixel data of this output",
            loaded.name
        );
    }
    let mut ctp_script = (args.dialect == Dialect::Ctp).then(|| CtpScript::compile(&loaded.script));
    if let Some(s) = &mut ctp_script {
        for (name, value) in &params {
            s.set_param(name, value);
        }
    }
    let rules = loaded.rules;
    let filter = match &args.stages.filter {
        Some(path) => match crate::filter::Filter::load(path) {
            Ok(filter) => Some(batch::FilterStage {
                filter,
                action: args.stages.filter_action,
            }),
            Err(e) => return usage(e),
        },
        None => None,
    };
    let pixel_script = match &args.stages.pixel_script {
        Some(path) => match crate::pixel::script::PixelScript::load(path) {
            Ok(script) => Some(script),
            Err(e) => return usage(e),
        },
        None => None,
    };

    // The directories.
    if !args.input.is_dir() {
        return usage(format!(
            "--input {} is not a directory",
            args.input.display()
        ));
    }
    // Checked before anything is created: an output inside the input
    // would be read back as input by the next run.
    let (Ok(input), Ok(planned)) = (args.input.canonicalize(), resolve(&args.output)) else {
        return usage("cannot resolve the input or output directory");
    };
    if !args.spool && (planned.starts_with(&input) || input.starts_with(&planned)) {
        return usage(format!(
            "--input {} and --output {} must not contain one another",
            input.display(),
            planned.display()
        ));
    }
    // Reviewers' pictures are written, never into the input.
    for (flag, dir) in [
        ("--pixel-preview", &args.pixel_preview),
        ("--deface-qa", &args.deface_qa),
    ] {
        if let Some(dir) = dir
            && resolve(dir).is_ok_and(|d| d.starts_with(&input))
        {
            return usage(format!(
                "{flag} {} must not be inside --input {}",
                dir.display(),
                input.display()
            ));
        }
    }
    if let Err(e) = std::fs::create_dir_all(&args.output) {
        return usage(format!(
            "cannot create --output {}: {e}",
            args.output.display()
        ));
    }
    let Ok(output) = args.output.canonicalize() else {
        return usage("cannot resolve the output directory");
    };

    // The store and the settings it pins.
    let store_path = args.store.clone().unwrap_or_else(|| default_store(&output));
    let store_path = match store_path.parent().map(Path::canonicalize) {
        _ if crate::store::is_url(&store_path) => store_path,
        Some(Ok(dir)) => dir.join(store_path.file_name().unwrap_or_default()),
        _ => store_path,
    };
    let mut store = match Store::open(&store_path) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let site_id = match (&args.site_id, store.setting("site_id")) {
        (Some(s), _) => s.clone(),
        (None, Ok(Some(s))) => s,
        (None, Ok(None)) => {
            let s = rsna_default_site_id();
            eprintln!("note: no --site-id given; using {s} (kept in the store for later runs)");
            s
        }
        (None, Err(e)) => return usage(e),
    };
    let uid_root = match (&args.uid_root, store.setting("uid_root")) {
        (Some(r), _) => r.trim().to_string(),
        (None, Ok(Some(r))) => r,
        (None, Ok(None)) => DEFAULT_UID_ROOT.to_string(),
        (None, Err(e)) => return usage(e),
    };
    if site_id.is_empty() || uid_root.is_empty() {
        return usage("--site-id and --uid-root must not be empty");
    }
    if let Err(e) = store.pin_settings(&[("site_id", &site_id), ("uid_root", &uid_root)]) {
        return usage(e);
    }
    if ctp_script.is_none()
        && let Err(e) = pin_rsna_exact(&mut store, args.rsna_exact)
    {
        return usage(e);
    }
    if let Err(e) = store.ensure_default_patient(&site_id) {
        return usage(e);
    }
    let mut ctp_lookup = std::collections::HashMap::new();
    if let Some(path) = &args.lookup_table {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return usage(format!("cannot read {}: {e}", path.display())),
        };
        if ctp_script.is_some() {
            ctp_lookup = crate::functions::ctp::properties::parse(&text);
        } else {
            match lookup::parse_table(&text) {
                Ok(table) => {
                    if let Err(e) = store.replace_lookup(&table) {
                        return usage(e);
                    }
                }
                Err(errors) => {
                    for e in errors {
                        eprintln!("error: {}: {e}", path.display());
                    }
                    return Err(ExitCode::from(EXIT_USAGE));
                }
            }
        }
    }
    let uids = match UidGenerator::new(&uid_root, &site_id) {
        Ok(g) => g,
        Err(e) => return usage(format!("UID prefix {:?} leaves no room for digits", e.0)),
    };
    let engine = Engine {
        capture: CaptureContext {
            site_id: site_id.clone(),
            uids: uids.clone(),
            accession_salt: acc::salt(&site_id, &uid_root),
            lookup_required: rules.lookup_required && ctp_script.is_none(),
            rsna_exact: args.rsna_exact,
        },
        interpreter: match ctp_script {
            Some(script) => {
                let integers = match store.reopen_shared() {
                    Ok(Some(shared)) => Integers::Shared(StoreIntegerTable::new(shared)),
                    Ok(None) => match store.integers() {
                        Ok(i) => Integers::Memory(MemoryIntegerTable::with_entries(i)),
                        Err(e) => return usage(e),
                    },
                    Err(e) => return usage(e),
                };
                Interpreter::Ctp(Box::new(CtpEngine {
                    script,
                    lookup: ctp_lookup,
                    integers,
                }))
            }
            None => Interpreter::Rsna(rules),
        },
        project: Project {
            site_id,
            project_name: args.project_name.clone(),
            uids,
            rsna_exact: args.rsna_exact,
        },
        deface: None,
        valid_output,
        filter,
        pixel_script,
        text,
    };
    let options = Options {
        input,
        output: output.clone(),
        layout: args.layout,
        jobs: jobs(args.jobs),
        progress: std::io::stderr().is_terminal(),
        files: None,
        follow_links: args.follow_symlinks,
        store: store_path,
        durability: if args.no_sync {
            Durability::None
        } else {
            args.sync
        },
        shard: args.shard,
        tail_copy_min: args.tail_copy_min.unwrap_or(batch::TAIL_COPY_MIN),
        pixel_preview: args.pixel_preview.clone(),
        streaming: !args.no_streaming,
    };
    Ok(Prepared {
        engine,
        store,
        options,
        deface,
    })
}

/// Print a run's summary; the exit status.
fn report(summary: &batch::Summary, output: &Path) -> ExitCode {
    let secs = summary.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        summary.anonymized as f64 / secs
    } else {
        0.0
    };
    eprintln!(
        "anonymized {} files in {secs:.1} s ({rate:.0} files/s); already done {}; not DICOM {}; duplicate SOPInstanceUID {}; skipped by the script {}; unreadable {}; refused {}; symbolic links skipped {}; special files skipped {}",
        summary.anonymized,
        summary.already_done,
        summary.not_dicom,
        summary.duplicates,
        summary.script_skipped,
        summary.unreadable,
        summary.refused,
        summary.symlinks,
        summary.special
    );
    if summary.filtered > 0 {
        eprintln!(
            "not passed by the filter, skipped: {} files",
            summary.filtered
        );
    }
    if summary.pixel_cleaned > 0 {
        eprintln!(
            "burned-in text cleaned from the pixels (pixel script, text detector): {} files",
            summary.pixel_cleaned
        );
    }
    if summary.streamed > 0 {
        eprintln!(
            "anonymized from their bytes, element by element: {} files (the streaming path)",
            summary.streamed
        );
    }
    if summary.pixel_copied > 0 {
        eprintln!(
            "pixel data copied as bytes, not decoded: {} files (large files)",
            summary.pixel_copied
        );
    }
    if summary.pixel_framewise > 0 {
        eprintln!(
            "compressed pixel data decoded and cleaned frame by frame: {} files (large files)",
            summary.pixel_framewise
        );
    }
    if summary.quarantined_total() > 0 {
        let by_reason: Vec<String> = summary
            .quarantined
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        eprintln!(
            "quarantined {} ({}); see {}",
            summary.quarantined_total(),
            by_reason.join(", "),
            crate::batch::quarantine::root(output)
                .join("report.csv")
                .display()
        );
    }
    if summary.quarantined_total() > 0 || summary.unreadable > 0 || summary.refused > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The most worker threads a run starts, whatever `--jobs` asks.
pub const MAX_JOBS: usize = 256;

/// The worker threads for `--jobs` (0 or none: one per core), capped at
/// [`MAX_JOBS`]; more than four per core only costs memory, and says so.
pub fn jobs(asked: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = match asked {
        None | Some(0) => return cores,
        Some(n) => n,
    };
    if jobs > MAX_JOBS {
        eprintln!("warning: --jobs {jobs} is more than {MAX_JOBS}; using {MAX_JOBS}");
        return MAX_JOBS;
    }
    if jobs > cores * 4 {
        eprintln!(
            "warning: --jobs {jobs} is more than four per core ({cores} cores): more workers only cost memory"
        );
    }
    jobs
}

/// `path` made absolute with its symbolic links resolved, whether or not
/// it exists yet: its nearest existing ancestor, canonicalized, and the
/// rest.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(real) => return Ok(rest.iter().rev().fold(real, |p, c| p.join(c))),
            Err(e) => {
                let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                    return Err(e);
                };
                rest.push(name.to_os_string());
                existing = parent;
            }
        }
    }
}

/// The RSNA tool's default site ID: 30-minute intervals since 1970.
fn rsna_default_site_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (secs / 1800).to_string()
}
