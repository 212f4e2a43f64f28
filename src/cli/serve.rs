//! `dicom-anonymizer serve`: a C-ECHO / C-STORE SCP whose instances are
//! anonymized exactly as `anonymize` anonymizes files. Each instance is
//! synced into the spool (`<output>/.anonymizer/spool/`) before the sender
//! is answered; a worker hands what the spool holds to the batch (same
//! script, store, quarantine and report; outputs laid out by patient,
//! study and series) and removes each file once its outcome is recorded.
//! A restart finishes whatever a stopped process left in the spool.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use clap::Args;

use super::anonymize::{AnonymizeArgs, Prepared, RunArgs, prepare};
use super::send::{Delivery, transmit};
use super::tls_args::TlsArgs;
use super::usage;
use crate::batch;
use crate::deface::arrivals::{Arrivals, Complete};
use crate::deface::face_mask::Settings;
use crate::deface::model::FaceMaskModel;
use crate::deface::pipeline::{DefacePlan, add_to_plan, judge_series};
use crate::network::AeAddress;
use crate::network::address::valid_ae_title;
use crate::network::echo::Timeouts;
use crate::network::link::Link;
use crate::network::receiver::{self, Allowed, Config};
use crate::network::send;
use crate::network::spool::Spool;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Our AE title.
    #[arg(long, value_name = "AET", default_value = "DICOMANON")]
    aet: String,
    /// The TCP port to listen on (0: any free port, printed at start).
    #[arg(long, value_name = "PORT", default_value_t = 11112)]
    port: u16,
    /// The address to listen on.
    #[arg(long, value_name = "ADDRESS", default_value = "0.0.0.0")]
    bind: String,
    /// Accept associations only from this calling AE title (optionally
    /// only from this IP address: `AET@HOST`). Repeatable; none: anyone.
    #[arg(long, value_name = "AET[@HOST]")]
    allow: Vec<String>,
    /// The most associations served at once; more wait to be accepted.
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_associations: usize,
    /// Seconds an association may stay silent before it is dropped.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    idle_timeout: u64,
    /// Send each anonymized instance on to this destination (C-STORE), as
    /// `send` does: recorded in the store, retried until it is there.
    #[arg(long, value_name = "AET@HOST:PORT")]
    forward: Option<String>,
    /// Forward over TLS, with the --tls-* files (our certificate as the
    /// client's, the CA to trust the destination).
    #[arg(long, requires = "forward")]
    forward_tls: bool,
    /// With a script that defaces (DEFACE=yes): seconds a CT or MR series
    /// that may be a head must go without a new instance before it counts
    /// as complete and is defaced whole (and at exit, whatever is held).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    series_quiet: u64,
    /// Receive over TLS: every association opens with a TLS handshake.
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    run: RunArgs,
}

static SHUTDOWN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SHUTDOWN.store(true, Ordering::SeqCst);
}

