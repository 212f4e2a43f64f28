//! C-ECHO as a service class user: is a peer there, and does it accept us?

use std::time::Duration;

use dicom_ul::ClientAssociationOptions;
use dicom_ul::pdu::PresentationContextResultReason;

use super::dimse::{self, C_ECHO_RSP};
use super::link::Link;
use super::{AeAddress, VERIFICATION};
use crate::dicom_file::bounded::error_chain;

/// How long to wait: for the connection and association, and for each
/// reply once associated.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub dimse: Duration,
}

impl Timeouts {
    /// The same limit, in seconds (at least one), for both.
    pub fn seconds(secs: u64) -> Timeouts {
        let d = Duration::from_secs(secs.max(1));
        Timeouts {
            connect: d,
            dimse: d,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            dimse: Duration::from_secs(30),
        }
    }
}

/// Send one C-ECHO to `target` as `calling_ae`; the reason on failure
/// names the peer.
pub fn echo(target: &AeAddress, calling_ae: &str, link: &Link) -> Result<(), String> {
    let options = ClientAssociationOptions::new()
        .calling_ae_title(calling_ae)
        .called_ae_title(target.ae_title.as_str())
        .with_abstract_syntax(VERIFICATION);
    let mut client = link.associate(options, target)?;
    let Some(context) = client
        .presentation_contexts()
        .iter()
        .find(|pc| pc.reason == PresentationContextResultReason::Acceptance)
        .map(|pc| pc.id)
    else {
        client.abort();
        return Err(format!("{target} does not accept Verification (C-ECHO)"));
    };
    let response = crate::with_client!(&mut client, association => {
        association
            .send(&dimse::command_pdu(context, dimse::echo_request(1)))
            .map_err(|e| format!("{target}: sending C-ECHO: {}", error_chain(&e)))?;
        dimse::receive_response(association)
            .map_err(|e| format!("{target} answered C-ECHO: {e}"))?
    });
    client.release();
    match (response.field, response.status) {
        (C_ECHO_RSP, Some(0)) => Ok(()),
        (C_ECHO_RSP, status) => Err(format!(
            "{target} answered C-ECHO with status {:#06X}",
            status.unwrap_or(0xFFFF)
        )),
        (field, _) => Err(format!(
            "{target} answered C-ECHO with command {field:#06X}"
        )),
    }
}
