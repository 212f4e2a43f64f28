//! `dicom-anonymizer send --input DIR --to AET@HOST:PORT`: deliver an
//! anonymized tree to a peer (C-STORE SCU).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::anonymize::default_store;
use super::tls_args::TlsArgs;
use super::usage;
use crate::input_tree;
use crate::network::echo::Timeouts;
use crate::network::link::Link;
use crate::network::send::{self, Outgoing};
use crate::network::{AeAddress, address::valid_ae_title};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The output directory of `anonymize` or `serve` to send from.
    #[arg(long, value_name = "DIR")]
    input: PathBuf,
    /// The destination: `AET@HOST:PORT`.
    #[arg(long, value_name = "AET@HOST:PORT")]
    to: String,
    /// Our AE title (the calling AE title).
    #[arg(long, value_name = "AET", default_value = "DICOMANON")]
    aet: String,
    /// The store that made the tree (default: `<input>/.anonymizer/store.sqlite`).
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
    /// Also send files the store does not know as its outputs (by default
    /// they are refused: raw files with PHI are never sent by mistake).
    #[arg(long)]
    any: bool,
    /// Seconds to wait for the connection and for each reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Exit status: 0 when every file is at the destination, 1 when some were
/// refused or failed, 2 on a usage or store error or when the destination
/// cannot be associated with.
pub fn run(args: &SendArgs) -> ExitCode {
    let target: AeAddress = match args.to.parse() {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    if let Err(e) = valid_ae_title(&args.aet) {
        return usage(e);
    }
    if !args.input.is_dir() {
        return usage(format!(
            "--input {} is not a directory",
            args.input.display()
        ));
    }
    let store_path = args
        .store
        .clone()
        .unwrap_or_else(|| default_store(&args.input));
    if !crate::store::is_url(&store_path) && !store_path.is_file() {
        return usage(format!(
            "no store at {}: send delivers the outputs a store knows (give --store PATH)",
            store_path.display()
        ));
    }
    let mut store = match Store::open(&store_path) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let link = match args.tls.link(Timeouts::seconds(args.timeout)) {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let delivery = deliver(&mut store, &args.input, &target, &args.aet, args.any, &link);
    let Delivery {
        sent,
        there,
        refused,
        failed,
        unreached,
        error,
    } = delivery;
    eprintln!(
        "sent {sent} files to {target}; already there {there}; refused {refused}; failed {failed}; not reached {unreached}"
    );
    if let Some(e) = error {
        return usage(e);
    }
    if refused > 0 || failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// What one delivery did.
#[derive(Debug, Default)]
pub struct Delivery {
    pub sent: usize,
    pub there: usize,
    pub refused: usize,
    pub failed: usize,
    /// Files not tried: the destination could not be reached.
    pub unreached: usize,
    /// A store error, or the destination could not be associated with.
    pub error: Option<String>,
}

/// Send the outputs under `root` that `store` knows (every file with
/// `any`) and `target` does not have yet, recording each one stored there.
/// `send` runs it once; `serve --forward` after each batch.
pub fn deliver(
    store: &mut Store,
    root: &Path,
    target: &AeAddress,
    aet: &str,
    any: bool,
    link: &Link,
) -> Delivery {
    let mut d = Delivery::default();
    let destination = target.to_string();
    let (known, already) = match (store.done_files(), store.sent_to(&destination)) {
        (Ok(done), Ok(sent)) => (
            done.into_values().collect::<std::collections::HashSet<_>>(),
            sent,
        ),
        (Err(e), _) | (_, Err(e)) => {
            d.error = Some(e.to_string());
            return d;
        }
    };
    let walk = match input_tree::walk(root, false) {
        Ok(w) => w,
        Err(e) => {
            d.error = Some(format!("cannot list {}: {e}", root.display()));
            return d;
        }
    };
    let mut todo: Vec<Outgoing> = Vec::new();
    for (path, key) in &walk.files {
        if key.starts_with(".anonymizer/") || key.starts_with("quarantine/") {
            continue;
        }
        if already.contains(key) {
            d.there += 1;
            continue;
        }
        if !known.contains(key) && !any {
            eprintln!(
                "not sent: {key} is not an output of {} (--any sends it anyway)",
                store.name()
            );
            d.refused += 1;
            continue;
        }
        match send::describe(path, key) {
            Ok(o) => todo.push(o),
            Err(e) => {
                eprintln!("not sent: {key}: {e}");
                d.failed += 1;
            }
        }
    }
    for (key, why) in &walk.unreadable {
        eprintln!("not sent: {key}: {why}");
        d.failed += 1;
    }
    transmit(store, target, aet, link, &todo, &mut d);
    d
}

/// Send the files of `todo` to `target`, recording each one it stored;
/// the counts go into `d`.
pub fn transmit(
    store: &mut Store,
    target: &AeAddress,
    aet: &str,
    link: &Link,
    todo: &[Outgoing],
    d: &mut Delivery,
) {
    let destination = target.to_string();
    let mut attempted = 0usize;
    let mut store_error = None;
    let result = send::send(target, aet, todo, link, |file, outcome| {
        attempted += 1;
        match outcome {
            Ok(status) if send::stored(status) => {
                d.sent += 1;
                if let Err(e) =
                    store.record_sent(&file.key, &destination, status, &crate::batch::now())
                {
                    store_error.get_or_insert(e);
                }
            }
            Ok(status) => {
                eprintln!(
                    "not sent: {}: {destination} answered status {status:#06X}",
                    file.key
                );
                d.failed += 1;
            }
            Err(e) => {
                eprintln!("not sent: {}: {e}", file.key);
                d.failed += 1;
            }
        }
    });
    d.unreached += todo.len() - attempted;
    if let Some(e) = store_error.map(|e| e.to_string()).or(result.err()) {
        d.error = Some(e);
    }
}
