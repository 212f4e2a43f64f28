//! The streaming path: a file anonymized from its bytes, element by
//! element, without building its whole data set.
//!
//! It takes a small file (read whole, in one `read`) in explicit or
//! implicit VR little endian or explicit VR big endian (native or
//! encapsulated pixel data), or deflated (inflated, up to
//! [`MAX_INFLATED`], and deflated again as the whole data set's path
//! does), under the RSNA dialect, when nothing but the
//! header script and the validity gate needs the data set (no pixel
//! script, text detector, defacing or filter). Its top-level elements are
//! located by [`crate::dicom_file::walk`], and each is decided once:
//!
//! - dropped, when it is private or its tag has no rule;
//! - copied from the input as bytes, when its rule keeps it and its bytes
//!   are what dicom-rs would write for it again (a binary value, or ASCII
//!   text in a character set where ASCII is itself, of even length);
//! - otherwise decoded by dicom-rs, anonymized by
//!   [`rsna::anonymize_element`] (the same code the whole data set's path
//!   runs) and encoded by dicom-rs.
//!
//! The elements decoded (with the identity's, the character set and pixel
//! representation that decoding depends on, and the attributes
//! `QUARANTINE_INVALID` compares) are decoded together, in file order, in
//! one read of their bytes, and encoded together in one write, with the
//! elements the RSNA tool adds (PatientIdentityRemoved, the method codes,
//! the `RSNA` block); the output is the copied and encoded elements merged
//! in tag order. It is the same, byte for byte, as the whole data set's
//! path writes (`tests/anonymize_streaming.rs` runs both over a corpus and
//! its mutations). Anything the walk refuses, or elements dicom-rs will
//! not decode or encode, send the file to the whole data set's path, which
//! then says what is wrong with it.

use std::ops::Range;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::header::Header;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags, uids};
use dicom_encoding::TransferSyntax;
use dicom_encoding::transfer_syntax::{Codec, Endianness};
use dicom_object::InMemDicomObject;

use super::file::{FileOutcome, output_path, required_kept};
use super::quarantine::Reason;
use super::{Engine, Options};
use crate::dialect::rsna::RsnaOperation;
use crate::dicom_file::walk::{self, Encoding, Located};
use crate::dicom_file::{self, Form, bounded};
use crate::input_tree;
use crate::interpreter::rsna::{self, RsnaRules, Subject};
use crate::interpreter::values::{is_text_vr, resolve_unknown_vrs, string_of};

/// What becomes of one top-level element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Private, or no rule: not written.
    Drop,
    /// Kept, and copied from the input as bytes.
    Copy,
    /// Decoded, anonymized and encoded.
    Decode,
}

/// A file ready for the streaming path: its bytes, where its top-level
/// elements are and what becomes of each, and the elements it decodes.
pub(super) struct Prepared {
    bytes: Vec<u8>,
    /// Where the data set starts in `bytes`.
    data_start: usize,
    /// A deflated data set, inflated: the data set read instead of
    /// `bytes[data_start..]`.
    inflated: Option<Vec<u8>>,
    /// The file's transfer syntax, named in the output's meta group.
    file_ts: &'static TransferSyntax,
    /// The data set's encoding: the file's, but explicit VR little endian
    /// for a deflated one.
    ts: &'static TransferSyntax,
    encoding: Encoding,
    elements: Vec<Located>,
    decisions: Vec<Decision>,
    /// Every element decided [`Decision::Decode`], the identity's, the
    /// character set and pixel representation (decoding the others
    /// depends on them) and, under `QUARANTINE_INVALID`, the attributes
    /// the object's IOD requires: decoded together, in file order, as the
    /// whole data set's path decodes them.
    decoded: InMemDicomObject,
    /// `QUARANTINE_INVALID`'s note of the input, when it judges the object.
    gate: Option<crate::validity::gate::Before>,
}

/// The most a deflated data set taking the streaming path may inflate to
/// (a larger one takes the whole data set's path, with its own bound).
const MAX_INFLATED: u64 = 16 << 20;

