//! One file's way through the batch: read and judged (`scan`), then
//! anonymized, defaced where planned, checked (`QUARANTINE_INVALID`) and
//! staged under a temporary name (`anonymize_file`).

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::layout::{self, Layout};
use super::quarantine::Reason;
use super::{Engine, FilterAction, FilterStage, Interpreter, Options, stream, tail_pixels};
use crate::deface::pipeline::Defacing;
use crate::dicom_file::{self, ReadError};
use crate::filter::condition::Values;
use crate::input_tree;
use crate::interpreter::ctp::{self, Stop};
use crate::interpreter::rsna::{self, Subject};
use crate::interpreter::values::string_of;
use crate::store::Identity;

/// The attributes a file needs to be accepted (the reference's
/// `required_attributes`).
pub const REQUIRED: [(dicom_core::Tag, &str); 4] = [
    (tags::SOP_CLASS_UID, "SOPClassUID"),
    (tags::SOP_INSTANCE_UID, "SOPInstanceUID"),
    (tags::STUDY_INSTANCE_UID, "StudyInstanceUID"),
    (tags::SERIES_INSTANCE_UID, "SeriesInstanceUID"),
];

/// The required attributes `obj` lacks or has empty.
pub(super) fn missing_required(obj: &InMemDicomObject) -> Vec<&'static str> {
    REQUIRED
        .iter()
        .filter(|(tag, _)| string_of(obj, *tag).is_none_or(|v| v.is_empty()))
        .map(|(_, name)| *name)
        .collect()
}

/// The first step's result for one file.
pub(super) enum Scanned {
    NotDicom,
    Unreadable(String),
    Quarantine(Reason, String),
    /// The identity, and the file's content when it is small enough to
    /// keep (so it is read once).
    Accepted(Identity, Option<Read>),
    /// The filter script (`--filter`) does not pass it, and it is skipped.
    Filtered,
}

/// A small file's content, kept from the first step for the third.
pub(super) enum Read {
    /// Parsed whole.
    Object(Box<dicom_object::DefaultDicomObject>),
    /// Located for the streaming path ([`stream`]).
    Stream(Box<stream::Prepared>),
}

/// Files up to this size are read whole by the first step and kept for
/// the third; larger ones are read up to their pixel data, then again.
const KEEP_PARSED: u64 = 1 << 20;

/// A file's content when it is at most [`KEEP_PARSED`] bytes long, else
/// `None`: one open, and its size from the open file (not a second look
/// up of its path).
fn read_small(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > KEEP_PARSED {
        return Ok(None);
    }
    // Into a buffer one byte longer than its size, so that the read that
    // finds the end finds it in place (`File::read_to_end` would ask the
    // file its size and position again).
    let mut bytes = vec![0; size as usize + 1];
    let mut filled = 0;
    loop {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if filled == bytes.len() {
            // It grew since its size was read: the rest as it comes, up
            // to one byte past the limit (then it is read as a large file).
            let room = KEEP_PARSED + 1 - filled as u64;
            (&mut file).take(room).read_to_end(&mut bytes)?;
            return Ok((bytes.len() as u64 <= KEEP_PARSED).then_some(bytes));
        }
    }
    bytes.truncate(filled);
    Ok(Some(bytes))
}

