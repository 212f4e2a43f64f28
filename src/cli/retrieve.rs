//! `dicom-anonymizer retrieve --pacs AET@HOST:PORT …`: find studies on a
//! PACS, C-MOVE each to our own receiver (the one `serve` runs), which
//! anonymizes them as they arrive; then check every study arrived whole.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::anonymize::{RunArgs, default_store};
use super::find::QueryArgs;
use super::serve::{ReceiverSettings, Receiving};
use super::usage;
use crate::network::address::valid_ae_title;
use crate::network::get::get_study;
use crate::network::query::{Series, Study, StudyQuery, find_series, find_studies, move_study};
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
    #[arg(long, value_name = "AET", conflicts_with = "get")]
    move_dest: Option<String>,
    /// Fetch with C-GET: the PACS sends the instances back over our own
    /// association (no receiver port, and the PACS need not know us by
    /// address).
    #[arg(long)]
    get: bool,
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
    /// Its series, as the PACS counts them (series-level C-FIND).
    series: Vec<Series>,
    /// What was fetched, and the PACS's sub-operation counts for it.
    fetched: Fetched,
    /// Why it could not be (fully) fetched.
    errors: Vec<String>,
    /// Nothing was missing at the start.
    already: bool,
}

/// The sub-operations the PACS reported, summed over a study's C-MOVEs.
#[derive(Debug, Default)]
struct Fetched {
    /// The series moved one by one; empty with `whole`.
    series: Vec<String>,
    /// The whole study was moved.
    whole: bool,
    completed: usize,
    failed: usize,
    warning: usize,
}

impl Wanted {
    /// The PACS's instance count: the sum over its series when every series
    /// has one, else the study-level count.
    fn expected(&self) -> Option<usize> {
        let by_series: Option<usize> = (!self.series.is_empty())
            .then(|| {
                self.series
                    .iter()
                    .map(|s| s.instances.map(|n| n as usize))
                    .sum()
            })
            .flatten();
        by_series.or(self.study.instances.map(|n| n as usize))
    }

