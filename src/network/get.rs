//! C-GET as a service class user: the PACS sends the instances back over
//! our own association (C-STORE sub-operations), so no AE title, port or
//! firewall opening is needed on our side. Each instance streams into the
//! same [`Spool`] as the receiver's and is synced there before the PACS
//! is answered.

use dicom_dictionary_std::uids;
use dicom_object::InMemDicomObject;
use dicom_ul::association::CloseSocket;
use dicom_ul::pdu::PresentationContextResultReason;
use dicom_ul::{ClientAssociation, ClientAssociationOptions, Pdu};
use std::io::{Read, Write};

use super::AeAddress;
use super::dimse;
use super::incoming::{Event, Receiving, on_pdv};
use super::link::Link;
use super::query::{MoveOutcome, encode, is_pending, retrieve_identifier, send_request};
use super::receiver::AssociationReport;
use super::spool::Spool;
use super::storage_classes::STORAGE_SOP_CLASSES;
use crate::dicom_file::bounded::error_chain;

/// Presentation contexts an association may propose (the standard allows
/// 128); one goes to the C-GET itself.
const MAX_CONTEXTS: usize = 128;

/// The storage classes proposed when the PACS does not say which the study
/// holds (SOPClassesInStudy): the commonest first, then the rest of the
/// standard's current (not retired) storage classes, as many as fit.
const COMMON: &[&str] = &[
    uids::CT_IMAGE_STORAGE,
    uids::ENHANCED_CT_IMAGE_STORAGE,
    uids::MR_IMAGE_STORAGE,
    uids::ENHANCED_MR_IMAGE_STORAGE,
    uids::COMPUTED_RADIOGRAPHY_IMAGE_STORAGE,
    uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
    uids::DIGITAL_MAMMOGRAPHY_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
    uids::ULTRASOUND_IMAGE_STORAGE,
    uids::ULTRASOUND_MULTI_FRAME_IMAGE_STORAGE,
    uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
    uids::NUCLEAR_MEDICINE_IMAGE_STORAGE,
    uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE,
    uids::X_RAY_ANGIOGRAPHIC_IMAGE_STORAGE,
    uids::RT_IMAGE_STORAGE,
    uids::RT_DOSE_STORAGE,
    uids::RT_STRUCTURE_SET_STORAGE,
    uids::RT_PLAN_STORAGE,
    uids::BASIC_TEXT_SR_STORAGE,
    uids::ENHANCED_SR_STORAGE,
    uids::COMPREHENSIVE_SR_STORAGE,
    uids::KEY_OBJECT_SELECTION_DOCUMENT_STORAGE,
    uids::GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE,
    uids::ENCAPSULATED_PDF_STORAGE,
    uids::SEGMENTATION_STORAGE,
];

/// The storage classes to take: the study's own when known, else
/// [`COMMON`] and the rest of the current ones, at most `room`.
fn storage_classes(known: &[String], room: usize) -> Vec<String> {
    let mut classes: Vec<String> = if known.is_empty() {
        COMMON
            .iter()
            .map(|c| c.to_string())
            .chain(
                STORAGE_SOP_CLASSES
                    .iter()
                    .filter(|(_, name)| !name.contains("Retired"))
                    .map(|(uid, _)| uid.to_string()),
            )
            .collect()
    } else {
        known.to_vec()
    };
    let mut seen = std::collections::HashSet::new();
    classes.retain(|c| seen.insert(c.clone()));
    classes.truncate(room);
    classes
}