/// Read and judge one file. With `stream` (the RSNA dialect's rules, and
/// whether `QUARANTINE_INVALID` applies, when nothing else needs the data
/// set), a small file that qualifies is prepared for the streaming path
/// instead of parsed.
pub(super) fn scan(
    path: &Path,
    rel: &str,
    rsna: bool,
    filter: Option<&FilterStage>,
    stream: Option<(&rsna::RsnaRules, bool)>,
) -> Scanned {
    let bytes = match read_small(path) {
        Ok(bytes) => bytes,
        Err(e) => return Scanned::Unreadable(e.to_string()),
    };
    let mut whole = bytes.is_some();
    let bytes = match (bytes, stream) {
        (Some(bytes), Some((rules, gate))) => match stream::prepare(bytes, rules, gate) {
            Ok(prepared) => {
                return match judge(prepared.values(), rel, rsna) {
                    Ok(identity) => Scanned::Accepted(identity, Some(Read::Stream(prepared))),
                    Err((reason, why)) => Scanned::Quarantine(reason, why),
                };
            }
            Err(bytes) => Some(bytes),
        },
        (bytes, _) => bytes,
    };
    let read = match bytes {
        Some(bytes) => match dicom_file::parse(&bytes, None) {
            // A file broken after its header is judged on its header first
            // (a duplicate is skipped, not quarantined), as the reference does.
            Err(ReadError::Malformed(_)) => {
                whole = false;
                dicom_file::parse(&bytes, Some(tags::PIXEL_DATA))
            }
            other => other,
        },
        // Read from a prefix where the file allows: not held whole.
        None => dicom_file::tail::open_until_pixel_data(path),
    };
    let mut obj = match read {
        Ok(obj) => obj,
        Err(ReadError::NotDicom) => return Scanned::NotDicom,
        Err(ReadError::Io(e)) => return Scanned::Unreadable(e.to_string()),
        Err(e @ ReadError::Malformed(_)) => {
            return Scanned::Quarantine(Reason::DicomReadError, e.to_string());
        }
    };
    // As pydicom does, a UN element the dictionary knows is read with its VR.
    crate::interpreter::values::resolve_unknown_vrs(&mut obj);
    // CTP's DicomFilter sees the file as it arrived.
    if let Some(stage) = filter {
        let meta = ctp::elements::meta_values(obj.meta());
        let values = Values {
            ds: &obj,
            meta: &meta,
        };
        if !stage.filter.passes(&values) {
            return match stage.action {
                FilterAction::Skip => Scanned::Filtered,
                FilterAction::Quarantine => Scanned::Quarantine(
                    Reason::Filtered,
                    format!("not passed by the filter {}", stage.filter.path.display()),
                ),
            };
        }
    }
    match judge(&obj, rel, rsna) {
        Ok(identity) => Scanned::Accepted(identity, whole.then(|| Read::Object(Box::new(obj)))),
        Err((reason, why)) => Scanned::Quarantine(reason, why),
    }
}

/// The file's identity, from its data set as read (`obj`), unless it
/// lacks an attribute the RSNA dialect requires.
fn judge(obj: &InMemDicomObject, rel: &str, rsna: bool) -> Result<Identity, (Reason, String)> {
    let missing = missing_required(obj);
    if rsna && !missing.is_empty() {
        return Err((
            Reason::MissingAttributes,
            format!("missing {}", missing.join(", ")),
        ));
    }
    let text = |tag| {
        obj.get(tag).map(|e| {
            e.value()
                .to_str()
                .map(|s| s.trim_end_matches([' ', '\0']).to_string())
                .unwrap_or_default()
        })
    };
    Ok(Identity {
        source: rel.to_string(),
        patient_id: text(tags::PATIENT_ID),
        study_date: text(tags::STUDY_DATE),
        study_uid: string_of(obj, tags::STUDY_INSTANCE_UID).unwrap_or_default(),
        series_uid: string_of(obj, tags::SERIES_INSTANCE_UID).unwrap_or_default(),
        sop_instance_uid: string_of(obj, tags::SOP_INSTANCE_UID).unwrap_or_default(),
        accession_number: text(tags::ACCESSION_NUMBER),
    })
}

/// What anonymizing one file came to.
pub(super) enum FileOutcome {
    /// Written under a temporary name: the output's relative path, the
    /// UIDs mapped, warnings, what pixel cleaning did, and the file to
    /// sync and rename.
    Written(
        String,
        rsna::UidLog,
        Vec<String>,
        Option<String>,
        dicom_file::Staged,
    ),
    /// A CTP script's `@skip()`.
    Skipped(String),
}

