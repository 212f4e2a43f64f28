//! DICOM files as found in the wild, read into memory, and written back
//! atomically.
//!
//! A file is recognised as DICOM when it has the `DICM` marker after a
//! 128-byte preamble, the marker at offset 0 (no preamble), or, without any
//! file meta group, when it starts with a plausible data set element of
//! groups 0002–0008 (a "raw" data set, read as implicit or explicit VR
//! little endian). Anything else is not DICOM and is skipped by the batch.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use dicom_core::Tag;
use dicom_dictionary_std::{tags, uids};
use dicom_encoding::TransferSyntaxIndex;
use dicom_encoding::transfer_syntax::Codec;
use dicom_object::meta::{FileMetaTable, FileMetaTableBuilder};
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use crate::interpreter::values::string_of;
pub(crate) use opening::{
    ENCAPSULATED_HEADER, Opening, UN_UNDEFINED_LENGTH, is_encapsulated_pixel_header, item_at,
    native_pixel_header, open_meta, refuse_un_sequences, registered,
};

pub mod bounded;
pub mod native;
mod opening;
pub mod tail;
mod trailer;
pub mod walk;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Not a DICOM file at all.
    NotDicom,
    /// The file system refused (missing, permission, a directory…).
    Io(std::io::Error),
    /// It is DICOM, but malformed or in a form we cannot decode.
    Malformed(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotDicom => write!(f, "not a DICOM file"),
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Malformed(m) => write!(f, "malformed DICOM: {m}"),
        }
    }
}

/// How a file's content starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Preamble, `DICM`, file meta group.
    Part10,
    /// `DICM` and file meta group, without the preamble.
    NoPreamble,
    /// A bare data set, in this transfer syntax.
    Raw(&'static str),
}

/// Look at the first bytes of a file and say what it is.
pub fn sniff(head: &[u8]) -> Option<Form> {
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Some(Form::Part10);
    }
    if head.len() >= 4 && &head[..4] == b"DICM" {
        return Some(Form::NoPreamble);
    }
    if head.len() < 8 {
        return None;
    }
    let group = u16::from_le_bytes([head[0], head[1]]);
    if !(0x0002..=0x0008).contains(&group) || group % 2 == 1 {
        return None;
    }
    let vr = [head[4], head[5]];
    if dicom_core::VR::from_binary(vr).is_some() {
        Some(Form::Raw(uids::EXPLICIT_VR_LITTLE_ENDIAN))
    } else {
        // Implicit VR: a 32-bit length that fits in what is plausible.
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        (len < 1 << 16 || len == u32::MAX).then_some(Form::Raw(uids::IMPLICIT_VR_LITTLE_ENDIAN))
    }
}

/// Open a DICOM file. With `until`, reading stops before that tag (of the
/// root data set), e.g. before the pixel data when only headers are needed.
pub fn open(path: &Path, until: Option<Tag>) -> Result<DefaultDicomObject, ReadError> {
    let bytes = std::fs::read(path).map_err(ReadError::Io)?;
    parse(&bytes, until)
}

/// Read a DICOM file's content from memory, within the bounds of
/// [`bounded`]: no declared length beyond the bytes left, no nesting
/// beyond [`bounded::MAX_DEPTH`].
pub fn parse(bytes: &[u8], until: Option<Tag>) -> Result<DefaultDicomObject, ReadError> {
    let form = sniff(&bytes[..bytes.len().min(132)]).ok_or(ReadError::NotDicom)?;
    let mut obj = match form {
        Form::Part10 | Form::NoPreamble => {
            let opening = open_meta(bytes, if form == Form::Part10 { 128 } else { 0 })?;
            let read_as = opening.read_as();
            let Opening {
                mut meta,
                ts,
                data: rest,
                origin,
                ..
            } = opening;
            let inflated;
            let (data, ts, origin) = match ts.codec() {
                Codec::Dataset(Some(_)) => {
                    // Deflated: inflated here, within a bound, and read as
                    // the explicit VR little endian it then is.
                    inflated = inflate_within(rest, MAX_INFLATED)?;
                    let ts = registered(uids::EXPLICIT_VR_LITTLE_ENDIAN)?;
                    (&inflated[..], ts, None)
                }
                Codec::Dataset(None) => {
                    return Err(ReadError::Malformed(format!(
                        "transfer syntax {} ({}) cannot be decoded",
                        ts.uid(),
                        ts.name()
                    )));
                }
                // Read as pydicom does: implicit VR little endian when the
                // data set was written so, whatever the meta group says
                // (dicom-rs would take value lengths from the wrong bytes).
                _ => (rest, read_as, Some(origin)),
            };
            refuse_un_sequences(data, ts, origin)?;
            let obj =
                bounded::read_dataset(data, ts, until, origin).map_err(ReadError::Malformed)?;
            fill_meta_uids(&mut meta, &obj);
            obj.with_exact_meta(meta)
        }
        Form::Raw(ts_uid) => {
            let ts = registered(ts_uid)?;
            refuse_un_sequences(bytes, ts, Some(0))?;
            let obj =
                bounded::read_dataset(bytes, ts, until, Some(0)).map_err(ReadError::Malformed)?;
            let class = string_of(&obj, tags::SOP_CLASS_UID).unwrap_or_default();
            let instance = string_of(&obj, tags::SOP_INSTANCE_UID).unwrap_or_default();
            let meta = FileMetaTableBuilder::new()
                .media_storage_sop_class_uid(class)
                .media_storage_sop_instance_uid(instance)
                .transfer_syntax(ts_uid)
                .build()
                .map_err(|e| ReadError::Malformed(bounded::error_chain(&e)))?;
            obj.with_exact_meta(meta)
        }
    };
    // Text in ISO 2022 code extensions, which dicom-rs cannot decode.
    crate::charset::decode_in_place(&mut obj);
    Ok(obj)
}

