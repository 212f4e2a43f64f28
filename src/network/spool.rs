//! The receiver's spool: each instance received is written, as a DICOM
//! file (preamble, meta group, then the data set's bytes exactly as they
//! arrived in the negotiated transfer syntax), under a temporary name,
//! synced and renamed before the sender is told it was stored. A crash
//! loses nothing the sender was told is stored: what is in the spool is
//! anonymized by the next run.
//!
//! The final name carries the file's length (`….<bytes>.dcm`), so a file
//! whose rename reached the disk before all its data did is recognised
//! as partial and dropped (its sender was never answered). That lets one
//! sync per instance suffice where the file system commits a rename with
//! the renamed file's fsync (ext4, XFS, btrfs: their fsync commits the
//! journal or log entry of the rename, which changed the inode): rename,
//! then fsync the file. Elsewhere (NFS, others) the file is synced, renamed
//! and the directory synced, as POSIX alone requires. Spool files are private to the owner (they
//! hold PHI) and stream to disk as they arrive, so an instance of any size
//! costs one PDU of memory.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use dicom_object::FileMetaTableBuilder;

use super::{IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};
use crate::dicom_file::create_private_dir;

/// Where received instances wait to be anonymized.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    counter: AtomicU64,
    /// The file system commits a rename with the file's fsync.
    rename_synced_with_file: bool,
}

const TEMP_PREFIX: &str = ".incoming-";
const SUFFIX: &str = ".dcm";

impl Spool {
    /// Open (creating, owner-only) a spool directory; partial files of an
    /// earlier process are removed: their senders were never answered.
    pub fn open(dir: &Path) -> io::Result<Spool> {
        create_private_dir(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Spool {
            dir: dir.to_path_buf(),
            counter: AtomicU64::new(0),
            rename_synced_with_file: journals_renames(dir),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Start writing one instance: its meta group is written at once.
    pub fn begin(
        &self,
        sop_class: &str,
        sop_instance: &str,
        transfer_syntax: &str,
        calling_ae: &str,
    ) -> io::Result<Incoming> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        // Names sort by arrival; the process ID keeps two processes apart.
        let name = format!("{stamp:020}-{}-{n:06}", std::process::id());
        let temp = self.dir.join(format!("{TEMP_PREFIX}{name}{SUFFIX}"));
        let meta = FileMetaTableBuilder::new()
            .media_storage_sop_class_uid(sop_class)
            .media_storage_sop_instance_uid(sop_instance)
            .transfer_syntax(transfer_syntax)
            .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
            .implementation_version_name(IMPLEMENTATION_VERSION_NAME)
            .source_application_entity_title(calling_ae)
            .build()
            .map_err(|e| io::Error::other(format!("meta group: {e}")))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = io::BufWriter::with_capacity(256 * 1024, options.open(&temp)?);
        let mut incoming = || -> io::Result<()> {
            file.write_all(&[0u8; 128])?;
            file.write_all(b"DICM")?;
            meta.write(&mut file)
                .map_err(|e| io::Error::other(format!("meta group: {e}")))
        };
        if let Err(e) = incoming() {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        // (The meta group's writer may flush: ask the file where it is.)
        let written = match io::Seek::stream_position(&mut file) {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                return Err(e);
            }
        };
        Ok(Incoming {
            file: Some(file),
            temp,
            name,
            dir: self.dir.clone(),
            written,
            rename_synced_with_file: self.rename_synced_with_file,
        })
    }

    /// The instances waiting, oldest first, each with its key (its name).
    /// A file shorter or longer than its name says is partial (a crash
    /// came between its rename and its data reaching the disk): it is
    /// removed, its sender was never answered.
    pub fn pending(&self) -> io::Result<Vec<(PathBuf, String)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) || !name.ends_with(SUFFIX) {
                continue;
            }
            if let Some(length) = stated_length(&name)
                && entry.metadata().map(|m| m.len()).ok() != Some(length)
            {
                let _ = std::fs::remove_file(entry.path());
                continue;
            }
            out.push((entry.path(), name));
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }
}

/// The length a spool file's name states (`….<bytes>.dcm`), if any.
fn stated_length(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (_, length) = stem.rsplit_once('.')?;
    length.parse().ok()
}