/// Anonymize one accepted file and write it.
pub(super) fn anonymize_file(
    path: &Path,
    rel: &str,
    subject: Option<&Subject>,
    parsed: Option<Read>,
    engine: &Engine,
    options: &Options,
) -> Result<FileOutcome, (Reason, String)> {
    let defaced = engine
        .deface
        .as_ref()
        .is_some_and(|plan| plan.get(path).is_some());
    let parsed = match parsed {
        Some(Read::Stream(mut prepared)) => {
            if let (false, Interpreter::Rsna(rules), Some(subject)) =
                (defaced, &engine.interpreter, subject)
                && let Some(outcome) =
                    stream::anonymize(&mut prepared, rel, subject, engine, rules, options)?
            {
                return Ok(outcome);
            }
            // The whole data set's path, from the bytes already read.
            Some(Box::new(
                prepared
                    .into_object()
                    .map_err(|e| (Reason::DicomReadError, e.to_string()))?,
            ))
        }
        Some(Read::Object(obj)) => Some(obj),
        None => None,
    };
    let large = std::fs::metadata(path).is_ok_and(|m| m.len() >= options.tail_copy_min);
    if large
        && let Ok(Some((file, tail))) = dicom_file::tail::open_header(path)
        && let Some(outcome) =
            anonymize_object(path, rel, subject, file, Some(&tail), engine, options)?
    {
        return Ok(outcome);
    }
    // Small files, files whose pixel data cannot be copied as bytes, and
    // scripts that change the pixel data: the whole data set.
    let file = match parsed {
        Some(obj) => *obj,
        None => {
            dicom_file::open(path, None).map_err(|e| (Reason::DicomReadError, e.to_string()))?
        }
    };
    anonymize_object(path, rel, subject, file, None, engine, options)
        .map(|outcome| outcome.expect("the whole data set is always written"))
}