/// The most a deflated data set may inflate to. Deflate is used for
/// structured reports and small objects; a larger result is refused
/// rather than held in memory (a few KB can inflate to gigabytes).
pub const MAX_INFLATED: u64 = 256 << 20;

/// A deflated data set inflated, refused when it inflates to more than
/// `limit` bytes.
pub(crate) fn inflate_within(deflated: &[u8], limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(deflated)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            ReadError::Malformed(format!("the deflated data set cannot be inflated: {e}"))
        })?;
    if out.len() as u64 > limit {
        return Err(ReadError::Malformed(format!(
            "the deflated data set inflates to more than {} MiB",
            limit >> 20
        )));
    }
    Ok(out)
}

/// Our implementation class UID (a UUID-derived `2.25` UID) and version
/// name, written in the file meta group of every output.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.94361187340934651309519727046284358213";
pub const IMPLEMENTATION_VERSION_NAME: &str = "DICOMANON_010";

/// A fresh file meta group for an anonymized data set: only what Part 10
/// requires, with the new SOP instance UID. Nothing of the original meta
/// group (source AE titles, private information) is carried over.
pub fn fresh_meta(
    obj: &InMemDicomObject,
    transfer_syntax: &str,
) -> Result<dicom_object::FileMetaTable, String> {
    FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(string_of(obj, tags::SOP_CLASS_UID).unwrap_or_default())
        .media_storage_sop_instance_uid(string_of(obj, tags::SOP_INSTANCE_UID).unwrap_or_default())
        .transfer_syntax(transfer_syntax.trim_end_matches('\0'))
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(IMPLEMENTATION_VERSION_NAME)
        .build()
        .map_err(|e| e.to_string())
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write `bytes` to `path` so that `path` is either absent, its old
/// content, or the whole new content: write a temporary file beside it,
/// fsync it, and rename it into place. The file gets the user's umask.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    finish_atomically(stage(path, write)?)
}

/// As [`write_atomically`], for what holds PHI and is not an anonymized
/// output (quarantine copies, the report): the file is created owner-only
/// (0600) and directories made for it 0700, whatever the umask.
pub fn write_private_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    finish_atomically(stage_with(path, Access::Private, write)?)
}

fn finish_atomically(staged: Staged) -> std::io::Result<()> {
    let result = File::open(&staged.temp)
        .and_then(|f| f.sync_data())
        .and_then(|()| std::fs::rename(&staged.temp, &staged.path));
    if result.is_err() {
        let _ = std::fs::remove_file(&staged.temp);
    }
    result
}

/// Who may read a file written here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// As the user's umask says.
    Umask,
    /// The owner only: files 0600, new directories 0700.
    Private,
}

/// Create `dir` and its missing parents, owner-only (0700) whatever the
/// umask; an existing `dir` is narrowed to 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// A file written under a temporary name beside its final one, not yet
/// synced nor renamed: the batch syncs a whole chunk of them at once
/// ([`sync_filesystem`]), then renames them ([`Staged::commit`]), then
/// syncs again, so a final name only ever holds whole content.
#[derive(Debug)]
pub struct Staged {
    pub temp: PathBuf,
    pub path: PathBuf,
    /// Its pixel data was copied from the input as bytes ([`tail`]).
    pub pixel_copied: bool,
    /// Its encapsulated pixel data were decoded (and cleaned) one frame
    /// at a time as they were read ([`tail::stage_decoded`]).
    pub pixel_framewise: bool,
    /// It was written by the streaming path (`batch::stream`).
    pub streamed: bool,
}