    /// What the store holds of the scope fetched (the whole study, or the
    /// series moved).
    fn held_in_fetched(
        &self,
        by_study: &HashMap<String, usize>,
        by_series: &HashMap<String, usize>,
    ) -> usize {
        if self.fetched.whole {
            by_study.get(&self.study.study_uid).copied().unwrap_or(0)
        } else {
            self.fetched
                .series
                .iter()
                .map(|s| by_series.get(s).copied().unwrap_or(0))
                .sum()
        }
    }
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
    let link = match args.query.link() {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    // The PACS connects back to our receiver over TLS too.
    let tls = if args.get {
        None
    } else {
        match args.query.tls.server() {
            Ok(t) => t,
            Err(e) => return usage(format!("the receiver C-MOVE sends to: {e}")),
        }
    };

    // What to retrieve.
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut unmatched: Vec<(String, &str)> = Vec::new();
    let want = |accession: String, study: Study| Wanted {
        accession,
        study,
        series: Vec::new(),
        fetched: Fetched::default(),
        errors: Vec::new(),
        already: false,
    };
    if !args.study_uids.is_empty() {
        for uid in &args.study_uids {
            let query = StudyQuery {
                study_uid: Some(uid.clone()),
                ..StudyQuery::default()
            };
            match find_studies(&target, &args.query.aet, &query, &link) {
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
    // Each study's series and their counts: what "complete" means, and
    // which series are still missing.
    for w in &mut wanted {
        match find_series(&target, &args.query.aet, &w.study.study_uid, &link) {
            Ok(series) => {
                w.series = series;
                let sum: Option<u32> = w.series.iter().map(|s| s.instances).sum();
                if let (Some(sum), Some(study)) = (sum, w.study.instances)
                    && sum != study
                    && !w.series.is_empty()
                {
                    eprintln!(
                        "retrieve: study {}: the PACS counts {study} instances at study level but {sum} over its {} series; expecting {sum}",
                        w.study.study_uid,
                        w.series.len()
                    );
                }
            }
            Err(e) => {
                eprintln!(
                    "retrieve: study {}: no series-level counts ({e}); using the study's",
                    w.study.study_uid
                );
            }
        }
    }

    // What earlier runs already brought (the store is opened again by the
    // receiver below).
    let store_path = args
        .run
        .store
        .clone()
        .unwrap_or_else(|| default_store(&args.run.output));
    let (mut had_study, mut had_series) = (HashMap::new(), HashMap::new());
    if crate::store::is_url(&store_path) || store_path.is_file() {
        match Store::open(&store_path)
            .and_then(|s| Ok((s.instances_by_study()?, s.instances_by_series()?)))
        {
            Ok((a, b)) => (had_study, had_series) = (a, b),
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
        listen: !args.get,
        tls,
        // Head series are defaced whole once quiet, the rest at the end.
        series_quiet: Duration::from_secs(10),
    };
    let receiving = match Receiving::start(&settings, &args.run, shutdown) {
        Ok(r) => r,
        Err(code) => return code,
    };

    // What is missing, per study: whole series (the store holds fewer
    // instances than the PACS counts), or the whole study when the PACS
    // gave no usable series counts.
    let plans: Vec<Option<Vec<String>>> = wanted
        .iter()
        .map(|w| {
            let held = had_study.get(&w.study.study_uid).copied().unwrap_or(0);
            let counted = !w.series.is_empty() && w.series.iter().all(|s| s.instances.is_some());
            if counted {
                let missing: Vec<String> = w
                    .series
                    .iter()
                    .filter(|s| {
                        had_series.get(&s.series_uid).copied().unwrap_or(0)
                            < s.instances.unwrap_or(0) as usize
                    })
                    .map(|s| s.series_uid.clone())
                    .collect();
                if missing.is_empty() {
                    None
                } else if missing.len() == w.series.len() {
                    Some(Vec::new())
                } else {
                    Some(missing)
                }
            } else if w
                .study
                .instances
                .is_some_and(|n| n > 0 && held >= n as usize)
            {
                None
            } else {
                Some(Vec::new())
            }
        })
        .collect();
    let to_fetch: usize = wanted
        .iter()
        .zip(&plans)
        .filter(|(_, p)| p.is_some())
        .map(|(w, p)| match p.as_deref() {
            Some([]) => w.expected().unwrap_or(0),
            Some(series) => w
                .series
                .iter()
                .filter(|s| series.contains(&s.series_uid))
                .map(|s| s.instances.unwrap_or(0) as usize)
                .sum(),
            None => 0,
        })
        .sum();
    let bar = progress_bar(to_fetch as u64);
    let say = |line: String| {
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    };
    let ticking = {
        let bar = bar.clone();
        let received = receiving.received();
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let handle = std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                bar.set_position(received.load(Ordering::SeqCst) as u64);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        (done, handle)
    };
    let total = wanted.len();
    for (i, (w, plan)) in wanted.iter_mut().zip(plans).enumerate() {
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
        bar.set_message(format!("study {}/{total}", i + 1));
        let Some(series) = plan else {
            let held = had_study.get(&w.study.study_uid).copied().unwrap_or(0);
            say(format!("{label}: already complete ({held} instances)"));
            w.already = true;
            continue;
        };
        let scopes: Vec<Option<&str>> = if series.is_empty() {
            w.fetched.whole = true;
            vec![None]
        } else {
            w.fetched.series = series.clone();
            series.iter().map(|s| Some(s.as_str())).collect()
        };
        for scope in scopes {
            let outcome = if args.get {
                let (spool, stored) = receiving.intake();
                get_study(
                    &target,
                    &args.query.aet,
                    &w.study.study_uid,
                    scope,
                    &w.study.sop_classes,
                    &link,
                    &spool,
                    &*stored,
                )
            } else {
                move_study(
                    &target,
                    &args.query.aet,
                    &destination,
                    &w.study.study_uid,
                    scope,
                    &link,
                )
            };
            let verb = if args.get { "C-GET" } else { "C-MOVE" };
            let what = match scope {
                Some(series) => format!("{label} series {series}"),
                None => label.clone(),
            };
            match outcome {
                Ok(m) => {
                    w.fetched.completed += m.completed as usize;
                    w.fetched.failed += m.failed as usize;
                    w.fetched.warning += m.warning as usize;
                    if m.status == 0 || m.status == 0xB000 {
                        say(format!(
                            "{what}: moved {} instances, {} failed, {} with warnings",
                            m.completed, m.failed, m.warning
                        ));
                    } else {
                        let why = format!(
                            "{verb} status {:#06X}{} ({} moved, {} failed)",
                            m.status,
                            if m.comment.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", m.comment)
                            },
                            m.completed,
                            m.failed
                        );
                        say(format!("{what}: {why}"));
                        w.errors.push(why);
                    }
                }
                Err(e) => {
                    say(format!("{what}: {e}"));
                    w.errors.push(e);
                }
            }
        }
    }
    // Every move has ended: the PACS sent all it will. Stop, drain the spool.
    shutdown.store(true, Ordering::SeqCst);
    let (quarantined, prepared) = match receiving.finish() {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    ticking.0.store(true, Ordering::SeqCst);
    let _ = ticking.1.join();
    bar.finish_and_clear();
    let (by_study, by_series) = match prepared
        .store
        .instances_by_study()
        .and_then(|a| Ok((a, prepared.store.instances_by_series()?)))
    {
        Ok(c) => c,
        Err(e) => return usage(e),
    };

    println!("accession\tstudy_uid\texpected\tin_store\tresult");
    let mut complete = unmatched.is_empty() && !quarantined;
    for (accession, why) in &unmatched {
        println!("{accession}\t\t\t\t{why}");
    }
    for w in &wanted {
        let have = by_study.get(&w.study.study_uid).copied().unwrap_or(0);
        let expected = w.expected();
        let mut problems: Vec<String> = w.errors.iter().map(|e| format!("failed: {e}")).collect();
        if w.fetched.failed > 0 {
            problems.push(format!(
                "the PACS failed to send {} instances",
                w.fetched.failed
            ));
        }
        // Everything the PACS says it sent must be in the store (an
        // instance quarantined on arrival is not).
        let sent = w.fetched.completed + w.fetched.warning;
        let held = w.held_in_fetched(&by_study, &by_series);
        if !w.already && sent > held {
            problems.push(format!(
                "the PACS reported {sent} instances sent, the store holds {held} of them"
            ));
        }
        match expected {
            Some(n) if have < n => problems.push(format!("{have} of {n} instances")),
            None if have == 0 => problems.push("nothing arrived".into()),
            _ => {}
        }
        complete &= problems.is_empty();
        let result = if problems.is_empty() {
            "complete".to_string()
        } else if w.errors.is_empty() {
            format!("incomplete: {}", problems.join("; "))
        } else {
            problems.join("; ")
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

/// Instances received against those expected, on a terminal.
fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} instances ({eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