/// Anonymize one data set and write it. With `tail`, the data set was read
/// up to its pixel data, which is copied from the input after the rest is
/// written; `None` when the script changed the pixel data (the caller reads
/// the whole file instead).
fn anonymize_object(
    path: &Path,
    rel: &str,
    subject: Option<&Subject>,
    file: dicom_object::DefaultDicomObject,
    tail: Option<&dicom_file::tail::Tail>,
    engine: &Engine,
    options: &Options,
) -> Result<Option<FileOutcome>, (Reason, String)> {
    let storage = |m: String| (Reason::StorageError, m);
    let mut ts = file.meta().transfer_syntax().to_string();
    let meta = ctp::elements::meta_values(file.meta());
    let mut obj = file.into_inner();
    // CTP's DicomPixelAnonymizer picks the signature on the file as it
    // arrived, before the header script.
    let signature = engine.pixel_script.as_ref().and_then(|script| {
        let values = Values {
            ds: &obj,
            meta: &meta,
        };
        script
            .matching(&values)
            .filter(|(_, s)| !s.regions.is_empty())
            .map(|(n, s)| (n, s.clone()))
    });
    // The text detector decides on the file as it arrived, too.
    let searched = engine.text.as_ref().and_then(|stage| {
        stage.applies(&obj, tail.is_some()).map(|why| {
            (
                stage,
                why,
                string_of(&obj, tags::MODALITY).unwrap_or_default(),
            )
        })
    });
    if let Some(tail) = tail {
        if (signature.is_some() || searched.is_some()) && options.pixel_preview.is_some() {
            // A preview needs the frames: the whole data set.
            return Ok(None);
        }
        obj.put(dicom_file::tail::probe(tail));
    }
    let mut uids = Vec::new();
    let mut warnings = Vec::new();
    let before = if engine.valid_output {
        crate::validity::gate::before(&obj)
    } else {
        None
    };
    match (&engine.interpreter, subject) {
        (Interpreter::Rsna(rules), Some(subject)) => {
            rsna::anonymize(&mut obj, rules, &engine.project, subject, &mut uids)
                .map_err(|e| storage(e.to_string()))?;
            // The reference cannot store a data set that lost a required UID.
            required_kept(&obj)?;
        }
        (Interpreter::Rsna(_), None) => return Err(storage("no captured identity".into())),
        (Interpreter::Ctp(ctp_engine), _) => {
            let tables = ctp::Tables {
                lookup: &ctp_engine.lookup,
                integers: &ctp_engine.integers,
            };
            match ctp::anonymize(&mut obj, &meta, &ctp_engine.script, &tables) {
                Ok(w) => warnings = w,
                Err(Stop::Skip(m)) => return Ok(Some(FileOutcome::Skipped(m))),
                Err(Stop::Quarantine(m)) => return Err((Reason::ScriptQuarantine, m)),
            }
        }
    }
    let mut cleaned = None;
    let mut preview = None;
    // Large native files: the regions are blanked frame by frame as the
    // pixel data are copied (see below); the header says so now.
    let mut streamed = None;
    // Large files: the frames searched are read from the file, and the
    // pixel data cleaned as they are copied (see `tail_pixels`).
    let mut framewise = None;
    if let Some(tail) = tail
        && (signature.is_some() || searched.is_some())
    {
        let Some(planned) = tail_pixels::plan(
            path,
            tail,
            &mut obj,
            &ts,
            signature.as_ref().map(|(n, s)| (*n, s)),
            searched
                .as_ref()
                .map(|(stage, why, modality)| (*stage, why.as_str(), modality.as_str())),
        ) else {
            // The whole data set's path cleans it, or says why not.
            return Ok(None);
        };
        cleaned = planned.cleaned;
        if let Some(t) = planned.transfer_syntax {
            ts = t;
        }
        match planned.plan {
            tail_pixels::Plan::Copy => {}
            tail_pixels::Plan::Blank(blanker) => streamed = Some(blanker),
            tail_pixels::Plan::Framewise(cleaner, fragments) => {
                framewise = Some((cleaner, fragments));
            }
        }
    } else if signature.is_some() || searched.is_some() {
        let mut regions = Vec::new();
        let mut to_inpaint = Vec::new();
        let mut said = Vec::new();
        if let Some((n, signature)) = &signature {
            regions.extend_from_slice(&signature.regions);
            said.push(format!("signature {} (line {})", n + 1, signature.line));
        }
        if let Some((stage, why, modality)) = &searched {
            let fail = |e: String| {
                (
                    Reason::PixelCleanError,
                    format!("searched for burned-in text ({why}), but {e}"),
                )
            };
            let found = crate::pixel::text::search(
                &stage.models,
                &stage.whitelist,
                &mut obj,
                &ts,
                modality,
            )
            .map_err(fail)?;
            if !found.regions.is_empty() {
                said.push(tail_pixels::text_found(why, &found));
            }
            if stage.cleaning == crate::pixel::text::Cleaning::Inpaint {
                to_inpaint = found.regions;
            } else {
                regions.extend(found.regions);
            }
        }
        let result = if regions.is_empty() && to_inpaint.is_empty() {
            Ok(None)
        } else {
            // The signature's regions are blanked (the text's too, unless
            // they are inpainted after).
            crate::pixel::clean(&mut obj, &ts, &regions).and_then(|cleaned| {
                if to_inpaint.is_empty() {
                    return Ok(cleaned);
                }
                let o = crate::pixel::inpaint(&mut obj, &to_inpaint)?;
                said.push(format!(
                    "{} line(s) inpainted, {} blanked (uneven background)",
                    o.inpainted, o.blanked
                ));
                regions.extend_from_slice(&to_inpaint);
                Ok(cleaned)
            })
        };
        match result {
            Ok(Some(c)) => {
                ts = c.transfer_syntax.clone();
                if options.pixel_preview.is_some() {
                    preview = crate::pixel::preview::render(&obj, &regions);
                    if preview.is_none() {
                        warnings.push("no pixel preview: this pixel layout is not rendered".into());
                    }
                }
                cleaned = Some(format!(
                    "{}: regions {} in every frame; {}",
                    said.join("; "),
                    crate::pixel::script::regions_text(&regions),
                    c.describe()
                ));
            }
            Ok(None) => {}
            Err(e) => {
                return Err((
                    Reason::PixelCleanError,
                    match &signature {
                        None => format!(
                            "burned-in text was found, but the pixels cannot be cleaned: {e}"
                        ),
                        Some((n, signature)) => format!(
                            "signature {} (line {}) of {} matches, but the pixels cannot be cleaned: {e}",
                            n + 1,
                            signature.line,
                            engine
                                .pixel_script
                                .as_ref()
                                .map_or_else(String::new, |s| s.path.display().to_string())
                        ),
                    },
                ));
            }
        }
    }
    // Large native files: the face is removed frame by frame as the pixel
    // data are copied (see below); the header says so now.
    let mut defaced = None;
    match engine.deface.as_ref().and_then(|plan| plan.get(path)) {
        Some(Defacing::Edit(edit)) => match tail {
            Some(tail) => {
                if streamed.is_some()
                    || framewise.is_some()
                    || tail.encapsulated
                    || !dicom_file::tail::is_probe(&obj, tail)
                {
                    // Cleaned and defaced, compressed, or without pixel
                    // data now: the whole data set's path.
                    return Ok(None);
                }
                let Some(bytes) = edit.on_bytes(&obj, tail.vr, tail.explicit, tail.len) else {
                    return Ok(None);
                };
                crate::deface::edit::mark(&mut obj);
                defaced = Some(bytes);
            }
            None => {
                ts = crate::deface::edit::apply(&mut obj, ts.trim_end_matches('\0'), edit)
                    .map_err(|e| (Reason::DefaceError, e))?;
            }
        },
        Some(Defacing::Refused(why)) => return Err((Reason::DefaceError, why.clone())),
        None => {}
    }
    let out_rel = output_path(&obj, before.as_ref(), rel, &engine.project, options)?;
    if let Some(tail) = tail {
        if !dicom_file::tail::is_probe(&obj, tail) {
            return Ok(None);
        }
        obj.remove_element(tags::PIXEL_DATA);
    }
    if let (Some(dir), Some((width, height, rgb))) = (&options.pixel_preview, preview) {
        let mut name = out_rel.clone().into_os_string();
        name.push(".png");
        let png = crate::png::encode(width, height, 3, &rgb);
        dicom_file::write_private_atomically(&dir.join(name), |w| w.write_all(&png))
            .map_err(|e| storage(format!("cannot write its pixel preview: {e}")))?;
    }
    let meta = dicom_file::fresh_meta(&obj, &ts).map_err(storage)?;
    let file = obj.with_exact_meta(meta);
    let target = options.output.join(&out_rel);
    let apply = |n: usize, unit: &mut [u8]| {
        if let Some(b) = &streamed {
            b.blank_unit(n, unit);
        }
        if let Some(d) = &defaced {
            d.apply(n, unit);
        }
    };
    // At most one of the two (a file both cleaned and defaced is read
    // whole).
    let units = streamed
        .as_ref()
        .map(|b| (b.unit_bytes(), b.units()))
        .or_else(|| defaced.as_ref().map(|d| (d.frame_bytes(), d.frames())));
    let edit = units.map(|(unit_bytes, units)| dicom_file::tail::UnitEdit {
        unit_bytes,
        units,
        apply: &apply,
    });
    let staged = match (tail, framewise) {
        (Some(_), Some((cleaner, frames))) => {
            let decode = |n: usize, fragments: Vec<Vec<u8>>| {
                cleaner.frame(n, fragments).map_err(std::io::Error::other)
            };
            let plan = dicom_file::tail::FrameDecode {
                frames,
                frame_bytes: cleaner.frame_bytes(),
                decode: &decode,
            };
            match dicom_file::tail::stage_decoded(&target, &file, path, &plan) {
                Ok(staged) => Ok(staged),
                // A frame that does not decode as the first did: the whole
                // data set's path decodes them all, or says why not.
                Err(_) => return Ok(None),
            }
        }
        (Some(tail), None) => {
            dicom_file::tail::stage_with_tail(&target, &file, path, tail, edit.as_ref())
        }
        (None, _) => dicom_file::stage_dicom(&target, &file),
    }
    .map_err(|e| storage(format!("cannot write the output: {e}")))?;
    Ok(Some(FileOutcome::Written(
        input_tree::key_of(&out_rel),
        uids,
        warnings,
        cleaned,
        staged,
    )))
}

