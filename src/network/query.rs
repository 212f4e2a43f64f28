//! Query/retrieve as a service class user, in the study root information
//! model: C-FIND at study level (who has which studies, and how many
//! instances each holds), and C-MOVE of one study to an AE title (our own
//! receiver). Identifiers are written in the negotiated transfer syntax
//! and read back through the bounded reader.

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::association::CloseSocket;
use dicom_ul::pdu::{PDataValue, PDataValueType, PresentationContextResultReason};
use dicom_ul::{ClientAssociation, ClientAssociationOptions, Pdu};
use std::io::{Read, Write};

use super::AeAddress;
use super::dimse::{self, C_FIND_RSP, C_MOVE_RSP, Command};
use super::link::{Client, Link};
use crate::dicom_file::bounded::{self, error_chain};

/// Matching keys of a study-level query; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct StudyQuery {
    pub patient_id: Option<String>,
    /// May hold `*` and `?` wildcards.
    pub patient_name: Option<String>,
    /// `YYYYMMDD`, or a range `FROM-TO` (either end may be empty).
    pub study_date: Option<String>,
    pub modality: Option<String>,
    pub accession: Option<String>,
    pub study_uid: Option<String>,
}

/// One study the peer matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Study {
    pub study_uid: String,
    pub patient_id: String,
    pub patient_name: String,
    pub study_date: String,
    pub accession: String,
    pub modalities: String,
    pub description: String,
    /// NumberOfStudyRelatedInstances, when the peer returns it.
    pub instances: Option<u32>,
    /// SOPClassesInStudy, when the peer returns it.
    pub sop_classes: Vec<String>,
}

/// One series of a study, as the peer describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    pub series_uid: String,
    pub modality: String,
    pub description: String,
    /// NumberOfSeriesRelatedInstances, when the peer returns it.
    pub instances: Option<u32>,
}

/// How a C-MOVE ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveOutcome {
    pub status: u16,
    pub completed: u16,
    pub failed: u16,
    pub warning: u16,
    pub comment: String,
}

fn associate(
    target: &AeAddress,
    calling_ae: &str,
    sop_class: &str,
    link: &Link,
) -> Result<(Client, u8, String), String> {
    let options = ClientAssociationOptions::new()
        .calling_ae_title(calling_ae)
        .called_ae_title(target.ae_title.as_str())
        .with_presentation_context(
            sop_class,
            vec![
                uids::EXPLICIT_VR_LITTLE_ENDIAN,
                uids::IMPLICIT_VR_LITTLE_ENDIAN,
            ],
        );
    let association = link.associate(options, target)?;
    let Some((id, ts)) = association
        .presentation_contexts()
        .iter()
        .find(|pc| pc.reason == PresentationContextResultReason::Acceptance)
        .map(|pc| (pc.id, pc.transfer_syntax.clone()))
    else {
        association.abort();
        return Err(format!("{target} does not accept {sop_class}"));
    };
    Ok((association, id, ts))
}

fn text(tag: Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
    if value.is_empty() {
        DataElement::new(tag, vr, PrimitiveValue::Empty)
    } else {
        DataElement::new(tag, vr, PrimitiveValue::from(value))
    }
}

pub(super) fn encode(identifier: &InMemDicomObject, ts_uid: &str) -> Result<Vec<u8>, String> {
    let ts = TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| format!("transfer syntax {ts_uid} unknown"))?;
    let mut bytes = Vec::new();
    identifier
        .write_dataset_with_ts(&mut bytes, ts)
        .map_err(|e| format!("cannot encode the identifier: {}", error_chain(&e)))?;
    Ok(bytes)
}

/// Send a request: its command and identifier in one P-DATA.
pub(super) fn send_request<S: Read + Write + CloseSocket>(
    association: &mut ClientAssociation<S>,
    context: u8,
    command: Vec<u8>,
    identifier: Vec<u8>,
    target: &AeAddress,
) -> Result<(), String> {
    association
        .send(&Pdu::PData {
            data: vec![
                PDataValue {
                    presentation_context_id: context,
                    value_type: PDataValueType::Command,
                    is_last: true,
                    data: command,
                },
                PDataValue {
                    presentation_context_id: context,
                    value_type: PDataValueType::Data,
                    is_last: true,
                    data: identifier,
                },
            ],
        })
        .map_err(|e| format!("{target}: {}", error_chain(&e)))
}