/// The elements read for the file's identity (as the whole data set's
/// path reads them), and the ones whose anonymized values the batch
/// needs (the meta group, the RSNA layout, the required attributes).
const IDENTITY: [Tag; 7] = [
    tags::SOP_CLASS_UID,
    tags::SOP_INSTANCE_UID,
    tags::STUDY_DATE,
    tags::ACCESSION_NUMBER,
    tags::PATIENT_ID,
    tags::STUDY_INSTANCE_UID,
    tags::SERIES_INSTANCE_UID,
];

/// `bytes` ready for the streaming path under `rules` (`gate`: with
/// `QUARANTINE_INVALID`); `Err(bytes)` when the file does not qualify
/// (read it whole). The identity is read from `decoded` ([`Prepared::values`]).
pub(super) fn prepare(
    bytes: Vec<u8>,
    rules: &RsnaRules,
    gate: bool,
) -> Result<Box<Prepared>, Vec<u8>> {
    let Some(Found {
        data_start,
        file_ts,
        ts,
        inflated,
        elements,
        ascii_text,
    }) = located(&bytes, rules)
    else {
        return Err(bytes);
    };
    let data = inflated.as_deref().unwrap_or(&bytes[data_start..]);
    let decisions: Vec<Decision> = elements
        .iter()
        .map(|l| decide(l, data, rules, ascii_text))
        .collect();
    // The attributes the gate compares, by the object's class as written.
    let table = crate::validity::table();
    let iod = match gate {
        true => elements
            .iter()
            .find(|l| l.tag == tags::SOP_CLASS_UID)
            .and_then(|l| std::str::from_utf8(l.value_bytes(data)).ok())
            .and_then(|class| table.iod_of(class)),
        false => None,
    };
    let required = iod.map_or(&[][..], |iod| table.required_in(iod));
    let mut subset = Vec::new();
    for (l, d) in elements.iter().zip(&decisions) {
        if *d == Decision::Decode
            || IDENTITY.contains(&l.tag)
            || l.tag == tags::SPECIFIC_CHARACTER_SET
            || l.tag == tags::PIXEL_REPRESENTATION
            || required.iter().any(|(t, _)| *t == l.tag)
        {
            subset.extend_from_slice(l.bytes(data));
        }
    }
    let Ok(mut decoded) = bounded::read_dataset(&subset, ts, None, None) else {
        return Err(bytes);
    };
    crate::charset::decode_in_place(&mut decoded);
    // As the whole data set's path reads a file.
    resolve_unknown_vrs(&mut decoded);
    let gate = match gate {
        true => {
            // The class read from the bytes must be the one decoded.
            let class = string_of(&decoded, tags::SOP_CLASS_UID);
            if class.and_then(|c| table.iod_of(&c)) != iod {
                return Err(bytes);
            }
            crate::validity::gate::before(&decoded)
        }
        false => None,
    };
    Ok(Box::new(Prepared {
        data_start,
        inflated,
        file_ts,
        encoding: encoding_of(ts),
        ts,
        elements,
        decisions,
        decoded,
        gate,
        bytes,
    }))
}

/// What becomes of an element under `rules`.
fn decide(l: &Located, data: &[u8], rules: &RsnaRules, ascii_text: bool) -> Decision {
    if l.tag.group() % 2 == 1 {
        return Decision::Drop;
    }
    let Some(rule) = rules.get(l.tag) else {
        return Decision::Drop;
    };
    if !IDENTITY.contains(&l.tag)
        && matches!(rule.op, RsnaOperation::Keep | RsnaOperation::Unrecognised)
        && copyable(l, data, ascii_text)
    {
        Decision::Copy
    } else {
        Decision::Decode
    }
}

/// What [`located`] finds in a file that qualifies.
struct Found {
    /// Where the data set starts in the file.
    data_start: usize,
    /// The file's transfer syntax.
    file_ts: &'static TransferSyntax,
    /// The data set's: the file's, or explicit VR little endian once
    /// inflated.
    ts: &'static TransferSyntax,
    /// The data set inflated, when the file's is deflated.
    inflated: Option<Vec<u8>>,
    elements: Vec<Located>,
    /// Whether ASCII text is copied as bytes.
    ascii_text: bool,
}