impl Staged {
    /// Move the (synced) content to its final name.
    pub fn commit(self) -> std::io::Result<()> {
        let result = std::fs::rename(&self.temp, &self.path);
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        result
    }

    /// Give up: remove the temporary file.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// Write a temporary file beside `path` (creating its directory if needed).
pub fn stage(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<Staged> {
    stage_with(path, Access::Umask, write)
}

fn stage_with(
    path: &Path,
    access: Access,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<Staged> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(path);
    let create = || {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if access == Access::Private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(&tmp)
    };
    let result = (|| {
        let file = match create() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match access {
                    Access::Umask => std::fs::create_dir_all(dir)?,
                    Access::Private => create_private_dir(dir)?,
                }
                create()?
            }
            other => other?,
        };
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error()).map(drop)
    })();
    match result {
        Ok(()) => Ok(Staged {
            temp: tmp,
            path: path.to_path_buf(),
            pixel_copied: false,
            pixel_framewise: false,
            streamed: false,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// How a batch makes its outputs durable before they get their final
/// names (and are recorded as done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// `fdatasync` each staged file, several at once: waits for our own
    /// writes only.
    Files,
    /// One `syncfs` per chunk (Linux; elsewhere as `files`): also waits
    /// for every dirty page other processes have on that file system.
    Filesystem,
    /// Nothing: for scratch output. After a crash or power cut an output
    /// recorded as done may be empty or partial.
    None,
}

/// Make the staged files durable as `how` says.
pub fn make_durable(how: Durability, dir: &Path, staged: &[Staged]) -> std::io::Result<()> {
    match how {
        Durability::Files => sync_files(staged),
        Durability::Filesystem => sync_filesystem(dir, staged),
        Durability::None => Ok(()),
    }
}

/// `fdatasync` each staged file, on up to 16 threads (the waits overlap in
/// the device's queue).
pub fn sync_files(staged: &[Staged]) -> std::io::Result<()> {
    use rayon::prelude::*;
    if staged.is_empty() {
        return Ok(());
    }
    let pool = SYNC_POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(16)
            .thread_name(|i| format!("fdatasync-{i}"))
            .build()
            .expect("a thread pool for fdatasync")
    });
    pool.install(|| {
        staged
            .par_iter()
            .try_for_each(|s| File::open(&s.temp).and_then(|f| f.sync_data()))
    })
}

static SYNC_POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();

/// Make everything written so far on the file system holding `dir`
/// durable: one `syncfs` on Linux, instead of one fsync per file; each
/// file of `staged` is fsynced where `syncfs` is not available.
pub fn sync_filesystem(dir: &Path, staged: &[Staged]) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let _ = staged;
        let handle = File::open(dir)?;
        // SAFETY: syncfs only reads the descriptor, which `handle` keeps open.
        if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        staged
            .iter()
            .try_for_each(|s| File::open(&s.temp).and_then(|f| f.sync_data()))
    }
}

/// A temporary name beside `path`, unique within this process, short
/// enough for any directory that can hold `path`'s own name (up to 255
/// bytes), and recognisable (and removable) after a crash:
/// `.anon-tmp-<pid>-<n>`, or `.anon-tmp-<owner>-<pid>-<n>` once
/// [`set_temp_owner`] named the process's part of a shared output.
fn temp_path(path: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    // Asked once: `getpid` is a system call each time.
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    match TEMP_OWNER.get() {
        Some(owner) => path.with_file_name(format!("{TEMP_MARKER}{owner}-{pid}-{n}")),
        None => path.with_file_name(format!("{TEMP_MARKER}{pid}-{n}")),
    }
}

static TEMP_OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Name this process's temporary files after `owner` (letters and digits,
/// not starting with a digit; e.g. a shard, `s2of4`), so that a worker
/// sharing an output tree with others removes only its own leftovers.
/// The first call wins.
pub fn set_temp_owner(owner: &str) {
    let _ = TEMP_OWNER.set(owner.to_string());
}

/// Whether a file named `name` is a temporary file of `owner` (`None`: of
/// a process that named no owner).
pub fn is_temp_of(name: &str, owner: Option<&str>) -> bool {
    // `.anon-tmp-…`, or `.<name>.anon-tmp-…` (the NIfTI writer's).
    let Some((before, rest)) = name.split_once(TEMP_MARKER) else {
        return false;
    };
    if !before.is_empty() && !before.starts_with('.') {
        return false;
    }
    match owner {
        Some(owner) => rest.strip_prefix(owner).is_some_and(|r| r.starts_with('-')),
        None => rest.starts_with(|c: char| c.is_ascii_digit()),
    }
}