/// Send a request (command and identifier), then read every response until
/// a final one; each response with its identifier (if any) goes to `each`.
fn exchange<S: Read + Write + CloseSocket>(
    association: &mut ClientAssociation<S>,
    context: u8,
    ts_uid: &str,
    command: Vec<u8>,
    identifier: Vec<u8>,
    target: &AeAddress,
    mut each: impl FnMut(&Command, Option<InMemDicomObject>) -> Result<(), String>,
) -> Result<Command, String> {
    let lost = |e: &dyn std::error::Error| format!("{target}: {}", error_chain(e));
    send_request(association, context, command, identifier, target)?;
    let ts = TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| format!("transfer syntax {ts_uid} unknown"))?;
    let (mut command, mut data) = (Vec::new(), Vec::new());
    let mut pending: Option<Command> = None;
    loop {
        let pdu = association.receive().map_err(|e| lost(&e))?;
        let Pdu::PData { data: values } = pdu else {
            return Err(format!("{target} sent {}", pdu.short_description()));
        };
        for pdv in values {
            match pdv.value_type {
                PDataValueType::Command => {
                    command.extend_from_slice(&pdv.data);
                    if !pdv.is_last {
                        continue;
                    }
                    let response = dimse::read(&command)?;
                    command.clear();
                    if response.has_data_set {
                        pending = Some(response);
                    } else {
                        each(&response, None)?;
                        if !is_pending(&response) {
                            return Ok(response);
                        }
                    }
                }
                PDataValueType::Data => {
                    data.extend_from_slice(&pdv.data);
                    if !pdv.is_last {
                        continue;
                    }
                    let response = pending
                        .take()
                        .ok_or_else(|| format!("{target} sent data without a command"))?;
                    let identifier = bounded::read_dataset(&data, ts, None, None)
                        .map_err(|e| format!("{target} sent an unreadable identifier: {e}"))?;
                    data.clear();
                    each(&response, Some(identifier))?;
                    if !is_pending(&response) {
                        return Ok(response);
                    }
                }
            }
        }
    }
}

/// A pending response (more follow); anything else ends the exchange.
pub(super) fn is_pending(response: &Command) -> bool {
    matches!(response.status, Some(0xFF00 | 0xFF01))
}

fn field(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_string())
        .unwrap_or_default()
}

