//! `dicom-anonymizer echo AET@HOST:PORT`: C-ECHO.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::tls_args::TlsArgs;
use super::usage;
use crate::network::echo::{Timeouts, echo};
use crate::network::{AeAddress, address::valid_ae_title};

#[derive(Debug, Args)]
pub struct EchoArgs {
    /// The peer: `AET@HOST:PORT`.
    #[arg(value_name = "AET@HOST:PORT")]
    target: String,
    /// Our AE title (the calling AE title).
    #[arg(long, value_name = "AET", default_value = "DICOMANON")]
    aet: String,
    /// Seconds to wait for the connection and association, and for the reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Exit status: 0 when the peer answered success, 1 when it did not (or
/// could not be reached: the reason is printed), 2 on a usage error.
pub fn run(args: &EchoArgs) -> ExitCode {
    let target: AeAddress = match args.target.parse() {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    if let Err(e) = valid_ae_title(&args.aet) {
        return usage(e);
    }
    let link = match args.tls.link(Timeouts::seconds(args.timeout)) {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let started = Instant::now();
    match echo(&target, &args.aet, &link) {
        Ok(()) => {
            eprintln!(
                "C-ECHO {target}: success ({} ms)",
                started.elapsed().as_millis()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("C-ECHO failed: {e}");
            ExitCode::from(1)
        }
    }
}