/// The part of a temporary file's name that marks it as ours.
pub const TEMP_MARKER: &str = ".anon-tmp-";

/// `obj` as it is written: text read from ISO 2022 code extensions goes
/// back in them (a copy), other objects as they are.
fn encoded_for_writing(obj: &DefaultDicomObject) -> std::borrow::Cow<'_, DefaultDicomObject> {
    if crate::charset::uses_code_extensions(obj) {
        let mut copy = obj.clone();
        crate::charset::encode_in_place(&mut copy);
        std::borrow::Cow::Owned(copy)
    } else {
        std::borrow::Cow::Borrowed(obj)
    }
}

/// A meta group without the SOP UIDs takes them from the data set, as
/// dicom-rs does.
fn fill_meta_uids(meta: &mut FileMetaTable, obj: &InMemDicomObject) {
    if meta.media_storage_sop_class_uid().is_empty() {
        meta.media_storage_sop_class_uid = string_of(obj, tags::SOP_CLASS_UID).unwrap_or_default();
    }
    if meta.media_storage_sop_instance_uid().is_empty() {
        meta.media_storage_sop_instance_uid =
            string_of(obj, tags::SOP_INSTANCE_UID).unwrap_or_default();
    }
}

/// Write a DICOM file (preamble, meta group, data set) under a temporary
/// name beside `path`; see [`Staged`].
pub fn stage_dicom(path: &Path, obj: &DefaultDicomObject) -> std::io::Result<Staged> {
    let obj = &*encoded_for_writing(obj);
    stage(path, |out| {
        if obj.meta().transfer_syntax().trim_end_matches('\0')
            == uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
        {
            write_deflated(obj, out)
        } else {
            obj.write_all(out).map_err(|e| write_error(&e))
        }
    })
}

/// A write error with what caused it (dicom-rs's outer message, "Could
/// not print data set", says nothing of a full disk or a bad value); the
/// I/O error's kind is kept when there is one.
fn write_error(e: &(dyn std::error::Error + 'static)) -> std::io::Error {
    let mut kind = std::io::ErrorKind::Other;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            kind = io.kind();
        }
        source = s.source();
    }
    std::io::Error::new(kind, bounded::error_chain(e))
}

/// What comes before a Part 10 file's data set: an empty preamble, `DICM`
/// and the file meta group.
pub(crate) fn write_file_start(meta: &FileMetaTable, out: &mut dyn Write) -> std::io::Result<()> {
    // Encoded here first: dicom-rs flushes its writer after the meta
    // group, which would cost every output a write of its own.
    let mut start = Vec::with_capacity(512);
    start.extend_from_slice(&[0; 128]);
    start.extend_from_slice(b"DICM");
    meta.write(&mut start).map_err(|e| write_error(&e))?;
    out.write_all(&start)
}

/// Preamble, meta group, and the data set deflated as one stream.
///
/// dicom-rs deflates element by element, and flate2 prepares a 32 KiB
/// output buffer for each of those small writes: ~80 per file, 20 % of the
/// batch's instructions on a corpus with 2.5 % deflated files. The data set
/// goes through a buffer instead, at the same compression level (fast).
fn write_deflated(obj: &DefaultDicomObject, out: &mut dyn Write) -> std::io::Result<()> {
    use std::io::Error;
    write_file_start(obj.meta(), out)?;
    // Encoded as explicit VR little endian, deflated here (the deflated
    // transfer syntax would make dicom-rs deflate it once more).
    let ts = TransferSyntaxRegistry
        .get(uids::EXPLICIT_VR_LITTLE_ENDIAN)
        .ok_or_else(|| Error::other("explicit VR little endian is not registered"))?;
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, deflater(out));
    obj.write_dataset_with_ts(&mut buffered, ts)
        .map_err(|e| write_error(&e))?;
    buffered
        .into_inner()
        .map_err(|e| e.into_error())?
        .finish()
        .map(drop)
}

