//! How we reach a peer as a client: the timeouts, and TLS when asked for.
//! An association is plain TCP or TLS ([`Client`]); the code that talks
//! over it is generic over the stream and written once
//! ([`with_client!`](crate::with_client)).

use std::net::TcpStream;
use std::sync::Arc;

use dicom_ul::association::client::TlsStream;
use dicom_ul::{ClientAssociation, ClientAssociationOptions};

use super::AeAddress;
use super::echo::Timeouts;
use crate::dicom_file::bounded::error_chain;

/// The timeouts, and the TLS client configuration (none: plain TCP).
#[derive(Clone, Default)]
pub struct Link {
    pub timeouts: Timeouts,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// An association we opened.
pub enum Client {
    Plain(ClientAssociation<TcpStream>),
    Tls(Box<ClientAssociation<TlsStream>>),
}

/// Run `$body` with `$a` bound to the `&mut ClientAssociation<S>` inside a
/// [`Client`], whichever its stream.
#[macro_export]
macro_rules! with_client {
    ($client:expr, $a:ident => $body:expr) => {
        match $client {
            $crate::network::link::Client::Plain($a) => $body,
            $crate::network::link::Client::Tls($a) => {
                let $a = &mut **$a;
                $body
            }
        }
    };
}

impl Link {
    /// A link with these timeouts, over plain TCP.
    pub fn plain(timeouts: Timeouts) -> Link {
        Link {
            timeouts,
            tls: None,
        }
    }

    /// Connect to `target` and negotiate the association `options` describe.
    pub fn establish(
        &self,
        options: ClientAssociationOptions<'_>,
        target: &AeAddress,
    ) -> Result<Client, dicom_ul::association::Error> {
        let options = options
            .connection_timeout(self.timeouts.connect)
            .read_timeout(self.timeouts.dimse)
            .write_timeout(self.timeouts.dimse);
        // Small PDUs (responses, commands) must not wait for the peer's
        // delayed ACK.
        match &self.tls {
            None => options.establish(target.socket()).map(|a| {
                let mut a = a;
                let _ = a.inner_stream().set_nodelay(true);
                Client::Plain(a)
            }),
            Some(config) => options
                .tls_config(Arc::clone(config))
                .server_name(&target.host)
                .establish_tls(target.socket())
                .map(|mut a| {
                    let _ = a.inner_stream().sock.set_nodelay(true);
                    Client::Tls(Box::new(a))
                }),
        }
    }

    /// [`Link::establish`], with the error naming the peer.
    pub fn associate(
        &self,
        options: ClientAssociationOptions<'_>,
        target: &AeAddress,
    ) -> Result<Client, String> {
        self.establish(options, target)
            .map_err(|e| format!("cannot associate with {target}: {}", error_chain(&e)))
    }
}

impl Client {
    /// The presentation contexts the peer answered.
    pub fn presentation_contexts(&self) -> &[dicom_ul::pdu::PresentationContextNegotiated] {
        match self {
            Client::Plain(a) => a.presentation_contexts(),
            Client::Tls(a) => a.presentation_contexts(),
        }
    }

    /// Release the association (errors ignored: the work is done).
    pub fn release(self) {
        match self {
            Client::Plain(a) => drop(a.release()),
            Client::Tls(a) => drop(a.release()),
        }
    }

    /// Abort the association.
    pub fn abort(self) {
        match self {
            Client::Plain(a) => drop(a.abort()),
            Client::Tls(a) => drop(a.abort()),
        }
    }
}