/// C-FIND at study level.
pub fn find_studies(
    target: &AeAddress,
    calling_ae: &str,
    query: &StudyQuery,
    link: &Link,
) -> Result<Vec<Study>, String> {
    let get = |v: &Option<String>| v.clone().unwrap_or_default();
    let identifier = InMemDicomObject::from_element_iter([
        text(tags::QUERY_RETRIEVE_LEVEL, VR::CS, "STUDY"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, &get(&query.study_uid)),
        text(tags::PATIENT_ID, VR::LO, &get(&query.patient_id)),
        text(tags::PATIENT_NAME, VR::PN, &get(&query.patient_name)),
        text(tags::STUDY_DATE, VR::DA, &get(&query.study_date)),
        text(tags::ACCESSION_NUMBER, VR::SH, &get(&query.accession)),
        text(tags::MODALITIES_IN_STUDY, VR::CS, &get(&query.modality)),
        text(tags::STUDY_DESCRIPTION, VR::LO, ""),
        text(tags::NUMBER_OF_STUDY_RELATED_INSTANCES, VR::IS, ""),
        text(tags::SOP_CLASSES_IN_STUDY, VR::UI, ""),
    ]);
    find(target, calling_ae, &identifier, link, |obj| Study {
        study_uid: field(obj, tags::STUDY_INSTANCE_UID),
        patient_id: field(obj, tags::PATIENT_ID),
        patient_name: field(obj, tags::PATIENT_NAME),
        study_date: field(obj, tags::STUDY_DATE),
        accession: field(obj, tags::ACCESSION_NUMBER),
        modalities: field(obj, tags::MODALITIES_IN_STUDY),
        description: field(obj, tags::STUDY_DESCRIPTION),
        instances: field(obj, tags::NUMBER_OF_STUDY_RELATED_INSTANCES)
            .parse()
            .ok(),
        sop_classes: field(obj, tags::SOP_CLASSES_IN_STUDY)
            .split('\\')
            .map(|c| c.trim_end_matches(['\0', ' ']).trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
    })
}

/// A study root C-FIND with `identifier`: each match, read by `each`.
fn find<T>(
    target: &AeAddress,
    calling_ae: &str,
    identifier: &InMemDicomObject,
    link: &Link,
    each: impl Fn(&InMemDicomObject) -> T,
) -> Result<Vec<T>, String> {
    let class = uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_FIND;
    let (mut association, context, ts) = associate(target, calling_ae, class, link)?;
    let mut matches = Vec::new();
    let last = crate::with_client!(&mut association, a => exchange(
        a,
        context,
        &ts,
        dimse::find_request(class, 1),
        encode(identifier, &ts)?,
        target,
        |response, identifier| {
            if response.field != C_FIND_RSP {
                return Err(format!(
                    "{target} answered C-FIND with command {:#06X}",
                    response.field
                ));
            }
            if let Some(obj) = identifier {
                matches.push(each(&obj));
            }
            Ok(())
        },
    ))?;
    association.release();
    final_status(target, "C-FIND", &last)?;
    Ok(matches)
}

/// C-FIND at series level: the series of one study, with their instance
/// counts.
pub fn find_series(
    target: &AeAddress,
    calling_ae: &str,
    study_uid: &str,
    link: &Link,
) -> Result<Vec<Series>, String> {
    let identifier = InMemDicomObject::from_element_iter([
        text(tags::QUERY_RETRIEVE_LEVEL, VR::CS, "SERIES"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, study_uid),
        text(tags::SERIES_INSTANCE_UID, VR::UI, ""),
        text(tags::MODALITY, VR::CS, ""),
        text(tags::SERIES_DESCRIPTION, VR::LO, ""),
        text(tags::NUMBER_OF_SERIES_RELATED_INSTANCES, VR::IS, ""),
    ]);
    find(target, calling_ae, &identifier, link, |obj| Series {
        series_uid: field(obj, tags::SERIES_INSTANCE_UID),
        modality: field(obj, tags::MODALITY),
        description: field(obj, tags::SERIES_DESCRIPTION),
        instances: field(obj, tags::NUMBER_OF_SERIES_RELATED_INSTANCES)
            .parse()
            .ok(),
    })
}

/// The identifier of a C-MOVE or C-GET: one study, or one series of it.
pub(super) fn retrieve_identifier(study_uid: &str, series_uid: Option<&str>) -> InMemDicomObject {
    let mut identifier = InMemDicomObject::from_element_iter([
        text(tags::QUERY_RETRIEVE_LEVEL, VR::CS, "STUDY"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, study_uid),
    ]);
    if let Some(series_uid) = series_uid {
        identifier.put(text(tags::QUERY_RETRIEVE_LEVEL, VR::CS, "SERIES"));
        identifier.put(text(tags::SERIES_INSTANCE_UID, VR::UI, series_uid));
    }
    identifier
}

fn final_status(target: &AeAddress, what: &str, last: &Command) -> Result<(), String> {
    match last.status {
        Some(0) => Ok(()),
        status => Err(format!(
            "{target} ended {what} with status {:#06X}{}",
            status.unwrap_or(0xFFFF),
            if last.error_comment.is_empty() {
                String::new()
            } else {
                format!(": {}", last.error_comment)
            }
        )),
    }
}

/// C-MOVE one study, or one series of it, to `destination` (an AE title
/// the peer knows).
pub fn move_study(
    target: &AeAddress,
    calling_ae: &str,
    destination: &str,
    study_uid: &str,
    series_uid: Option<&str>,
    link: &Link,
) -> Result<MoveOutcome, String> {
    let class = uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_MOVE;
    let (mut association, context, ts) = associate(target, calling_ae, class, link)?;
    let identifier = retrieve_identifier(study_uid, series_uid);
    let last = crate::with_client!(&mut association, a => exchange(
        a,
        context,
        &ts,
        dimse::move_request(class, 1, destination),
        encode(&identifier, &ts)?,
        target,
        |response, _| {
            if response.field != C_MOVE_RSP {
                return Err(format!(
                    "{target} answered C-MOVE with command {:#06X}",
                    response.field
                ));
            }
            Ok(())
        },
    ))?;
    association.release();
    let [_, completed, failed, warning] = last.suboperations;
    Ok(MoveOutcome {
        status: last.status.unwrap_or(0xFFFF),
        completed: completed.unwrap_or(0),
        failed: failed.unwrap_or(0),
        warning: warning.unwrap_or(0),
        comment: last.error_comment.clone(),
    })
}
