//! `dicom-anonymizer lookup export --store PATH [--format csv|json]`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::EXIT_USAGE;
use crate::store::{ExportFormat, Store, export};

#[derive(Debug, Args)]
pub struct LookupArgs {
    #[command(subcommand)]
    command: LookupCommand,
}

#[derive(Debug, Subcommand)]
enum LookupCommand {
    /// Print the original ↔ anonymized mapping (sensitive: it re-identifies).
    Export {
        /// The store of an `anonymize` run (a SQLite file or a
        /// `postgres://` URL).
        #[arg(long, value_name = "PATH|URL")]
        store: PathBuf,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
    },
}

pub fn run(args: &LookupArgs) -> ExitCode {
    match &args.command {
        LookupCommand::Export { store, format } => {
            if !crate::store::is_url(store) && !store.is_file() {
                eprintln!("error: no store at {}", store.display());
                return ExitCode::from(EXIT_USAGE);
            }
            let result = Store::open(store).and_then(|s| {
                let mut out = std::io::stdout().lock();
                export(&s, *format, &mut out)
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_USAGE)
                }
            }
        }
    }
}