/// The reference cannot store a data set that lost a required UID.
pub(super) fn required_kept(obj: &InMemDicomObject) -> Result<(), (Reason, String)> {
    let missing = missing_required(obj);
    if missing.is_empty() {
        return Ok(());
    }
    Err((
        Reason::StorageError,
        format!(
            "the script removes required attributes: {}",
            missing.join(", ")
        ),
    ))
}

/// Where an anonymized object goes under the output (its relative path by
/// the layout), once it passes `QUARANTINE_INVALID`'s comparison with the
/// input (`before`), unless that path is one the output keeps for itself.
pub(super) fn output_path(
    obj: &InMemDicomObject,
    before: Option<&crate::validity::gate::Before>,
    rel: &str,
    project: &rsna::Project,
    options: &Options,
) -> Result<std::path::PathBuf, (Reason, String)> {
    if let Some(before) = before {
        let broken = before.violations(obj);
        if !broken.is_empty() {
            return Err((
                Reason::InvalidOutput,
                format!(
                    "the script would make the object invalid: {}",
                    broken.join(", ")
                ),
            ));
        }
    }
    let value = |tag| string_of(obj, tag).filter(|v| !v.is_empty());
    let out_rel = match options.layout {
        Layout::Preserve => input_tree::rel_path(rel),
        Layout::Rsna => layout::rsna_path(
            &value(tags::PATIENT_ID)
                .unwrap_or_else(|| crate::functions::rsna::ptid::format(&project.site_id, 0)),
            &value(tags::STUDY_INSTANCE_UID).unwrap_or_default(),
            &value(tags::SERIES_INSTANCE_UID).unwrap_or_default(),
            &value(tags::SOP_INSTANCE_UID).unwrap_or_default(),
        ),
    };
    if let Some(why) = reserved_output(&options.output, &options.store, &out_rel) {
        return Err((Reason::StorageError, format!("its output {why}")));
    }
    Ok(out_rel)
}