/// What deflates an output's data set (after its meta group), at the one
/// level both the whole data set's path and the streaming path use.
pub(crate) fn deflater<W: Write>(out: W) -> flate2::write::DeflateEncoder<W> {
    flate2::write::DeflateEncoder::new(out, flate2::Compression::fast())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_shard_recognises_only_its_own_temporaries() {
        assert!(is_temp_of(".anon-tmp-123-4", None));
        assert!(is_temp_of(".defaced.anon-tmp-123.nii.gz", None));
        assert!(!is_temp_of(".anon-tmp-s1of4-123-4", None));
        assert!(is_temp_of(".anon-tmp-s1of4-123-4", Some("s1of4")));
        assert!(!is_temp_of(".anon-tmp-s1of40-123-4", Some("s1of4")));
        assert!(!is_temp_of(".anon-tmp-s2of4-123-4", Some("s1of4")));
        assert!(!is_temp_of(".anon-tmp-123-4", Some("s1of4")));
        assert!(!is_temp_of("image.dcm", None));
        assert!(!is_temp_of("x.anon-tmp-1-2", None));
    }
    use super::*;

    #[test]
    fn sniffing_tells_part10_raw_and_other_files_apart() {
        let mut part10 = vec![0u8; 128];
        part10.extend_from_slice(b"DICM\x02\x00\x00\x00");
        assert_eq!(sniff(&part10), Some(Form::Part10));
        assert_eq!(sniff(b"DICM\x02\x00\x01\x00"), Some(Form::NoPreamble));
        // (0008,0005) CS, explicit VR
        assert_eq!(
            sniff(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100"),
            Some(Form::Raw(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        );
        // (0008,0005) implicit, length 10
        assert_eq!(
            sniff(b"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100"),
            Some(Form::Raw(uids::IMPLICIT_VR_LITTLE_ENDIAN))
        );
        assert_eq!(sniff(b"%PDF-1.4 something"), None);
        assert_eq!(sniff(b"hello"), None);
    }

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.dcm");
        write_atomically(&path, |w| w.write_all(b"abc")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        let failed = write_atomically(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"abc",
            "old content survives"
        );
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }

    /// SOP class and instance UIDs and a patient name (even lengths, so
    /// values read back unpadded).
    fn small_object() -> InMemDicomObject {
        use dicom_core::{DataElement, PrimitiveValue, VR};
        let mut obj = InMemDicomObject::new_empty();
        for (tag, vr, value) in [
            (tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
            (tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.44"),
            (tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
        ] {
            obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
        }
        obj
    }

    #[test]
    fn deflated_files_are_written_once_deflated_and_read_back_equal() {
        use dicom_core::{DataElement, PrimitiveValue, VR};
        let mut obj = small_object();
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::from(vec![7u8; 200_000]),
        ));
        let meta = fresh_meta(&obj, uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN).unwrap();
        let file = obj.clone().with_exact_meta(meta);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deflated.dcm");
        stage_dicom(&path, &file).unwrap().commit().unwrap();

        let back = open(&path, None).unwrap();
        assert_eq!(
            back.meta().transfer_syntax().trim_end_matches('\0'),
            uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
        );
        let back = back.into_inner();
        for tag in [tags::SOP_INSTANCE_UID, tags::PATIENT_NAME, tags::PIXEL_DATA] {
            let bytes = |o: &InMemDicomObject| o.get(tag).unwrap().to_bytes().unwrap().to_vec();
            assert_eq!(bytes(&back), bytes(&obj), "{tag}");
        }
        // One layer of deflate: the body inflates to explicit VR LE elements.
        let bytes = std::fs::read(&path).unwrap();
        let meta_end = 132 + 12 + u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
        let mut body = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::DeflateDecoder::new(&bytes[meta_end..]),
            &mut body,
        )
        .unwrap();
        assert_eq!(&body[..6], b"\x08\x00\x16\x00UI", "SOPClassUID first");
        assert!(bytes.len() < 20_000, "the pixel data was compressed");
    }

    #[test]
    fn a_file_declaring_explicit_vr_but_written_implicit_is_read_as_implicit() {
        use dicom_core::VR;
        let obj = small_object();
        let meta = fresh_meta(&obj, uids::EXPLICIT_VR_LITTLE_ENDIAN).unwrap();
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        meta.write(&mut bytes).unwrap();
        let implicit = TransferSyntaxRegistry
            .get(uids::IMPLICIT_VR_LITTLE_ENDIAN)
            .unwrap();
        obj.write_dataset_with_ts(&mut bytes, implicit).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mislabelled.dcm");
        std::fs::write(&path, &bytes).unwrap();

        for until in [None, Some(tags::PIXEL_DATA)] {
            let back = open(&path, until).unwrap();
            assert_eq!(
                back.meta().transfer_syntax().trim_end_matches('\0'),
                uids::EXPLICIT_VR_LITTLE_ENDIAN,
                "the declared transfer syntax is kept (outputs are written in it)"
            );
            assert_eq!(
                string_of(&back, tags::PATIENT_NAME).as_deref(),
                Some("Doe^Jane")
            );
            assert_eq!(back.get(tags::PATIENT_NAME).unwrap().vr(), VR::PN);
        }
    }
}
