//! The bounded reader (`dicom_file::parse`) reads every file of pydicom's
//! corpus exactly as dicom-rs's own reader does: the same data set and
//! meta group, or an error where dicom-rs errs too. Read whole and up to
//! the pixel data.

use dicom_dictionary_std::{tags, uids};
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTable;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

mod common;

/// dicom-rs's reading of a part 10 file (preamble optional), with the two
/// cases the engine reads differently from dicom-rs by design made as the
/// engine makes them: a data set written in implicit VR under an explicit
/// VR meta group, and a UN element of undefined length (refused).
fn dicom_rs(bytes: &[u8], until: Option<dicom_core::Tag>) -> Option<DefaultDicomObject> {
    if memchr::memmem::find(bytes, b"UN\0\0\xff\xff\xff\xff").is_some() {
        return None;
    }
    let start = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        128
    } else if bytes.starts_with(b"DICM") {
        0
    } else {
        return None; // raw data sets: dicom-rs has no reader of its own for them
    };
    let reader = &bytes[start..];
    let mut rest = reader;
    let meta = FileMetaTable::from_reader(&mut rest).ok()?;
    let ts = meta.transfer_syntax().trim_end_matches('\0').to_string();
    let declared_explicit = ts == uids::EXPLICIT_VR_LITTLE_ENDIAN
        || TransferSyntaxRegistry
            .get(&ts)
            .is_some_and(|t| t.is_encapsulated_pixel_data());
    let mut obj = if declared_explicit
        && rest.len() >= 8
        && u16::from_le_bytes([rest[0], rest[1]]) != 0xFFFE
        && dicom_core::VR::from_binary([rest[4], rest[5]]).is_none()
    {
        let implicit = TransferSyntaxRegistry.get(uids::IMPLICIT_VR_LITTLE_ENDIAN)?;
        let mut obj = InMemDicomObject::read_dataset_with_ts(rest, implicit).ok()?;
        if let Some(until) = until {
            obj.retain(|e| e.header().tag < until);
        }
        obj.with_exact_meta(meta)
    } else {
        let options = OpenFileOptions::new().read_preamble(ReadPreamble::Never);
        let options = match until {
            Some(t) => options.read_until(t),
            None => options,
        };
        options.from_reader(reader).ok()?
    };
    dicom_anonymizer::charset::decode_in_place(&mut obj);
    Some(obj)
}

/// The data set encoded in its file's transfer syntax (explicit VR little
/// endian for a deflated one), or why it cannot be.
fn encoded(obj: &DefaultDicomObject) -> Result<Vec<u8>, String> {
    let uid = obj.meta().transfer_syntax().trim_end_matches('\0');
    let uid = if uid == uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN {
        uids::EXPLICIT_VR_LITTLE_ENDIAN
    } else {
        uid
    };
    let ts = TransferSyntaxRegistry
        .get(uid)
        .ok_or("unknown transfer syntax")?;
    let mut out = Vec::new();
    obj.write_dataset_with_ts(&mut out, ts)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn every_corpus_file_reads_as_dicom_rs_reads_it() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let files = dicom_anonymizer::input_tree::files(&corpus).unwrap();
    let (mut same, mut both_refuse, mut checked) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for (path, key) in &files {
        let bytes = std::fs::read(path).unwrap();
        for until in [None, Some(tags::PIXEL_DATA)] {
            let ours = dicom_anonymizer::dicom_file::parse(&bytes, until);
            if dicom_anonymizer::dicom_file::sniff(&bytes).is_none() {
                continue; // not DICOM to either reader
            }
            let theirs = match std::panic::catch_unwind(|| dicom_rs(&bytes, until)) {
                Ok(Some(obj)) => Ok(obj),
                _ => Err(()),
            };
            checked += 1;
            match (ours, theirs) {
                (Ok(a), Ok(b)) => {
                    // (dicom-rs's `Length` never equals an undefined length,
                    // so data sets are compared by their encoding.)
                    if a.meta() != b.meta() || encoded(&a) != encoded(&b) {
                        disagreements.push(format!("{key} (until {until:?}): different content"));
                    } else {
                        same += 1;
                    }
                }
                (Err(_), Err(())) => both_refuse += 1,
                (Ok(_), Err(())) => {
                    // Raw data sets (no meta group) have no dicom-rs reader.
                    if !matches!(
                        dicom_anonymizer::dicom_file::sniff(&bytes),
                        Some(dicom_anonymizer::dicom_file::Form::Raw(_))
                    ) {
                        disagreements.push(format!("{key} (until {until:?}): only we read it"));
                    }
                }
                (Err(e), Ok(_)) => disagreements.push(format!(
                    "{key} (until {until:?}): only dicom-rs reads it: {e}"
                )),
            }
        }
    }
    eprintln!("{checked} reads compared: {same} the same, {both_refuse} refused by both");
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    assert!(same > 300, "the corpus was read ({same} agreements)");
}