/// C-GET one study, or one series of it. `sop_classes` are the storage
/// classes the study holds (empty: not known); `stored` is called after
/// each instance is committed to `spool`.
#[allow(clippy::too_many_arguments)]
pub fn get_study(
    target: &AeAddress,
    calling_ae: &str,
    study_uid: &str,
    series_uid: Option<&str>,
    sop_classes: &[String],
    link: &Link,
    spool: &Spool,
    stored: &dyn Fn(),
) -> Result<MoveOutcome, String> {
    let class = uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_GET;
    let uncompressed = vec![
        uids::EXPLICIT_VR_LITTLE_ENDIAN,
        uids::IMPLICIT_VR_LITTLE_ENDIAN,
    ];
    let mut options = ClientAssociationOptions::new()
        .calling_ae_title(calling_ae)
        .called_ae_title(target.ae_title.as_str())
        .with_presentation_context(class, uncompressed.clone());
    // We take the SCP role of each storage class the PACS may send: it
    // picks the transfer syntax (uncompressed; a PACS converts compressed
    // instances, or fails those sub-operations).
    for storage in storage_classes(sop_classes, MAX_CONTEXTS - 1) {
        options = options
            .with_presentation_context(
                storage.clone(),
                uncompressed.iter().map(|t| t.to_string()).collect(),
            )
            .with_role_selection(storage, false, true);
    }
    let mut association = link.associate(options, target)?;
    let Some((context, ts)) = association
        .presentation_contexts()
        .iter()
        .find(|pc| {
            pc.reason == PresentationContextResultReason::Acceptance && pc.abstract_syntax == class
        })
        .map(|pc| (pc.id, pc.transfer_syntax.clone()))
    else {
        association.abort();
        return Err(format!("{target} does not accept C-GET ({class})"));
    };
    let identifier = retrieve_identifier(study_uid, series_uid);
    let outcome = crate::with_client!(&mut association, a => {
        receive_instances(a, context, &ts, identifier, target, spool, stored)
    });
    match &outcome {
        Ok(_) => association.release(),
        Err(_) => association.abort(),
    }
    outcome
}

/// Send the C-GET request, then take the C-STORE sub-operations into the
/// spool until the final C-GET response.
fn receive_instances<S: Read + Write + CloseSocket>(
    association: &mut ClientAssociation<S>,
    context: u8,
    ts: &str,
    identifier: InMemDicomObject,
    target: &AeAddress,
    spool: &Spool,
    stored: &dyn Fn(),
) -> Result<MoveOutcome, String> {
    let class = uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_GET;
    send_request(
        association,
        context,
        dimse::get_request(class, 1),
        encode(&identifier, ts)?,
        target,
    )?;
    let mut report = AssociationReport {
        calling_ae: target.ae_title.clone(),
        ..AssociationReport::default()
    };
    let (mut command, mut receiving) = (Vec::new(), Receiving::Nothing);
    loop {
        let pdu = association
            .receive()
            .map_err(|e| format!("{target}: {}", error_chain(&e)))?;
        let Pdu::PData { data } = pdu else {
            return Err(format!(
                "{target} sent {} during C-GET",
                pdu.short_description()
            ));
        };
        for pdv in data {
            match on_pdv(
                pdv,
                association,
                &mut command,
                &mut receiving,
                spool,
                &mut report,
                true,
            ) {
                Ok(Event::Stored) => stored(),
                Ok(Event::Nothing) => {}
                Ok(Event::GetResponse(response)) if is_pending(&response) => {}
                Ok(Event::GetResponse(last)) => {
                    let [_, completed, failed, warning] = last.suboperations;
                    return Ok(MoveOutcome {
                        status: last.status.unwrap_or(0xFFFF),
                        completed: completed.unwrap_or(0),
                        failed: failed.unwrap_or(0),
                        warning: warning.unwrap_or(0),
                        comment: last.error_comment.clone(),
                    });
                }
                Err(e) => return Err(format!("{target}: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposes_the_studys_classes_or_the_common_ones_within_the_limit() {
        let known = vec!["1.2.3".to_string(), "1.2.3".to_string(), "1.2.4".into()];
        assert_eq!(storage_classes(&known, 127), ["1.2.3", "1.2.4"]);
        let fallback = storage_classes(&[], 127);
        assert_eq!(fallback.len(), 127);
        assert_eq!(fallback[0], uids::CT_IMAGE_STORAGE);
        assert!(COMMON.iter().all(|c| fallback.iter().any(|f| f == c)));
        let unique: std::collections::HashSet<_> = fallback.iter().collect();
        assert_eq!(unique.len(), fallback.len());
    }
}