/// Why an output at `out_rel` under `output` would overwrite the output's
/// own files, if it would: the store's directory and the quarantine at the
/// top, the store itself (and its journals), or a name the batch takes
/// for its temporary files (removed by the next run).
pub fn reserved_output(output: &Path, store: &Path, out_rel: &Path) -> Option<String> {
    let first = out_rel.components().next()?.as_os_str();
    if first == ".anonymizer" || first == "quarantine" {
        return Some(format!(
            "would be written under {}/, which the output keeps for itself",
            first.to_string_lossy()
        ));
    }
    let out = output.join(out_rel);
    let store_name = store.file_name().unwrap_or_default().as_encoded_bytes();
    if out.parent() == store.parent()
        && out
            .file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(store_name))
    {
        return Some("would overwrite the store".into());
    }
    let name = out_rel.file_name()?.to_string_lossy();
    if name.starts_with(dicom_file::TEMP_MARKER) {
        return Some("has the name of a temporary file".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_file_is_read_whole_and_a_large_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"DICM and more").unwrap();
        assert_eq!(read_small(&small).unwrap().unwrap(), b"DICM and more");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(read_small(&empty).unwrap().unwrap(), b"");
        let large = dir.path().join("large");
        std::fs::write(&large, vec![7u8; KEEP_PARSED as usize + 1]).unwrap();
        assert!(read_small(&large).unwrap().is_none());
        assert!(read_small(&dir.path().join("missing")).is_err());
    }

    /// A file longer than its size said when it was opened (here a
    /// kernel file, whose size reads as 0) is read on to its end.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_that_grew_since_its_size_was_read_is_read_to_its_end() {
        let path = Path::new("/proc/self/status");
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        let bytes = read_small(path).unwrap().unwrap();
        assert!(bytes.starts_with(b"Name:"), "{:?}", &bytes[..16]);
        assert!(bytes.len() > 100);
    }

    /// One that grew past the limit is left for the large files' reader,
    /// having read no more than one byte past the limit: here a pipe
    /// whose writer keeps it open until the reader is done, so reading it
    /// to its end would never return.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_that_grew_past_the_limit_is_read_no_further() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path and a mode.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let path = fifo.clone();
        let writer = std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            // More than the limit; a write the reader stopped taking fails.
            let _ = w.write_all(&vec![1u8; KEEP_PARSED as usize + (1 << 16)]);
            // Open until the reader says it is done; whether it gave up
            // waiting (a reader that reads to the end returns only then).
            wait.recv_timeout(std::time::Duration::from_secs(20))
                .is_err()
        });
        assert!(read_small(&fifo).unwrap().is_none());
        let _ = done.send(());
        let gave_up = writer.join().unwrap();
        assert!(!gave_up, "the reader waited for the end of the pipe");
    }
}