/// Where a file's data set and its elements are, when the file qualifies.
fn located(bytes: &[u8], rules: &RsnaRules) -> Option<Found> {
    let meta_at = match dicom_file::sniff(&bytes[..bytes.len().min(132)])? {
        Form::Part10 => 128,
        Form::NoPreamble => 0,
        Form::Raw(_) => return None,
    };
    let opening = dicom_file::open_meta(bytes, meta_at).ok()?;
    let file_ts = opening.ts;
    // A deflated data set is inflated (within a bound, else it is the
    // whole-file reader's) and read as explicit VR little endian, as the
    // whole-file reader reads it.
    let (inflated, ts) = match file_ts.codec() {
        Codec::Dataset(Some(_)) => (
            Some(dicom_file::inflate_within(opening.data, MAX_INFLATED).ok()?),
            dicom_file::registered(uids::EXPLICIT_VR_LITTLE_ENDIAN).ok()?,
        ),
        Codec::Dataset(None) => return None,
        _ if opening.written_implicit => return None,
        _ => (None, file_ts),
    };
    let rest = inflated.as_deref().unwrap_or(opening.data);
    // The whole-file reader decides about these bytes (they may be in
    // the pixel data).
    if memchr::memmem::find(rest, dicom_file::UN_UNDEFINED_LENGTH).is_some() {
        return None;
    }
    let data_start = opening.origin as usize;
    let elements = walk::elements(rest, encoding_of(ts)).ok()?;
    // The character set must reach the output as it is, and not switch
    // to code extensions (which the whole data set's path transcodes).
    let mut ascii_text = true;
    if let Some(charset) = elements
        .iter()
        .find(|l| l.tag == tags::SPECIFIC_CHARACTER_SET)
    {
        let kept = rules
            .get(tags::SPECIFIC_CHARACTER_SET)
            .is_some_and(|r| matches!(r.op, RsnaOperation::Keep | RsnaOperation::Unrecognised));
        let value = charset.value_bytes(rest);
        if !kept || charset.vr != VR::CS || !value.is_ascii() || value.contains(&b'\\') {
            return None;
        }
        let name = std::str::from_utf8(value).ok()?.trim_matches([' ', '\0']);
        ascii_text = matches!(name, "" | "ISO_IR 6" | "ISO_IR 100" | "ISO_IR 192");
    }
    Some(Found {
        data_start,
        file_ts,
        ts,
        inflated,
        elements,
        ascii_text,
    })
}

/// How a transfer syntax encodes its data set (deflate aside): every
/// one is explicit VR little endian but implicit VR little endian and
/// explicit VR big endian.
fn encoding_of(ts: &TransferSyntax) -> Encoding {
    if ts.endianness() == Endianness::Big {
        Encoding::ExplicitBig
    } else if ts.uid() == uids::IMPLICIT_VR_LITTLE_ENDIAN {
        Encoding::ImplicitLittle
    } else {
        Encoding::ExplicitLittle
    }
}

impl Prepared {
    /// The file read whole, for the whole data set's path: as its first
    /// step reads it (UN VRs the dictionary knows resolved).
    pub(super) fn into_object(
        self,
    ) -> Result<dicom_object::DefaultDicomObject, dicom_file::ReadError> {
        let mut obj = dicom_file::parse(&self.bytes, None)?;
        resolve_unknown_vrs(&mut obj);
        Ok(obj)
    }

    /// The elements decoded, as the file arrived (its identity).
    pub(super) fn values(&self) -> &InMemDicomObject {
        &self.decoded
    }

    fn data(&self) -> &[u8] {
        self.inflated
            .as_deref()
            .unwrap_or(&self.bytes[self.data_start..])
    }
}

/// Whether dicom-rs, reading an element kept as it is, would write the
/// same bytes again.
fn copyable(l: &Located, data: &[u8], ascii_text: bool) -> bool {
    if l.undefined || matches!(l.vr, VR::SQ | VR::UN) {
        return false;
    }
    // US or SS by the pixel representation: dicom-rs may rewrite the VR.
    if StandardDataDictionary
        .by_tag(l.tag)
        .is_some_and(|e| matches!(e.vr(), VirtualVr::Xs))
    {
        return false;
    }
    if is_text_vr(l.vr) || matches!(l.vr, VR::DS | VR::IS) {
        ascii_text && l.value_bytes(data).iter().all(|&b| b < 0x80 && b != 0x1B)
    } else {
        true
    }
}

