//! C-STORE as a service class user: deliver files to a peer. Each file's
//! data set goes as it is stored (no re-encoding) when the peer accepts
//! its transfer syntax; a file in implicit VR little endian, explicit VR
//! big endian or deflated explicit VR little endian may be re-encoded, losslessly, in
//! explicit VR little endian when the peer accepts only that. Compressed
//! pixel data is never converted: a peer that refuses its transfer syntax
//! refuses the file.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use dicom_dictionary_std::uids;
use dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN;
use dicom_ul::association::CloseSocket;
use dicom_ul::pdu::PresentationContextResultReason;
use dicom_ul::{ClientAssociation, ClientAssociationOptions};

use super::AeAddress;
use super::dimse::{self, C_STORE_RQ, C_STORE_RSP};
use super::link::Link;
use crate::dicom_file::bounded::error_chain;

/// A file to send, as its meta group describes it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub path: PathBuf,
    /// Its key (path relative to the tree sent).
    pub key: String,
    pub sop_class: String,
    pub sop_instance: String,
    pub transfer_syntax: String,
    /// Where the data set starts in the file.
    pub data_offset: u64,
}

/// Transfer syntaxes that can be re-encoded losslessly as explicit VR
/// little endian.
const CONVERTIBLE: [&str; 3] = [
    uids::IMPLICIT_VR_LITTLE_ENDIAN,
    // Explicit VR big endian (retired, still written by old modalities).
    "1.2.840.10008.1.2.2",
    uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
];

/// Read what sending `path` needs: its meta group and where its data set
/// starts.
pub fn describe(path: &Path, key: &str) -> Result<Outgoing, String> {
    let mut head = [0u8; 144];
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    file.read_exact(&mut head)
        .map_err(|_| "too short for a DICOM file".to_string())?;
    if &head[128..132] != b"DICM" || head[132..136] != [2, 0, 0, 0] || &head[136..138] != b"UL" {
        return Err("not a DICOM file with a meta group (no DICM, or no group length)".into());
    }
    let group_length = u32::from_le_bytes(head[140..144].try_into().expect("4 bytes"));
    let obj = crate::dicom_file::open(path, Some(dicom_core::Tag(0x0008, 0x0000)))
        .map_err(|e| e.to_string())?;
    let meta = obj.meta();
    let clean = |s: &str| s.trim_end_matches(['\0', ' ']).to_string();
    Ok(Outgoing {
        path: path.to_path_buf(),
        key: key.to_string(),
        sop_class: clean(meta.media_storage_sop_class_uid()),
        sop_instance: clean(meta.media_storage_sop_instance_uid()),
        transfer_syntax: clean(meta.transfer_syntax()),
        data_offset: 144 + u64::from(group_length),
    })
}

/// The outcome of one file: the peer's C-STORE status, or why it was not sent.
pub type Outcome = Result<u16, String>;

/// At most this many presentation contexts per association (the standard
/// allows 128).
const CONTEXTS_PER_ASSOCIATION: usize = 120;

/// Send `files` to `target` over as few associations as their SOP classes
/// and transfer syntaxes allow, calling `done` after each file. An error
/// is returned when no association could be made at all (the peer is
/// down, refuses us, or stops answering); files not reached get no call.
pub fn send(
    target: &AeAddress,
    calling_ae: &str,
    files: &[Outgoing],
    link: &Link,
    mut done: impl FnMut(&Outgoing, Outcome),
) -> Result<(), String> {
    // Each (SOP class, transfer syntax) gets a context with the file's own
    // transfer syntax, and, where re-encoding is lossless, one with
    // explicit VR little endian.
    let mut pairs: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.sop_class.clone(), f.transfer_syntax.clone()))
        .collect();
    pairs.sort();
    pairs.dedup();
    for group in pairs.chunks(CONTEXTS_PER_ASSOCIATION / 2) {
        let mut options = ClientAssociationOptions::new()
            .calling_ae_title(calling_ae)
            .called_ae_title(target.ae_title.as_str());
        for (class, ts) in group {
            options = options.with_presentation_context(class.as_str(), vec![ts.as_str()]);
            if CONVERTIBLE.contains(&ts.as_str()) {
                options = options.with_presentation_context(
                    class.as_str(),
                    vec![uids::EXPLICIT_VR_LITTLE_ENDIAN],
                );
            }
        }
        let mut association = match link.establish(options, target) {
            Ok(a) => a,
            // The peer is there but takes none of these files.
            Err(dicom_ul::association::Error::NoAcceptedPresentationContexts { .. }) => {
                for file in files
                    .iter()
                    .filter(|f| group.contains(&(f.sop_class.clone(), f.transfer_syntax.clone())))
                {
                    done(
                        file,
                        Err(format!(
                            "{target} accepts neither SOP class {} in transfer syntax {} nor a lossless conversion",
                            file.sop_class, file.transfer_syntax
                        )),
                    );
                }
                continue;
            }
            Err(e) => {
                return Err(format!(
                    "cannot associate with {target}: {}",
                    error_chain(&e)
                ));
            }
        };
        let mut message_id: u16 = 0;
        for file in files
            .iter()
            .filter(|f| group.contains(&(f.sop_class.clone(), f.transfer_syntax.clone())))
        {
            message_id = message_id.wrapping_add(1);
            let outcome = crate::with_client!(&mut association, a => send_one(a, file, message_id));
            match outcome {
                Ok(outcome) => done(file, outcome),
                Err(e) => {
                    // The association is gone: the rest of this group and
                    // the groups after it are not sent.
                    done(file, Err(e.clone()));
                    return Err(format!("{target}: {e}"));
                }
            }
        }
        association.release();
    }
    Ok(())
}

