//! `--tls-cert`, `--tls-key`, `--tls-ca`: DICOM over TLS, for every
//! command that talks to a peer.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::network::echo::Timeouts;
use crate::network::link::Link;
use crate::network::tls::TlsFiles;

#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Our certificate (PEM; with --tls-key). A receiver presents it; a
    /// client presents it when the peer asks for one.
    #[arg(long = "tls-cert", value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long = "tls-key", value_name = "FILE")]
    key: Option<PathBuf>,
    /// The CA certificate(s) a peer's certificate must chain to (PEM). A
    /// client needs it to trust the peer; given to a receiver, every peer
    /// must present a certificate from it.
    #[arg(long = "tls-ca", value_name = "FILE")]
    ca: Option<PathBuf>,
}

impl TlsArgs {
    fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.cert.clone(),
            key: self.key.clone(),
            ca: self.ca.clone(),
        }
    }

    /// Whether TLS was asked for.
    pub fn given(&self) -> bool {
        self.files().given()
    }

    /// How to reach a peer as a client: TLS when any TLS file was given.
    pub fn link(&self, timeouts: Timeouts) -> Result<Link, String> {
        let tls = if self.given() {
            Some(self.files().client()?)
        } else {
            None
        };
        Ok(Link { timeouts, tls })
    }

    /// The receiver's TLS configuration, when any TLS file was given.
    pub fn server(&self) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
        if self.given() {
            self.files().server().map(Some)
        } else {
            Ok(None)
        }
    }
}
