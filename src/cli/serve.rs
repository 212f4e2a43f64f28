//! `dicom-anonymizer serve`: a C-ECHO / C-STORE SCP whose instances are
//! anonymized exactly as `anonymize` anonymizes files. Each instance is
//! synced into the spool (`<output>/.anonymizer/spool/`) before the sender
//! is answered; a worker hands what the spool holds to the batch (same
//! script, store, quarantine and report; outputs laid out by patient,
//! study and series) and removes each file once its outcome is recorded.
//! A restart finishes whatever a stopped process left in the spool.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use clap::Args;

use super::anonymize::{AnonymizeArgs, Prepared, RunArgs, prepare};
use super::usage;
use crate::batch;
use crate::network::address::valid_ae_title;
use crate::network::receiver::{self, Allowed, Config};
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
    if let Err(e) = valid_ae_title(&args.aet) {
        return usage(e);
    }
    let allowed: Vec<Allowed> = match args.allow.iter().map(|a| a.parse()).collect() {
        Ok(a) => a,
        Err(e) => return usage(e),
    };
    if args.max_associations == 0 {
        return usage("--max-associations must be at least 1");
    }
    let spool_dir = args.run.output.join(".anonymizer").join("spool");
    let spool = match Spool::open(&spool_dir) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            return usage(format!(
                "cannot create the spool {}: {e}",
                spool_dir.display()
            ));
        }
    };
    let anonymize = AnonymizeArgs::for_serve(spool_dir.clone(), &args.run);
    let mut prepared = match prepare(&anonymize) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if prepared.deface {
        return usage(
            "the script asks for head series to be defaced (DEFACE=yes), which serve cannot do yet: \
             give --no-deface (faces stay in the pixels), or receive with --script low and deface with `anonymize`",
        );
    }
    prepared.options.progress = false;
    let listener = match TcpListener::bind((args.bind.as_str(), args.port)) {
        Ok(l) => l,
        Err(e) => return usage(format!("cannot listen on {}:{}: {e}", args.bind, args.port)),
    };
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // SIGINT and SIGTERM stop accepting; open associations finish.
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    if allowed.is_empty() {
        eprintln!("serve: warning: no --allow given: any AE title may send");
    }
    let config = Arc::new(Config {
        ae_title: args.aet.clone(),
        allowed,
        max_associations: args.max_associations,
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        max_pdu_length: 64 * 1024,
    });
    let (wake, woken) = mpsc::channel::<()>();
    let receiving_done = Arc::new(AtomicBool::new(false));
    eprintln!(
        "serve: {} listening on {local}; spool {}; output {}",
        args.aet,
        spool_dir.display(),
        prepared.options.output.display()
    );
    let worker = {
        let spool = Arc::clone(&spool);
        let receiving_done = Arc::clone(&receiving_done);
        std::thread::spawn(move || process(&mut prepared, &spool, &woken, &receiving_done))
    };
    let stored: Arc<dyn Fn() + Send + Sync> = {
        let wake = std::sync::Mutex::new(wake);
        Arc::new(move || {
            let _ = wake.lock().map(|w| w.send(()));
        })
    };
    let log: Arc<dyn Fn(&receiver::AssociationReport) + Send + Sync> =
        Arc::new(|r| eprintln!("serve: {r}"));
    let served = receiver::serve(listener, config, Arc::clone(&spool), stored, log, &SHUTDOWN);
    receiving_done.store(true, Ordering::SeqCst);
    let quarantined = worker.join().unwrap_or(true);
    if let Err(e) = served {
        return usage(format!("serve: {e}"));
    }
    eprintln!("serve: stopped");
    if quarantined {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
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
) -> bool {
    let mut quarantined = false;
    let mut failing: Option<String> = None;
    loop {
        let done = receiving_done.load(Ordering::SeqCst);
        let pending = match spool.pending() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("serve: cannot list the spool: {e}");
                Vec::new()
            }
        };
        if !pending.is_empty() {
            match run_batch(prepared, pending) {
                Ok(q) => {
                    quarantined |= q;
                    failing = None;
                }
                Err(e) => {
                    // Kept in the spool, tried again at the next wake-up.
                    if failing.as_deref() != Some(e.as_str()) {
                        eprintln!("serve: anonymizing the spool failed (kept for a retry): {e}");
                    }
                    failing = Some(e);
                    if done {
                        return true;
                    }
                }
            }
            continue;
        }
        if done {
            return quarantined;
        }
        let _ = woken.recv_timeout(Duration::from_millis(500));
        // Let a burst of instances gather into one batch.
        while woken.try_recv().is_ok() {}
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
        "serve: anonymized {} instances; duplicates {}; skipped by the script {}; not DICOM {}; quarantined {}",
        summary.anonymized,
        summary.duplicates,
        summary.script_skipped,
        summary.not_dicom,
        quarantined
    );
    Ok(quarantined > 0)
}