/// Exit status: 0 after SIGINT or SIGTERM once every received instance
/// was anonymized (1 if some were quarantined), 2 on a usage, script or
/// store error, or when the port cannot be bound.
pub fn run(args: &ServeArgs) -> ExitCode {
    let allowed: Vec<Allowed> = match args.allow.iter().map(|a| a.parse()).collect() {
        Ok(a) => a,
        Err(e) => return usage(e),
    };
    if args.max_associations == 0 {
        return usage("--max-associations must be at least 1");
    }
    let forward = match args.forward.as_deref().map(str::parse::<AeAddress>) {
        None => None,
        Some(Ok(target)) => {
            let link = if args.forward_tls {
                args.tls.link(Timeouts::default())
            } else {
                Ok(Link::plain(Timeouts::default()))
            };
            match link {
                Ok(link) => Some((target, link)),
                Err(e) => return usage(format!("--forward-tls: {e}")),
            }
        }
        Some(Err(e)) => return usage(format!("--forward: {e}")),
    };
    let tls = match args.tls.server() {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    let settings = ReceiverSettings {
        aet: args.aet.clone(),
        bind: args.bind.clone(),
        port: args.port,
        allowed,
        max_associations: args.max_associations,
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        forward,
        listen: true,
        tls,
        series_quiet: Duration::from_secs(args.series_quiet),
    };
    // SIGINT and SIGTERM stop accepting; open associations finish.
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    if settings.allowed.is_empty() {
        eprintln!("serve: warning: no --allow given: any AE title may send");
    }
    let receiving = match Receiving::start(&settings, &args.run, &SHUTDOWN) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match receiving.finish() {
        Ok((quarantined, _)) => {
            eprintln!("serve: stopped");
            if quarantined {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => usage(format!("serve: {e}")),
    }
}

/// Where and how to listen.
pub(super) struct ReceiverSettings {
    pub aet: String,
    pub bind: String,
    pub port: u16,
    pub allowed: Vec<Allowed>,
    pub max_associations: usize,
    pub idle_timeout: Duration,
    /// Where each anonymized instance goes on to, and how.
    pub forward: Option<(AeAddress, Link)>,
    /// Listen for associations (false: instances come only through
    /// [`Receiving::intake`], as C-GET brings them).
    pub listen: bool,
    /// Receive over TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// With a script that defaces: how long a possible head series must
    /// go without a new instance to count as complete.
    pub series_quiet: Duration,
}

/// A receiver and the worker anonymizing its spool, running.
pub(super) struct Receiving {
    /// Instances committed to the spool so far.
    received: Arc<AtomicUsize>,
    spool: Arc<Spool>,
    /// Count an instance committed to the spool, and wake the worker.
    stored: Arc<dyn Fn() + Send + Sync>,
    receiver: std::thread::JoinHandle<std::io::Result<()>>,
    worker: std::thread::JoinHandle<(bool, Prepared)>,
}

impl Receiving {
    /// Check the settings and script, open the store, bind, and start
    /// receiving until `shutdown` is set.
    pub(super) fn start(
        settings: &ReceiverSettings,
        run: &RunArgs,
        shutdown: &'static AtomicBool,
    ) -> Result<Receiving, ExitCode> {
        if let Err(e) = valid_ae_title(&settings.aet) {
            return Err(usage(e));
        }
        let spool_dir = run.output.join(".anonymizer").join("spool");
        let spool = match Spool::open(&spool_dir) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                return Err(usage(format!(
                    "cannot create the spool {}: {e}",
                    spool_dir.display()
                )));
            }
        };
        let anonymize = AnonymizeArgs::for_serve(spool_dir.clone(), run);
        let mut prepared = prepare(&anonymize)?;
        // A script that asks for defacing: head series are held until
        // complete, then defaced whole.
        let defacer = if prepared.deface {
            match FaceMaskModel::bundled() {
                Ok(model) => Some(Defacer {
                    arrivals: Arrivals::new(settings.series_quiet),
                    model,
                    qa: run.deface_qa.clone(),
                }),
                Err(e) => return Err(usage(e)),
            }
        } else {
            None
        };
        prepared.options.progress = false;
        let listener = if settings.listen {
            match TcpListener::bind((settings.bind.as_str(), settings.port)) {
                Ok(l) => Some(l),
                Err(e) => {
                    return Err(usage(format!(
                        "cannot listen on {}:{}: {e}",
                        settings.bind, settings.port
                    )));
                }
            }
        } else {
            None
        };
        let config = Arc::new(Config {
            ae_title: settings.aet.clone(),
            allowed: settings.allowed.clone(),
            max_associations: settings.max_associations,
            idle_timeout: settings.idle_timeout,
            max_pdu_length: 64 * 1024,
            tls: settings.tls.clone(),
        });
        if let Some(listener) = &listener {
            let local = listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            eprintln!(
                "serve: {} listening on {local}{}; spool {}; output {}",
                settings.aet,
                if settings.tls.is_some() { " (TLS)" } else { "" },
                spool_dir.display(),
                prepared.options.output.display()
            );
        }
        let (wake, woken) = mpsc::channel::<()>();
        let receiving_done = Arc::new(AtomicBool::new(false));
        let worker = {
            let spool = Arc::clone(&spool);
            let receiving_done = Arc::clone(&receiving_done);
            let forward = settings
                .forward
                .clone()
                .map(|(target, link)| Forward::new(target, link, settings.aet.clone()));
            std::thread::spawn(move || {
                // Answering senders comes first: anonymizing (this thread
                // and the batch's pool, which inherits it) runs at a lower
                // priority and catches up when the receiver is idle.
                lower_priority();
                let quarantined = process(
                    &mut prepared,
                    &spool,
                    &woken,
                    &receiving_done,
                    forward,
                    defacer,
                );
                (quarantined, prepared)
            })
        };
        let received = Arc::new(AtomicUsize::new(0));
        let stored: Arc<dyn Fn() + Send + Sync> = {
            let wake = std::sync::Mutex::new(wake);
            let received = Arc::clone(&received);
            Arc::new(move || {
                received.fetch_add(1, Ordering::SeqCst);
                let _ = wake.lock().map(|w| w.send(()));
            })
        };
        let log: Arc<dyn Fn(&receiver::AssociationReport) + Send + Sync> =
            Arc::new(|r| eprintln!("serve: {r}"));
        let receiver = {
            let (spool, stored) = (Arc::clone(&spool), Arc::clone(&stored));
            std::thread::spawn(move || {
                let served = match listener {
                    Some(listener) => {
                        receiver::serve(listener, config, spool, stored, log, shutdown)
                    }
                    None => {
                        while !shutdown.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Ok(())
                    }
                };
                receiving_done.store(true, Ordering::SeqCst);
                served
            })
        };
        Ok(Receiving {
            received,
            spool,
            stored,
            receiver,
            worker,
        })
    }

    /// Where instances fetched by other means (C-GET) go, and what to call
    /// once each is committed there.
    pub(super) fn intake(&self) -> (Arc<Spool>, Arc<dyn Fn() + Send + Sync>) {
        (Arc::clone(&self.spool), Arc::clone(&self.stored))
    }

    /// The count of instances committed to the spool, as it grows.
    pub(super) fn received(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.received)
    }

    /// Wait until the receiver has stopped (once `shutdown` is set and its
    /// associations ended) and the spool is anonymized: whether anything
    /// was quarantined, and the run's state (its store).
    pub(super) fn finish(self) -> Result<(bool, Prepared), String> {
        let served = self
            .receiver
            .join()
            .map_err(|_| "the receiver panicked".to_string())?;
        let (quarantined, prepared) = self
            .worker
            .join()
            .map_err(|_| "the anonymizing worker panicked".to_string())?;
        served.map_err(|e| e.to_string())?;
        Ok((quarantined, prepared))
    }
}