/// Whether the file system under `dir` commits a rename with the fsync
/// of the renamed file (ext4, XFS, btrfs).
fn journals_renames(dir: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        const EXT4: i64 = 0xEF53;
        const XFS: i64 = 0x5846_5342;
        const BTRFS: i64 = 0x9123_683E;
        let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid NUL-terminated path and a statfs to fill.
        if unsafe { libc::statfs(path.as_ptr(), &mut stat) } != 0 {
            return false;
        }
        matches!(stat.f_type as i64, EXT4 | XFS | BTRFS)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        false
    }
}

/// One instance being received.
#[derive(Debug)]
pub struct Incoming {
    file: Option<io::BufWriter<File>>,
    temp: PathBuf,
    /// The final name, without its length and suffix.
    name: String,
    dir: PathBuf,
    /// Bytes written so far.
    written: u64,
    rename_synced_with_file: bool,
}

impl Incoming {
    /// Append data set bytes as they arrive.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(f) => {
                f.write_all(data)?;
                self.written += data.len() as u64;
                Ok(())
            }
            None => Err(io::Error::other("the instance was already committed")),
        }
    }

    /// Give the file its final name (with its length) and make both the
    /// data and the name durable: only then may the sender be told the
    /// instance is stored.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let file = self.file.take().expect("not yet committed");
        let file = file.into_inner().map_err(|e| e.into_error())?;
        let done = self
            .dir
            .join(format!("{}.{}{SUFFIX}", self.name, self.written));
        let renamed = if self.rename_synced_with_file {
            std::fs::rename(&self.temp, &done).and_then(|()| file.sync_all())
        } else {
            file.sync_all()
                .and_then(|()| std::fs::rename(&self.temp, &done))
                .and_then(|()| File::open(&self.dir)?.sync_all())
        };
        if let Err(e) = renamed {
            let _ = std::fs::remove_file(&self.temp);
            let _ = std::fs::remove_file(&done);
            return Err(e);
        }
        Ok(done)
    }
}

impl Drop for Incoming {
    /// An instance never committed (the peer went away, or an error) leaves
    /// nothing behind.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_instance_reads_back_and_an_abandoned_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(&dir.path().join("spool")).unwrap();
        // A small data set in explicit VR little endian: PatientName.
        let mut data = Vec::new();
        data.extend_from_slice(&[0x10, 0x00, 0x10, 0x00, b'P', b'N', 4, 0]);
        data.extend_from_slice(b"Doe ");
        let mut one = spool
            .begin(
                "1.2.840.10008.5.1.4.1.1.7",
                "1.2.3.4",
                "1.2.840.10008.1.2.1",
                "SENDER",
            )
            .unwrap();
        one.write(&data[..5]).unwrap();
        one.write(&data[5..]).unwrap();
        let path = one.commit().unwrap();
        let obj = crate::dicom_file::open(&path, None).unwrap();
        assert_eq!(obj.meta().media_storage_sop_instance_uid(), "1.2.3.4");
        assert_eq!(obj.meta().source_application_entity_title(), Some("SENDER"));
        assert_eq!(
            obj.element(dicom_dictionary_std::tags::PATIENT_NAME)
                .unwrap()
                .to_str()
                .unwrap()
                .trim(),
            "Doe"
        );
        let abandoned = spool
            .begin(
                "1.2.840.10008.5.1.4.1.1.7",
                "1.2.3.5",
                "1.2.840.10008.1.2.1",
                "SENDER",
            )
            .unwrap();
        drop(abandoned);
        let pending = spool.pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(std::fs::read_dir(spool.dir()).unwrap().count(), 1);
        // Its name states its length.
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            pending[0].1.ends_with(&format!(".{size}.dcm")),
            "{}",
            pending[0].1
        );
        // A file shorter than its name says (its data never reached the
        // disk) is partial: dropped. One whose name states nothing is kept.
        let short = spool.dir().join("00000000000000000009-1-000009.500.dcm");
        std::fs::write(&short, [0u8; 132]).unwrap();
        let legacy = spool.dir().join("00000000000000000010-1-000010.dcm");
        std::fs::copy(&path, &legacy).unwrap();
        let pending = spool.pending().unwrap();
        assert_eq!(pending.len(), 2);
        assert!(!short.exists());
        std::fs::remove_file(&legacy).unwrap();
        let pending = spool.pending().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&pending[0].0)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