/// Send one file; `Err` when the association failed (nothing more can go
/// over it), `Ok(Err(..))` when only this file could not be sent.
fn send_one<S: Read + Write + CloseSocket>(
    association: &mut ClientAssociation<S>,
    file: &Outgoing,
    message_id: u16,
) -> Result<Outcome, String> {
    let accepted = |ts: &str| {
        association
            .presentation_contexts()
            .iter()
            .find(|pc| {
                pc.reason == PresentationContextResultReason::Acceptance
                    && pc.abstract_syntax == file.sop_class
                    && pc.transfer_syntax == ts
            })
            .map(|pc| pc.id)
    };
    let (context, convert) = match accepted(&file.transfer_syntax) {
        Some(id) => (id, false),
        None => match accepted(uids::EXPLICIT_VR_LITTLE_ENDIAN) {
            Some(id) if CONVERTIBLE.contains(&file.transfer_syntax.as_str()) => (id, true),
            _ => {
                return Ok(Err(format!(
                    "the peer accepts neither SOP class {} in transfer syntax {} nor a lossless conversion",
                    file.sop_class, file.transfer_syntax
                )));
            }
        },
    };
    let data = if convert {
        let obj = match crate::dicom_file::open(&file.path, None) {
            Ok(o) => o,
            Err(e) => return Ok(Err(format!("cannot read it to convert: {e}"))),
        };
        let mut bytes = Vec::new();
        if let Err(e) = obj.write_dataset_with_ts(&mut bytes, &EXPLICIT_VR_LITTLE_ENDIAN.erased()) {
            return Ok(Err(format!("cannot convert it: {}", error_chain(&e))));
        }
        Some(bytes)
    } else {
        None
    };
    let request = dimse::Command {
        field: C_STORE_RQ,
        message_id,
        message_id_responded: None,
        sop_class: file.sop_class.clone(),
        sop_instance: file.sop_instance.clone(),
        has_data_set: true,
        status: None,
        suboperations: [None; 4],
        error_comment: String::new(),
    };
    association
        .send(&dimse::command_pdu(context, dimse::store_request(&request)))
        .map_err(|e| format!("sending a C-STORE request: {}", error_chain(&e)))?;
    {
        let mut writer = association.send_pdata(context);
        let copied = match &data {
            Some(bytes) => writer.write_all(bytes),
            None => std::fs::File::open(&file.path).and_then(|mut f| {
                f.seek(SeekFrom::Start(file.data_offset))?;
                std::io::copy(&mut f, &mut writer).map(drop)
            }),
        };
        copied.map_err(|e| format!("sending {}: {e}", file.key))?;
        writer
            .finish()
            .map_err(|e| format!("sending {}: {e}", file.key))?;
    }
    let response = dimse::receive_response(association)?;
    if response.field != C_STORE_RSP {
        return Err(format!(
            "the peer answered with command {:#06X}",
            response.field
        ));
    }
    Ok(Ok(response.status.unwrap_or(0xFFFF)))
}

/// Whether a C-STORE status means the peer has the instance: success, or
/// a warning (coercion, elements discarded, data set mismatch).
pub fn stored(status: u16) -> bool {
    status == 0 || status == 0x0001 || (status & 0xF000) == 0xB000
}