/// Anonymize what the spool holds whenever the receiver stores something
/// (and at start, for what a stopped process left), until the receiver is
/// done and the spool empty. Returns whether anything was quarantined.
fn process(
    prepared: &mut Prepared,
    spool: &Spool,
    woken: &mpsc::Receiver<()>,
    receiving_done: &AtomicBool,
    mut forward: Option<Forward>,
    mut defacer: Option<Defacer>,
) -> bool {
    let mut quarantined = false;
    let mut failing: Option<String> = None;
    loop {
        let done = receiving_done.load(Ordering::SeqCst);
        if let Some(f) = &mut forward {
            f.deliver_if_due(prepared, done);
        }
        let pending = match spool.pending() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("serve: cannot list the spool: {e}");
                Vec::new()
            }
        };
        // What to anonymize now: everything, or, when defacing, all but the
        // possible head series still arriving; then each complete series
        // with its deface plan.
        let mut batches: Vec<Batch> = Vec::new();
        let now = match &mut defacer {
            Some(d) => d.arrivals.sort(pending),
            None => pending,
        };
        if !now.is_empty() {
            batches.push((now, None, None));
        }
        if let Some(d) = &mut defacer {
            for series in d.arrivals.complete(done) {
                batches.push(d.plan(series));
            }
        }
        if !batches.is_empty() {
            for (files, plan, sheet) in batches {
                prepared.engine.deface = plan;
                let outcome = run_batch(prepared, files);
                prepared.engine.deface = None;
                match outcome {
                    Ok(q) => {
                        quarantined |= q;
                        if let (Some(sheet), Some(d)) = (sheet, &defacer) {
                            d.write_sheet(prepared, sheet);
                        }
                        failing = None;
                        if let Some(f) = &mut forward {
                            f.due = true;
                        }
                    }
                    Err(e) => {
                        // Kept in the spool, tried again at the next wake-up.
                        if failing.as_deref() != Some(e.as_str()) {
                            eprintln!(
                                "serve: anonymizing the spool failed (kept for a retry): {e}"
                            );
                        }
                        failing = Some(e);
                        if done {
                            return true;
                        }
                    }
                }
            }
            continue;
        }
        if done {
            if let Some(f) = &mut forward {
                f.deliver_if_due(prepared, true);
            }
            return quarantined;
        }
        let _ = woken.recv_timeout(Duration::from_millis(500));
        // Let a burst of instances gather into one batch.
        while woken.try_recv().is_ok() {}
    }
}

