//! The storage SCP: C-ECHO and C-STORE over any number of associations up
//! to a bound, each instance streamed into the [`Spool`] and synced there
//! before the sender is answered. Access is by calling AE title (and
//! optionally peer address); SOP classes outside the standard's storage
//! classes are refused at negotiation (abstract syntax not supported).

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::association::Association;
use dicom_ul::association::CloseSocket;
use dicom_ul::association::server::AccessControl;
use dicom_ul::pdu::{AssociationRJServiceUserReason, UserIdentity};
use dicom_ul::{Pdu, ServerAssociation, ServerAssociationOptions};

use super::VERIFICATION;
use super::incoming::{Event, Receiving, on_pdv};
use super::spool::Spool;
use super::storage_classes::STORAGE_SOP_CLASSES;
use crate::dicom_file::bounded::error_chain;

/// Who may associate: a calling AE title, optionally from one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub ae_title: String,
    pub host: Option<IpAddr>,
}

impl std::str::FromStr for Allowed {
    type Err = String;

    /// `AET` or `AET@HOST` (an IP address; `localhost` is 127.0.0.1).
    fn from_str(s: &str) -> Result<Self, String> {
        let (ae, host) = match s.split_once('@') {
            Some((ae, host)) => (ae, Some(host)),
            None => (s, None),
        };
        super::address::valid_ae_title(ae)?;
        let host = host
            .map(|h| match h.trim_start_matches('[').trim_end_matches(']') {
                "localhost" => Ok(IpAddr::from([127, 0, 0, 1])),
                h => h
                    .parse::<IpAddr>()
                    .map_err(|_| format!("--allow {s:?}: {h:?} is not an IP address")),
            })
            .transpose()?;
        Ok(Allowed {
            ae_title: ae.to_string(),
            host,
        })
    }
}

/// The receiver's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our AE title (answered to any called AE title).
    pub ae_title: String,
    /// Empty: anyone may associate.
    pub allowed: Vec<Allowed>,
    pub max_associations: usize,
    /// How long an association may stay silent before it is dropped.
    pub idle_timeout: Duration,
    pub max_pdu_length: u32,
    /// TLS: every association must open with a TLS handshake.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// What one association did, for its log line.
#[derive(Debug, Default, Clone)]
pub struct AssociationReport {
    pub calling_ae: String,
    pub peer: Option<SocketAddr>,
    pub stored: usize,
    pub failed: usize,
    pub echoes: usize,
    /// How it ended: `released`, `aborted by the peer`, an error, or why it
    /// was refused.
    pub end: String,
}

impl std::fmt::Display for AssociationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let peer = self
            .peer
            .map(|p| p.to_string())
            .unwrap_or_else(|| "?".into());
        write!(
            f,
            "association from {}@{peer}: {} stored, {} failed, {} echoes; {}",
            if self.calling_ae.is_empty() {
                "?"
            } else {
                &self.calling_ae
            },
            self.stored,
            self.failed,
            self.echoes,
            self.end
        )
    }
}

struct Access {
    allowed: Vec<Allowed>,
    peer: Option<IpAddr>,
    /// The calling AE title the peer gave, kept for the log line even when
    /// the association is refused.
    calling: Arc<std::sync::Mutex<String>>,
}

impl AccessControl for Access {
    fn check_access(
        &self,
        _this_ae_title: &str,
        calling_ae_title: &str,
        _called_ae_title: &str,
        _user_identity: Option<&UserIdentity>,
    ) -> Result<(), AssociationRJServiceUserReason> {
        if let Ok(mut c) = self.calling.lock() {
            *c = calling_ae_title.trim().to_string();
        }
        if self.allowed.is_empty()
            || self.allowed.iter().any(|a| {
                a.ae_title == calling_ae_title.trim() && a.host.is_none_or(|h| Some(h) == self.peer)
            })
        {
            Ok(())
        } else {
            Err(AssociationRJServiceUserReason::CallingAETitleNotRecognized)
        }
    }
}

