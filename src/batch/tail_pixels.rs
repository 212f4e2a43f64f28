//! Cleaning burned-in text from a large file whose pixel data stay in the
//! input while its header is anonymized (`dicom_file::tail`): the
//! signature's regions, and the text detector's, searched in frames read
//! one at a time from the file. Native pixel data are blanked as they are
//! copied; encapsulated ones decoded, blanked and written native one frame
//! at a time. The outcome is the whole data set's path's, byte for byte
//! and word for word; anything this cannot do the same way (a pixel
//! preview, inpainting, frames it cannot read or decode) sends the file to
//! that path.

use std::path::Path;

use dicom_object::InMemDicomObject;

use crate::dicom_file::tail::{self, Tail};
use crate::pixel::script::{Region, Signature};
use crate::pixel::text::{Cleaning, Found, TextStage};
use crate::pixel::{self, FrameCleaner, blank::Blanker};

/// How the pixel data are written.
pub(super) enum Plan {
    /// Nothing to clean: copied as bytes.
    Copy,
    /// Native: blanked as they are copied.
    Blank(Blanker),
    /// Encapsulated: decoded, blanked and written native, frame by frame
    /// (each frame's fragments).
    Framewise(FrameCleaner, Vec<Vec<(u64, u32)>>),
}

/// What cleaning comes to: the plan, what the store records of it, and
/// the transfer syntax to write (native after decoding).
pub(super) struct Planned {
    pub plan: Plan,
    pub cleaned: Option<String>,
    pub transfer_syntax: Option<String>,
}

/// What the text detector's search says of itself, when it found text.
pub(super) fn text_found(why: &str, found: &Found) -> String {
    format!(
        "text detector ({why}): {} line(s) of text found in {} frame(s) searched{}",
        found.regions.len(),
        found.frames_searched,
        if found.kept.is_empty() {
            String::new()
        } else {
            format!(", whitelisted words kept: {}", found.kept.join(" "))
        }
    )
}

/// The cleaning of `obj` (its header anonymized, its pixel data the stand-in
/// of `tail`, in `path`) for the signature and the text search that
/// apply; `None`: the whole data set's path must clean it.
pub(super) fn plan(
    path: &Path,
    tail: &Tail,
    obj: &mut InMemDicomObject,
    transfer_syntax: &str,
    signature: Option<(usize, &Signature)>,
    searched: Option<(&TextStage, &str, &str)>,
) -> Option<Planned> {
    let geometry = pixel::geometry(obj);
    let fragments = if tail.encapsulated {
        Some(tail::frame_fragments(path, tail, geometry.frames).ok()?)
    } else {
        None
    };
    let mut regions: Vec<Region> = Vec::new();
    let mut said = Vec::new();
    if let Some((n, signature)) = signature {
        regions.extend_from_slice(&signature.regions);
        said.push(format!("signature {} (line {})", n + 1, signature.line));
    }
    if let Some((stage, why, modality)) = searched {
        let frame_bytes = pixel::frames::frame_bytes(&geometry);
        let read = |f: usize| -> Result<Vec<Vec<u8>>, String> {
            match &fragments {
                Some(fragments) => {
                    let frame = fragments.get(f).ok_or("no such frame")?;
                    tail::read_frame(path, frame).map_err(|e| e.to_string())
                }
                None => tail::read_native_frame(path, tail, f, frame_bytes)
                    .map(|bytes| vec![bytes])
                    .map_err(|e| e.to_string()),
            }
        };
        let found = pixel::text::search_frames(
            &stage.models,
            &stage.whitelist,
            obj,
            transfer_syntax,
            modality,
            Some(&read),
        )
        .ok()?;
        if !found.regions.is_empty() {
            if stage.cleaning == Cleaning::Inpaint {
                return None;
            }
            said.push(text_found(why, &found));
            regions.extend(found.regions);
        }
    }
    if regions.is_empty() {
        return Some(Planned {
            plan: Plan::Copy,
            cleaned: None,
            transfer_syntax: None,
        });
    }
    // As the whole data set's path says it.
    let described = |c: &pixel::Cleaned| {
        format!(
            "{}: regions {} in every frame; {}",
            said.join("; "),
            pixel::script::regions_text(&regions),
            c.describe()
        )
    };
    match fragments {
        Some(fragments) => {
            let first = tail::read_frame(path, fragments.first()?).ok()?;
            let cleaner = FrameCleaner::new(obj, transfer_syntax, first, &regions).ok()?;
            Some(Planned {
                cleaned: Some(described(&cleaner.cleaned)),
                transfer_syntax: Some(cleaner.cleaned.transfer_syntax.clone()),
                plan: Plan::Framewise(cleaner, fragments),
            })
        }
        None => {
            let blanker = Blanker::new(&geometry, &regions).ok()?;
            if (blanker.unit_bytes() * blanker.units()) as u64 > tail.len {
                return None;
            }
            // The pixels blanked in a frame depend on the regions and the
            // image's size only.
            let pixels_per_frame = blanker.blank_unit(0, &mut vec![0; blanker.unit_bytes()]);
            pixel::mark_cleaned(obj);
            let cleaned = pixel::Cleaned {
                transfer_syntax: transfer_syntax.to_string(),
                frames: geometry.frames,
                pixels_per_frame,
                decoded: false,
            };
            Some(Planned {
                cleaned: Some(described(&cleaned)),
                transfer_syntax: None,
                plan: Plan::Blank(blanker),
            })
        }
    }
}