/// Lower the calling thread's scheduling priority (nice 10); threads it
/// starts inherit it. Linux only; elsewhere nothing.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: on Linux the nice value is per thread, and PRIO_PROCESS with
    // a thread ID sets that thread's; nothing else is touched.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// Spooled files (path, key) to anonymize together, with the deface plan
/// for them when they are a complete series that may be a head, and the
/// QA sheet owed for it once it is anonymized.
type Batch = (
    Vec<(PathBuf, String)>,
    Option<DefacePlan>,
    Option<OwedSheet>,
);

/// Defacing on arrival: the head series held until complete, the model,
/// and where QA sheets go (`--deface-qa`).
pub(super) struct Defacer {
    arrivals: Arrivals,
    model: &'static FaceMaskModel,
    qa: Option<PathBuf>,
}

/// The QA sheet of a series defaced on arrival, written once its files
/// are anonymized: it is named after the series' output folder (the
/// anonymized patient, study and series), which is known only then.
pub(super) struct OwedSheet {
    /// The key of one of the series' files.
    key: String,
    first: dicom_object::InMemDicomObject,
    volume: crate::deface::volume::Volume,
    mask: crate::deface::face_mask::FaceMask,
    modality: crate::deface::canonical::Modality,
}

impl Defacer {
    /// Judge a complete series as `anonymize` judges a series of a tree:
    /// its files, and the plan for them.
    fn plan(&self, series: Complete) -> Batch {
        let paths = series.files.iter().map(|(p, _)| p.clone()).collect();
        let (report, defaced) =
            judge_series(&series.first, paths, self.model, &Settings::default());
        eprintln!("serve: deface: {report}");
        let mut plan = DefacePlan::new();
        add_to_plan(&mut plan, &report, defaced.as_ref());
        let sheet = match (&self.qa, defaced) {
            (Some(_), Some(d)) => {
                let key = d
                    .slices
                    .first()
                    .and_then(|s| series.files.iter().find(|(p, _)| *p == s.path))
                    .or(series.files.first())
                    .map(|(_, k)| k.clone());
                key.map(|key| OwedSheet {
                    key,
                    first: series.first,
                    volume: d.volume,
                    mask: d.mask,
                    modality: d.modality,
                })
            }
            _ => None,
        };
        (series.files, Some(plan), sheet)
    }

    /// Write `sheet` under `--deface-qa`, named after its series' output
    /// folder; said and skipped when its file was not anonymized.
    fn write_sheet(&self, prepared: &Prepared, sheet: OwedSheet) {
        let Some(dir) = &self.qa else { return };
        let output = match prepared.store.output_of(&sheet.key) {
            Ok(Some(o)) => PathBuf::from(o),
            Ok(None) => {
                eprintln!("serve: deface: no QA sheet: the series' files were not anonymized");
                return;
            }
            Err(e) => {
                eprintln!("serve: deface: no QA sheet: {e}");
                return;
            }
        };
        let output = output
            .strip_prefix(&prepared.options.output)
            .map(Path::to_path_buf)
            .unwrap_or(output);
        let folder = output.parent().unwrap_or(Path::new(""));
        let subject = folder
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .unwrap_or_default();
        let path = if folder.as_os_str().is_empty() {
            dir.join(format!("{}.png", sheet.key.replace(['/', '\\'], "_")))
        } else {
            // Appended: series folders are UIDs, full of dots.
            let mut name = dir.join(folder).into_os_string();
            name.push(".png");
            PathBuf::from(name)
        };
        match crate::deface::qa::write(
            &path,
            &sheet.volume,
            &sheet.mask,
            sheet.modality,
            &crate::deface::qa::Caption::new(&subject, Some(&sheet.first)),
        ) {
            Ok(_) => eprintln!("serve: deface: QA sheet {}", path.display()),
            Err(e) => eprintln!("serve: deface: QA sheet not written: {e}"),
        }
    }
}