/// What the streaming path came to: the outcome, or `None` when the file
/// must take the whole data set's path after all.
pub(super) fn anonymize(
    prepared: &mut Prepared,
    rel: &str,
    subject: &Subject,
    engine: &Engine,
    rules: &RsnaRules,
    options: &Options,
) -> Result<Option<FileOutcome>, (Reason, String)> {
    let project = &engine.project;
    let storage = |m: String| (Reason::StorageError, m);
    let mut obj = std::mem::replace(&mut prepared.decoded, InMemDicomObject::new_empty());
    let prepared = &*prepared;
    let data = prepared.data();
    let mut uids = Vec::new();
    // Each element in tag order, as the whole data set's path walks them;
    // a missing PatientID is added where it belongs (its rule applies to
    // it as to any). `None`: an element written from `obj`.
    let mut pieces: Vec<(Tag, Option<Range<usize>>)> =
        Vec::with_capacity(prepared.elements.len() + 8);
    let mut order: Vec<(Tag, Decision, Option<&Located>)> = prepared
        .elements
        .iter()
        .zip(&prepared.decisions)
        .map(|(l, d)| (l.tag, *d, Some(l)))
        .collect();
    if !order.iter().any(|(t, _, _)| *t == tags::PATIENT_ID) {
        let at = order.partition_point(|(t, _, _)| *t < tags::PATIENT_ID);
        let decision = match rules.get(tags::PATIENT_ID) {
            Some(_) => Decision::Decode,
            None => Decision::Drop,
        };
        order.insert(at, (tags::PATIENT_ID, decision, None));
    }
    for (tag, decision, located) in order {
        match (decision, located) {
            (Decision::Copy, Some(l)) => pieces.push((tag, Some(l.start..l.end))),
            (Decision::Drop, _) | (Decision::Copy, None) => {
                obj.remove_element(tag);
            }
            (Decision::Decode, _) => {
                rsna::anonymize_element(&mut obj, tag, rules, project, subject, &mut uids)
                    .map_err(|e| storage(e.to_string()))?;
                if obj.get(tag).is_some() {
                    pieces.push((tag, None));
                }
            }
        }
    }
    // The RSNA tool's own elements replace any of the same tags.
    let added = rsna::deidentification_elements(project);
    pieces.retain(|(tag, _)| !added.iter().any(|e| e.tag() == *tag));
    for element in added {
        pieces.push((element.tag(), None));
        obj.put(element);
    }
    pieces.sort_by_key(|(tag, _)| *tag);
    required_kept(&obj)?;
    let out_rel = output_path(&obj, prepared.gate.as_ref(), rel, project, options)?;
    // Everything not copied, encoded by dicom-rs at once.
    let mut encoded = Vec::new();
    if obj
        .write_dataset_with_ts(&mut encoded, prepared.ts)
        .is_err()
    {
        return Ok(None);
    }
    let Ok(found) = walk::elements(&encoded, prepared.encoding) else {
        return Ok(None);
    };
    let mut written = Vec::with_capacity(pieces.len());
    for (tag, piece) in pieces {
        let bytes = match piece {
            Some(range) => &data[range],
            None => match found.binary_search_by_key(&tag, |l| l.tag) {
                Ok(i) => found[i].bytes(&encoded),
                Err(_) => return Ok(None),
            },
        };
        written.push(bytes);
    }
    let meta = dicom_file::fresh_meta(&obj, prepared.file_ts.uid()).map_err(storage)?;
    let target = options.output.join(&out_rel);
    let staged = dicom_file::stage(&target, |out| {
        dicom_file::write_file_start(&meta, out)?;
        match prepared.inflated {
            // Deflated again as the whole data set's path deflates it.
            Some(_) => {
                use std::io::Write as _;
                let mut deflate = dicom_file::deflater(out);
                for bytes in &written {
                    deflate.write_all(bytes)?;
                }
                deflate.finish().map(drop)
            }
            None => {
                for bytes in &written {
                    out.write_all(bytes)?;
                }
                Ok(())
            }
        }
    })
    .map(|staged| dicom_file::Staged {
        streamed: true,
        ..staged
    })
    .map_err(|e| storage(format!("cannot write the output: {e}")))?;
    Ok(Some(FileOutcome::Written(
        input_tree::key_of(&out_rel),
        uids,
        Vec::new(),
        None,
        staged,
    )))
}