/// Accept associations on `listener` until `shutdown` is set, then wait
/// for the open ones to end. `stored` is called after each instance is
/// committed to the spool; `log` gets one line per association.
pub fn serve(
    listener: TcpListener,
    config: Arc<Config>,
    spool: Arc<Spool>,
    stored: Arc<dyn Fn() + Send + Sync>,
    log: Arc<dyn Fn(&AssociationReport) + Send + Sync>,
    shutdown: &AtomicBool,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        while !shutdown.load(Ordering::SeqCst) {
            // Past the bound, new senders wait in the listen backlog.
            if active.load(Ordering::SeqCst) >= config.max_associations {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let (stream, peer) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => {
                    eprintln!("serve: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            active.fetch_add(1, Ordering::SeqCst);
            let (config, spool, stored, log, active) = (
                Arc::clone(&config),
                Arc::clone(&spool),
                Arc::clone(&stored),
                Arc::clone(&log),
                Arc::clone(&active),
            );
            scope.spawn(move || {
                let report = associate(stream, peer, &config, &spool, &*stored);
                log(&report);
                active.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Ok(())
}

fn options(
    config: &Config,
    peer: IpAddr,
    calling: Arc<std::sync::Mutex<String>>,
) -> ServerAssociationOptions<'static, Access, dicom_ul::association::server::DefaultNegotiation> {
    let mut options = ServerAssociationOptions::new()
        .ae_access_control(Access {
            allowed: config.allowed.clone(),
            peer: Some(peer),
            calling,
        })
        .ae_title(config.ae_title.clone())
        .max_pdu_length(config.max_pdu_length)
        .read_timeout(config.idle_timeout)
        .write_timeout(config.idle_timeout)
        .with_abstract_syntax(VERIFICATION);
    for (uid, _) in STORAGE_SOP_CLASSES {
        options = options.with_abstract_syntax(*uid);
    }
    // Every transfer syntax whose data sets the engine can read and write
    // (compressed pixel data passes through as it came).
    for ts in TransferSyntaxRegistry.iter() {
        if !ts.is_unsupported() {
            options = options.with_transfer_syntax(ts.uid());
        }
    }
    options
}

fn associate(
    stream: TcpStream,
    peer: SocketAddr,
    config: &Config,
    spool: &Spool,
    stored: &(dyn Fn() + Send + Sync),
) -> AssociationReport {
    let mut report = AssociationReport {
        peer: Some(peer),
        ..AssociationReport::default()
    };
    // Answers are small PDUs: without this, each could wait out the
    // peer's delayed ACK.
    let _ = stream.set_nodelay(true);
    if let Err(e) = stream.set_nonblocking(false) {
        report.end = format!("socket error: {e}");
        return report;
    }
    let calling = Arc::new(std::sync::Mutex::new(String::new()));
    let options = options(config, peer.ip(), Arc::clone(&calling));
    let refused = |e: dicom_ul::association::Error, mut report: AssociationReport| {
        report.calling_ae = calling.lock().map(|c| c.clone()).unwrap_or_default();
        report.end = format!("refused or failed to associate: {}", error_chain(&e));
        report
    };
    match &config.tls {
        None => match options.establish(stream) {
            Ok(a) => converse(a, report, spool, stored),
            Err(e) => refused(e, report),
        },
        Some(tls) => match options.tls_config(Arc::clone(tls)).establish_tls(stream) {
            Ok(a) => converse(a, report, spool, stored),
            Err(e) => refused(e, report),
        },
    }
}

/// Serve one established association until it is released or aborted.
fn converse<S: std::io::Read + std::io::Write + CloseSocket>(
    mut association: ServerAssociation<S>,
    mut report: AssociationReport,
    spool: &Spool,
    stored: &(dyn Fn() + Send + Sync),
) -> AssociationReport {
    report.calling_ae = association.peer_ae_title().trim().to_string();
    let mut command = Vec::new();
    let mut receiving = Receiving::Nothing;
    loop {
        let pdu = match association.receive() {
            Ok(p) => p,
            Err(e) => {
                if matches!(receiving, Receiving::Into(..)) {
                    report.failed += 1;
                }
                report.end = format!("ended: {}", error_chain(&e));
                return report;
            }
        };
        match pdu {
            Pdu::PData { data } => {
                for pdv in data {
                    let outcome = on_pdv(
                        pdv,
                        &mut association,
                        &mut command,
                        &mut receiving,
                        spool,
                        &mut report,
                        false,
                    );
                    match outcome {
                        Ok(Event::Stored) => stored(),
                        Ok(_) => {}
                        Err(e) => {
                            report.end = format!("aborted: {e}");
                            let _ = association.abort();
                            return report;
                        }
                    }
                }
            }
            Pdu::ReleaseRQ => {
                let _ = association.send(&Pdu::ReleaseRP);
                report.end = "released".into();
                return report;
            }
            Pdu::AbortRQ { .. } => {
                report.end = "aborted by the peer".into();
                return report;
            }
            other => {
                report.end = format!("aborted: unexpected {}", other.short_description());
                let _ = association.abort();
                return report;
            }
        }
    }
}
