//! DICOM over TLS (PS3.15 Annex B, the BCP 195 profiles): rustls with the
//! `ring` provider, TLS 1.2 and 1.3 only. Keys and certificates are PEM
//! files. As a server we present our certificate and, given a CA, require
//! and verify the peer's; as a client we verify the peer against the CA
//! given (there is no system trust store: a DICOM peer's certificate is
//! usually from a site's own CA) and present ours when given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

pub use dicom_ul::association::client::TlsStream as ClientTlsStream;
pub use dicom_ul::association::server::TlsStream as ServerTlsStream;

/// The PEM files given on the command line.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// Our certificate (chain), leaf first.
    pub cert: Option<PathBuf>,
    /// Our private key.
    pub key: Option<PathBuf>,
    /// The CA certificates a peer's certificate must chain to.
    pub ca: Option<PathBuf>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let name = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificates from {name}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read certificates from {name}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{name} holds no PEM certificate"));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("cannot read a private key from {}: {e}", path.display()))
}

fn roots(path: &Path) -> Result<Arc<RootCertStore>, String> {
    let mut store = RootCertStore::empty();
    for cert in certificates(path)? {
        store
            .add(cert)
            .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
    }
    Ok(Arc::new(store))
}

fn ours(files: &TlsFiles, flag: &str) -> Result<Option<(PathBuf, PathBuf)>, String> {
    match (&files.cert, &files.key) {
        (Some(c), Some(k)) => Ok(Some((c.clone(), k.clone()))),
        (None, None) => Ok(None),
        _ => Err(format!(
            "{flag}-cert and {flag}-key go together: give both or neither"
        )),
    }
}

impl TlsFiles {
    /// Whether any TLS file was given.
    pub fn given(&self) -> bool {
        self.cert.is_some() || self.key.is_some() || self.ca.is_some()
    }

    /// A server configuration: our certificate and key (required); with a
    /// CA, every peer must present a certificate that chains to it.
    pub fn server(&self) -> Result<Arc<ServerConfig>, String> {
        let Some((cert, key)) = ours(self, "--tls")? else {
            return Err("TLS as a receiver needs --tls-cert and --tls-key".into());
        };
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match &self.ca {
            Some(ca) => builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider())
                    .build()
                    .map_err(|e| format!("TLS: {}: {e}", ca.display()))?,
            ),
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(certificates(&cert)?, private_key(&key)?)
            .map_err(|e| {
                format!(
                    "TLS: {} and {} do not make a usable certificate and key: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
        Ok(Arc::new(config))
    }

    /// A client configuration: the CA to verify the peer against
    /// (required), and our certificate and key when the peer asks for one.
    pub fn client(&self) -> Result<Arc<ClientConfig>, String> {
        let Some(ca) = &self.ca else {
            return Err(
                "TLS as a client needs --tls-ca (the CA certificate the peer's certificate chains to)"
                    .into(),
            );
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots(ca)?);
        let config = match ours(self, "--tls")? {
            Some((cert, key)) => builder
                .with_client_auth_cert(certificates(&cert)?, private_key(&key)?)
                .map_err(|e| {
                    format!(
                        "TLS: {} and {} do not make a usable certificate and key: {e}",
                        cert.display(),
                        key.display()
                    )
                })?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}
