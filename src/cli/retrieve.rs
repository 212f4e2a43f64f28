//! `dicom-anonymizer retrieve --pacs AET@HOST:PORT …`: find studies on a
//! PACS, C-MOVE each to our own receiver (the one `serve` runs), which
//! anonymizes them as they arrive; then check every study arrived whole.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;

use super::anonymize::{RunArgs, default_store};
use super::find::QueryArgs;
use super::serve::{ReceiverSettings, Receiving};
use super::usage;
use crate::network::address::valid_ae_title;
use crate::network::query::{Study, StudyQuery, find_studies, move_study};
use crate::network::receiver::Allowed;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct RetrieveArgs {
    #[command(flatten)]
    query: QueryArgs,
    /// Retrieve these studies (instead of --accessions or filters). Repeatable.
    #[arg(long = "study-uid", value_name = "UID")]
    study_uids: Vec<String>,
    /// The AE title the PACS sends the studies to (default: --aet). The
    /// PACS must know it at this host and --port.
    #[arg(long, value_name = "AET")]
    move_dest: Option<String>,
    /// The port our receiver listens on.
    #[arg(long, value_name = "PORT", default_value_t = 11112)]
    port: u16,
    /// The address our receiver listens on.
    #[arg(long, value_name = "ADDRESS", default_value = "0.0.0.0")]
    bind: String,
    #[command(flatten)]
    run: RunArgs,
}

/// One study asked for, and what became of it.
struct Wanted {
    accession: String,
    study: Study,
    /// Instances the store held before this run.
    had: usize,
    outcome: Option<Result<String, String>>,
}

/// Exit status: 0 when every requested study arrived complete (and every
/// accession number matched exactly one study), 1 otherwise (the table says
/// which), 2 on a usage, script or store error or when the PACS cannot be
/// queried.
pub fn run(args: &RetrieveArgs) -> ExitCode {
    let target = match args.query.target() {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    let destination = args
        .move_dest
        .clone()
        .unwrap_or_else(|| args.query.aet.clone());
    if let Err(e) = valid_ae_title(&destination) {
        return usage(e);
    }
    let timeouts = args.query.timeouts();

    // What to retrieve.
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut unmatched: Vec<(String, &str)> = Vec::new();
    let want = |accession: String, study: Study| Wanted {
        accession,
        study,
        had: 0,
        outcome: None,
    };
    if !args.study_uids.is_empty() {
        for uid in &args.study_uids {
            let query = StudyQuery {
                study_uid: Some(uid.clone()),
                ..StudyQuery::default()
            };
            match find_studies(&target, &args.query.aet, &query, timeouts) {
                Ok(studies) if studies.is_empty() => unmatched.push((uid.clone(), "not found")),
                Ok(studies) => wanted.extend(studies.into_iter().map(|s| want(String::new(), s))),
                Err(e) => return usage(e),
            }
        }
    } else {
        let found = match args.query.find() {
            Ok(f) => f,
            Err(e) => return usage(e),
        };
        for (accession, studies) in found.by_accession {
            match studies.len() {
                0 => unmatched.push((accession.clone(), "not found")),
                1 => {}
                _ => unmatched.push((accession.clone(), "ambiguous")),
            }
            wanted.extend(studies.into_iter().map(|s| want(accession.clone(), s)));
        }
        wanted.extend(
            found
                .by_filter
                .into_iter()
                .map(|s| want(s.accession.clone(), s)),
        );
    }

    // What earlier runs already brought (the store is opened again by the
    // receiver below).
    let store_path = args
        .run
        .store
        .clone()
        .unwrap_or_else(|| default_store(&args.run.output));
    if store_path.is_file() {
        match Store::open(&store_path).and_then(|s| s.instances_by_study()) {
            Ok(counts) => {
                for w in &mut wanted {
                    w.had = counts.get(&w.study.study_uid).copied().unwrap_or(0);
                }
            }
            Err(e) => return usage(e),
        }
    }

    // Our receiver, taking only what the PACS sends.
    let shutdown: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let settings = ReceiverSettings {
        aet: destination.clone(),
        bind: args.bind.clone(),
        port: args.port,
        allowed: vec![Allowed {
            ae_title: target.ae_title.clone(),
            host: None,
        }],
        max_associations: 4,
        idle_timeout: Duration::from_secs(args.query.timeout.max(1) * 2),
        forward: None,
    };
    let receiving = match Receiving::start(&settings, &args.run, shutdown) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let total = wanted.len();
    for (i, w) in wanted.iter_mut().enumerate() {
        let label = format!(
            "study {}/{total} {}{}",
            i + 1,
            if w.accession.is_empty() {
                String::new()
            } else {
                format!("accession {} ", w.accession)
            },
            w.study.study_uid
        );
        if w.study
            .instances
            .is_some_and(|n| n > 0 && w.had >= n as usize)
        {
            eprintln!("{label}: already complete ({} instances)", w.had);
            w.outcome = Some(Ok("already complete".into()));
            continue;
        }
        let outcome = move_study(
            &target,
            &args.query.aet,
            &destination,
            &w.study.study_uid,
            timeouts,
        );
        w.outcome = Some(match outcome {
            Ok(m) if m.status == 0 || m.status == 0xB000 => {
                eprintln!(
                    "{label}: moved {} instances, {} failed, {} with warnings",
                    m.completed, m.failed, m.warning
                );
                Ok(format!("moved {}", m.completed))
            }
            Ok(m) => {
                let why = format!(
                    "C-MOVE status {:#06X}{} ({} moved, {} failed)",
                    m.status,
                    if m.comment.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", m.comment)
                    },
                    m.completed,
                    m.failed
                );
                eprintln!("{label}: {why}");
                Err(why)
            }
            Err(e) => {
                eprintln!("{label}: {e}");
                Err(e)
            }
        });
    }
    // Every move has ended: the PACS sent all it will. Stop, drain the spool.
    shutdown.store(true, Ordering::SeqCst);
    let (quarantined, prepared) = match receiving.finish() {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let counts = match prepared.store.instances_by_study() {
        Ok(c) => c,
        Err(e) => return usage(e),
    };

    println!("accession\tstudy_uid\texpected\tin_store\tresult");
    let mut complete = unmatched.is_empty() && !quarantined;
    for (accession, why) in &unmatched {
        println!("{accession}\t\t\t\t{why}");
    }
    for w in &wanted {
        let have = counts.get(&w.study.study_uid).copied().unwrap_or(0);
        let expected = w.study.instances;
        let whole = match (&w.outcome, expected) {
            (Some(Ok(_)), Some(n)) => have >= n as usize,
            (Some(Ok(_)), None) => have > 0,
            _ => false,
        };
        complete &= whole;
        let result = match &w.outcome {
            Some(Err(e)) => format!("failed: {e}"),
            _ if whole => "complete".to_string(),
            _ => "incomplete".to_string(),
        };
        println!(
            "{}\t{}\t{}\t{have}\t{result}",
            w.accession,
            w.study.study_uid,
            expected
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into())
        );
    }
    if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
