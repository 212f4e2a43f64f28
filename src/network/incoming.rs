//! C-STORE requests arriving on an association, whichever side opened
//! it: the storage SCP's associations, and the C-STORE sub-operations of
//! a C-GET on our own. Each data set streams into the [`Spool`] and is
//! synced there before the sender is answered.

use std::io::{Read, Write};

use dicom_ul::association::{CloseSocket, SyncAssociation};
use dicom_ul::pdu::{PDataValue, PDataValueType, PresentationContextResultReason};

use super::dimse::{self, C_ECHO_RQ, C_GET_RSP, C_STORE_RQ, Command, status};
use super::receiver::AssociationReport;
use super::spool::{Incoming, Spool};
use crate::dicom_file::bounded::error_chain;

/// The instance being received on an association.
pub enum Receiving {
    Nothing,
    /// Streaming into the spool.
    Into(Box<Incoming>, Command),
    /// Reading and dropping a data set we will refuse (with this status).
    Discarding(Command, u16),
    /// Reading the data set of a C-GET response (the failed instances'
    /// UIDs), which answers nothing.
    Response(Command),
}

/// What one presentation data value completed.
pub enum Event {
    Nothing,
    /// An instance was committed to the spool.
    Stored,
    /// A C-GET response (with its data set read, if it had one).
    GetResponse(Command),
}

fn respond<S: Read + Write + CloseSocket>(
    association: &mut impl SyncAssociation<S>,
    context: u8,
    request: &Command,
    status: u16,
) -> Result<(), String> {
    SyncAssociation::send(
        association,
        &dimse::command_pdu(context, dimse::response(request, status)),
    )
    .map_err(|e| format!("cannot answer: {}", error_chain(&e)))
}

/// Handle one presentation data value. C-ECHO and C-STORE requests are
/// served; a C-GET response is handed back when `getting`; any other
/// command is refused.
pub fn on_pdv<S: Read + Write + CloseSocket>(
    pdv: PDataValue,
    association: &mut impl SyncAssociation<S>,
    command: &mut Vec<u8>,
    receiving: &mut Receiving,
    spool: &Spool,
    report: &mut AssociationReport,
    getting: bool,
) -> Result<Event, String> {
    let context = pdv.presentation_context_id;
    match pdv.value_type {
        PDataValueType::Command => {
            command.extend_from_slice(&pdv.data);
            if command.len() > 1 << 20 {
                return Err("a command set over 1 MiB".into());
            }
            if !pdv.is_last {
                return Ok(Event::Nothing);
            }
            let request = dimse::read(command)?;
            command.clear();
            let negotiated = association
                .presentation_contexts()
                .iter()
                .find(|pc| {
                    pc.id == context && pc.reason == PresentationContextResultReason::Acceptance
                })
                .map(|pc| (pc.abstract_syntax.clone(), pc.transfer_syntax.clone()));
            match (request.field, request.has_data_set) {
                (C_GET_RSP, true) if getting => {
                    *receiving = Receiving::Response(request);
                }
                (C_GET_RSP, false) if getting => return Ok(Event::GetResponse(request)),
                (C_ECHO_RQ, _) => {
                    report.echoes += 1;
                    respond(association, context, &request, status::SUCCESS)?;
                }
                (C_STORE_RQ, true) => {
                    let Some((abstract_syntax, ts)) = negotiated else {
                        *receiving = Receiving::Discarding(request, status::CANNOT_UNDERSTAND);
                        return Ok(Event::Nothing);
                    };
                    let class = if request.sop_class.is_empty() {
                        abstract_syntax
                    } else {
                        request.sop_class.clone()
                    };
                    let ae = report.calling_ae.clone();
                    *receiving = match spool.begin(&class, &request.sop_instance, &ts, &ae) {
                        Ok(incoming) => Receiving::Into(Box::new(incoming), request),
                        Err(e) => {
                            eprintln!("serve: cannot spool an instance: {e}");
                            Receiving::Discarding(request, status::OUT_OF_RESOURCES)
                        }
                    };
                }
                (_, true) => {
                    *receiving = Receiving::Discarding(request, status::UNRECOGNIZED_OPERATION);
                }
                (_, false) => {
                    let code = if request.field == C_STORE_RQ {
                        status::CANNOT_UNDERSTAND
                    } else {
                        status::UNRECOGNIZED_OPERATION
                    };
                    respond(association, context, &request, code)?;
                }
            }
            Ok(Event::Nothing)
        }
        PDataValueType::Data => {
            match receiving {
                Receiving::Into(incoming, _) => {
                    if let Err(e) = incoming.write(&pdv.data) {
                        eprintln!("serve: cannot spool an instance: {e}");
                        let Receiving::Into(_, request) =
                            std::mem::replace(receiving, Receiving::Nothing)
                        else {
                            unreachable!()
                        };
                        *receiving = Receiving::Discarding(request, status::OUT_OF_RESOURCES);
                    }
                }
                Receiving::Discarding(..) | Receiving::Response(_) => {}
                Receiving::Nothing => return Err("data without a command".into()),
            }
            if !pdv.is_last {
                return Ok(Event::Nothing);
            }
            match std::mem::replace(receiving, Receiving::Nothing) {
                Receiving::Into(incoming, request) => match incoming.commit() {
                    Ok(_) => {
                        report.stored += 1;
                        respond(association, context, &request, status::SUCCESS)?;
                        Ok(Event::Stored)
                    }
                    Err(e) => {
                        eprintln!("serve: cannot spool an instance: {e}");
                        report.failed += 1;
                        respond(association, context, &request, status::OUT_OF_RESOURCES)?;
                        Ok(Event::Nothing)
                    }
                },
                Receiving::Discarding(request, code) => {
                    report.failed += 1;
                    respond(association, context, &request, code)?;
                    Ok(Event::Nothing)
                }
                Receiving::Response(response) => Ok(Event::GetResponse(response)),
                Receiving::Nothing => Ok(Event::Nothing),
            }
        }
    }
}
