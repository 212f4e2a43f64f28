//! DIMSE command sets (PS3.7 §9, §E): the few the storage SCP and the
//! echo SCU exchange, written and read in implicit VR little endian as
//! the standard requires. Reading goes through the bounded reader, so a
//! hostile command set costs an error, not the process.

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;
use dicom_ul::association::CloseSocket;
use dicom_ul::pdu::{PDataValue, PDataValueType};
use dicom_ul::{ClientAssociation, Pdu};

use crate::dicom_file::bounded;

pub const C_STORE_RQ: u16 = 0x0001;
pub const C_STORE_RSP: u16 = 0x8001;
pub const C_ECHO_RQ: u16 = 0x0030;
pub const C_ECHO_RSP: u16 = 0x8030;
pub const C_FIND_RQ: u16 = 0x0020;
pub const C_FIND_RSP: u16 = 0x8020;
pub const C_MOVE_RQ: u16 = 0x0021;
pub const C_MOVE_RSP: u16 = 0x8021;
pub const C_GET_RQ: u16 = 0x0010;
pub const C_GET_RSP: u16 = 0x8010;
/// CommandDataSetType: no data set follows.
pub const NO_DATA_SET: u16 = 0x0101;

/// Status codes (PS3.4 Annex B, PS3.7 Annex C).
pub mod status {
    pub const SUCCESS: u16 = 0x0000;
    /// Refused: SOP class not supported.
    pub const SOP_CLASS_NOT_SUPPORTED: u16 = 0x0122;
    /// Refused: out of resources (the spool could not be written).
    pub const OUT_OF_RESOURCES: u16 = 0xA700;
    /// Error: cannot understand.
    pub const CANNOT_UNDERSTAND: u16 = 0xC000;
    /// Unrecognized operation.
    pub const UNRECOGNIZED_OPERATION: u16 = 0x0211;
}

/// What the receiver needs of a command set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub field: u16,
    pub message_id: u16,
    pub message_id_responded: Option<u16>,
    pub sop_class: String,
    pub sop_instance: String,
    pub has_data_set: bool,
    pub status: Option<u16>,
    /// C-MOVE sub-operations: remaining, completed, failed, warning.
    pub suboperations: [Option<u16>; 4],
    /// ErrorComment (0000,0902), when the peer gives one.
    pub error_comment: String,
}

fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

fn number(obj: &InMemDicomObject, tag: Tag) -> Option<u16> {
    obj.get(tag)?.to_int::<u16>().ok()
}

/// Read a command set.
pub fn read(bytes: &[u8]) -> Result<Command, String> {
    let obj = bounded::read_dataset(bytes, &IMPLICIT_VR_LITTLE_ENDIAN.erased(), None, None)
        .map_err(|e| format!("unreadable command set: {e}"))?;
    let field = number(&obj, tags::COMMAND_FIELD)
        .ok_or("the command set has no CommandField (0000,0100)")?;
    Ok(Command {
        field,
        message_id: number(&obj, tags::MESSAGE_ID).unwrap_or(0),
        message_id_responded: number(&obj, tags::MESSAGE_ID_BEING_RESPONDED_TO),
        sop_class: text(&obj, tags::AFFECTED_SOP_CLASS_UID),
        sop_instance: text(&obj, tags::AFFECTED_SOP_INSTANCE_UID),
        has_data_set: number(&obj, tags::COMMAND_DATA_SET_TYPE).is_some_and(|t| t != NO_DATA_SET),
        status: number(&obj, tags::STATUS),
        suboperations: [
            number(&obj, tags::NUMBER_OF_REMAINING_SUBOPERATIONS),
            number(&obj, tags::NUMBER_OF_COMPLETED_SUBOPERATIONS),
            number(&obj, tags::NUMBER_OF_FAILED_SUBOPERATIONS),
            number(&obj, tags::NUMBER_OF_WARNING_SUBOPERATIONS),
        ],
        error_comment: text(&obj, tags::ERROR_COMMENT),
    })
}

/// Encode a command set, with its group length first.
fn encode(elements: Vec<DataElement<InMemDicomObject>>) -> Vec<u8> {
    let ts = IMPLICIT_VR_LITTLE_ENDIAN.erased();
    let body = InMemDicomObject::from_element_iter(elements.clone());
    let mut bytes = Vec::new();
    body.write_dataset_with_ts(&mut bytes, &ts)
        .expect("a command set of known elements encodes");
    let mut with_length = vec![DataElement::new(
        tags::COMMAND_GROUP_LENGTH,
        VR::UL,
        PrimitiveValue::from(bytes.len() as u32),
    )];
    with_length.extend(elements);
    let mut out = Vec::new();
    InMemDicomObject::from_element_iter(with_length)
        .write_dataset_with_ts(&mut out, &ts)
        .expect("a command set of known elements encodes");
    out
}

/// UIDs are padded to even length with a NUL.
fn uid(tag: Tag, value: &str) -> DataElement<InMemDicomObject> {
    let mut v = value.to_string();
    if v.len() % 2 == 1 {
        v.push('\0');
    }
    DataElement::new(tag, VR::UI, PrimitiveValue::from(v))
}

fn us(tag: Tag, value: u16) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::US, PrimitiveValue::from(value))
}

/// A C-ECHO-RQ.
pub fn echo_request(message_id: u16) -> Vec<u8> {
    encode(vec![
        uid(tags::AFFECTED_SOP_CLASS_UID, super::VERIFICATION),
        us(tags::COMMAND_FIELD, C_ECHO_RQ),
        us(tags::MESSAGE_ID, message_id),
        us(tags::COMMAND_DATA_SET_TYPE, NO_DATA_SET),
    ])
}