/// `--forward`: what is anonymized goes on to a destination, as `send`
/// sends it (recorded in the store per destination). After a batch, and
/// while some could not be delivered, every [`Forward::RETRY`] (and once
/// more at the end). The queue is the store itself: outputs recorded and
/// not yet sent to the destination. A cursor (the last `files` row all
/// delivered up to) keeps each delivery to what is new or still owed; at
/// start it is 0, so a restart owes what the last run did not deliver.
struct Forward {
    target: AeAddress,
    link: Link,
    aet: String,
    /// A batch finished, or a delivery left files behind.
    due: bool,
    /// Every output recorded up to this `files` row is at the destination.
    cursor: i64,
    last: Option<Instant>,
    behind: bool,
}

impl Forward {
    const RETRY: Duration = Duration::from_secs(10);

    fn new(target: AeAddress, link: Link, aet: String) -> Forward {
        Forward {
            target,
            link,
            aet,
            due: true,
            cursor: 0,
            last: None,
            behind: false,
        }
    }

    /// Send what the store owes the destination.
    fn deliver(&mut self, prepared: &mut Prepared, output: &Path) -> Delivery {
        let mut d = Delivery::default();
        let owed = match prepared
            .store
            .unsent_outputs(&self.target.to_string(), self.cursor)
        {
            Ok(o) => o,
            Err(e) => {
                d.error = Some(e.to_string());
                return d;
            }
        };
        let mut todo = Vec::with_capacity(owed.len());
        for (_, key) in &owed {
            match send::describe(&output.join(key), key) {
                Ok(o) => todo.push(o),
                Err(e) => {
                    eprintln!("serve: not forwarded: {key}: {e}");
                    d.failed += 1;
                }
            }
        }
        transmit(
            &mut prepared.store,
            &self.target,
            &self.aet,
            &self.link,
            &todo,
            &mut d,
        );
        if d.failed + d.unreached == 0
            && d.error.is_none()
            && let Some((last, _)) = owed.last()
        {
            self.cursor = *last;
        }
        d
    }

    fn deliver_if_due(&mut self, prepared: &mut Prepared, last_chance: bool) {
        let retry = self.behind && self.last.is_none_or(|t| t.elapsed() >= Self::RETRY);
        if !(self.due || retry || (last_chance && self.behind)) {
            return;
        }
        self.due = false;
        self.last = Some(Instant::now());
        let output = prepared.options.output.clone();
        let d = self.deliver(prepared, &output);
        self.behind = d.failed + d.unreached > 0 || d.error.is_some();
        if d.sent > 0 || self.behind {
            eprintln!(
                "serve: forwarded {} to {}{}",
                d.sent,
                self.target,
                match &d.error {
                    Some(e) => format!("; kept for a retry: {e}"),
                    None if self.behind =>
                        format!("; {} failed, kept for a retry", d.failed + d.unreached),
                    None => String::new(),
                }
            );
        }
    }
}

/// One batch over the spool's files; they leave the spool once their
/// outcomes are in the store.
fn run_batch(prepared: &mut Prepared, files: Vec<(PathBuf, String)>) -> Result<bool, String> {
    prepared.options.files = Some(files.clone());
    let summary = batch::run(&prepared.options, &prepared.engine, &mut prepared.store)
        .map_err(|e| e.to_string())?;
    for (path, _) in &files {
        if let Err(e) = std::fs::remove_file(path) {
            eprintln!(
                "serve: cannot remove {} from the spool: {e}",
                path.display()
            );
        }
    }
    let quarantined = summary.quarantined_total() + summary.unreadable;
    eprintln!(
        "serve: anonymized {} instances; duplicates {}; skipped by the script {}; not passed by the filter {}; burned-in text blanked {}; not DICOM {}; quarantined {}",
        summary.anonymized,
        summary.duplicates,
        summary.script_skipped,
        summary.filtered,
        summary.pixel_cleaned,
        summary.not_dicom,
        quarantined
    );
    Ok(quarantined > 0)
}
