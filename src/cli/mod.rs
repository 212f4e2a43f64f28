//! The command line: a thin layer over the library.

mod anonymize;
mod check;
mod deface;
mod diff;
mod echo;
mod explain;
mod find;
mod lookup;
mod retrieve;
mod send;
mod serve;
mod tls_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when the command line itself is wrong (or a file cannot be read).
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "dicom-anonymizer",
    version,
    about = "Headless DICOM de-identification with RSNA / CTP .script files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Anonymize a directory tree of DICOM files with a script.
    Anonymize(anonymize::AnonymizeArgs),
    /// Parse and validate scripts; print every problem with its location.
    Check(check::CheckArgs),
    /// Remove the face from head CT / brain MRI series: defaced NIfTI, mask and DICOM per subject.
    Deface(deface::DefaceArgs),
    /// How each tag's outcome changes from one script to another across a corpus.
    Diff(diff::DiffArgs),
    /// Show what a script does to each element of one file.
    Explain(explain::ExplainArgs),
    /// The store's original ↔ anonymized mapping.
    Lookup(lookup::LookupArgs),
    /// Verify a DICOM peer with C-ECHO.
    Echo(echo::EchoArgs),
    /// Receive instances (C-STORE SCP) and anonymize them as `anonymize` does.
    Serve(serve::ServeArgs),
    /// Send an anonymized tree to a DICOM peer (C-STORE SCU).
    Send(send::SendArgs),
    /// Query a PACS for studies (C-FIND), by filters or accession numbers.
    Find(find::FindArgs),
    /// Retrieve studies from a PACS (C-MOVE to our receiver), anonymizing them as they arrive.
    Retrieve(retrieve::RetrieveArgs),
}

/// Run the command line; the process exit status is returned.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Anonymize(args) => anonymize::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Deface(args) => deface::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Lookup(args) => lookup::run(&args),
        Command::Echo(args) => echo::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Send(args) => send::run(&args),
        Command::Find(args) => find::run(&args),
        Command::Retrieve(args) => retrieve::run(&args),
    }
}

/// Report a usage, script or read error and give the usage exit status.
fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}