/// A C-STORE-RQ (priority medium) for `request`'s SOP class and instance.
pub fn store_request(request: &Command) -> Vec<u8> {
    encode(vec![
        uid(tags::AFFECTED_SOP_CLASS_UID, &request.sop_class),
        us(tags::COMMAND_FIELD, C_STORE_RQ),
        us(tags::MESSAGE_ID, request.message_id),
        us(tags::PRIORITY, 0),
        us(tags::COMMAND_DATA_SET_TYPE, 0x0000),
        uid(tags::AFFECTED_SOP_INSTANCE_UID, &request.sop_instance),
    ])
}

/// A C-FIND-RQ (priority medium) with an identifier following.
pub fn find_request(sop_class: &str, message_id: u16) -> Vec<u8> {
    query_request(C_FIND_RQ, sop_class, message_id)
}

/// A C-FIND-RQ or C-GET-RQ (priority medium) with an identifier following.
fn query_request(field: u16, sop_class: &str, message_id: u16) -> Vec<u8> {
    encode(vec![
        uid(tags::AFFECTED_SOP_CLASS_UID, sop_class),
        us(tags::COMMAND_FIELD, field),
        us(tags::MESSAGE_ID, message_id),
        us(tags::PRIORITY, 0),
        us(tags::COMMAND_DATA_SET_TYPE, 0x0000),
    ])
}

/// A C-MOVE-RQ (priority medium) to `destination`, with an identifier following.
pub fn move_request(sop_class: &str, message_id: u16, destination: &str) -> Vec<u8> {
    let mut ae = destination.to_string();
    if ae.len() % 2 == 1 {
        ae.push(' ');
    }
    encode(vec![
        uid(tags::AFFECTED_SOP_CLASS_UID, sop_class),
        us(tags::COMMAND_FIELD, C_MOVE_RQ),
        us(tags::MESSAGE_ID, message_id),
        DataElement::new(tags::MOVE_DESTINATION, VR::AE, PrimitiveValue::from(ae)),
        us(tags::PRIORITY, 0),
        us(tags::COMMAND_DATA_SET_TYPE, 0x0000),
    ])
}

/// A C-GET-RQ (priority medium) with an identifier following.
pub fn get_request(sop_class: &str, message_id: u16) -> Vec<u8> {
    query_request(C_GET_RQ, sop_class, message_id)
}

/// A P-DATA PDU carrying one whole command set.
pub fn command_pdu(context: u8, command: Vec<u8>) -> Pdu {
    Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: context,
            value_type: PDataValueType::Command,
            is_last: true,
            data: command,
        }],
    }
}

/// Receive PDUs until one command set is whole, and read it (a response
/// without a data set: C-ECHO-RSP, C-STORE-RSP).
pub fn receive_response<S: std::io::Read + std::io::Write + CloseSocket>(
    association: &mut ClientAssociation<S>,
) -> Result<Command, String> {
    let mut command = Vec::new();
    loop {
        match association.receive() {
            Ok(Pdu::PData { data }) => {
                for pdv in data {
                    if pdv.value_type != PDataValueType::Command {
                        continue;
                    }
                    command.extend_from_slice(&pdv.data);
                    if pdv.is_last {
                        return read(&command);
                    }
                }
            }
            Ok(other) => return Err(format!("unexpected {}", other.short_description())),
            Err(e) => {
                return Err(format!(
                    "no response: {}",
                    crate::dicom_file::bounded::error_chain(&e)
                ));
            }
        }
    }
}

/// The response to `request` (C-ECHO-RSP or C-STORE-RSP, or, for any
/// other command, a response with the request's field and the high bit
/// set) with `status`.
pub fn response(request: &Command, status: u16) -> Vec<u8> {
    let mut elements = Vec::new();
    if !request.sop_class.is_empty() {
        elements.push(uid(tags::AFFECTED_SOP_CLASS_UID, &request.sop_class));
    }
    elements.push(us(tags::COMMAND_FIELD, request.field | 0x8000));
    elements.push(us(tags::MESSAGE_ID_BEING_RESPONDED_TO, request.message_id));
    elements.push(us(tags::COMMAND_DATA_SET_TYPE, NO_DATA_SET));
    elements.push(us(tags::STATUS, status));
    if !request.sop_instance.is_empty() {
        elements.push(uid(tags::AFFECTED_SOP_INSTANCE_UID, &request.sop_instance));
    }
    encode(elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_with_their_group_length() {
        let rq = read(&echo_request(7)).unwrap();
        assert_eq!(rq.field, C_ECHO_RQ);
        assert_eq!(rq.message_id, 7);
        assert_eq!(rq.sop_class, crate::network::VERIFICATION);
        assert!(!rq.has_data_set);
        let store = Command {
            field: C_STORE_RQ,
            message_id: 3,
            message_id_responded: None,
            sop_class: "1.2.840.10008.5.1.4.1.1.2".into(),
            sop_instance: "1.2.3".into(),
            has_data_set: true,
            status: None,
            suboperations: [None; 4],
            error_comment: String::new(),
        };
        let bytes = response(&store, status::SUCCESS);
        let rsp = read(&bytes).unwrap();
        assert_eq!(rsp.field, C_STORE_RSP);
        assert_eq!(rsp.message_id_responded, Some(3));
        assert_eq!(rsp.sop_instance, "1.2.3");
        assert_eq!(rsp.status, Some(0));
        // The group length counts every byte after its own element.
        let length = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!(length as usize, bytes.len() - 12);
        assert!(read(&[1, 2, 3]).is_err());
    }
}
