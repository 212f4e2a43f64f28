//! A real Orthanc (Debian's `orthanc` package; `tests/run.sh` installs it)
//! started on loopback ports for one test, and stopped after.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::peers::{free_port, tool};

pub struct Orthanc {
    child: Child,
    pub dicom_port: u16,
    pub dir: tempfile::TempDir,
}

impl Orthanc {
    /// Start Orthanc as AE `ORTHANC`, knowing `modalities` (AE title, port on
    /// 127.0.0.1) as C-MOVE destinations and allowed peers.
    pub fn start(modalities: &[(&str, u16)]) -> Orthanc {
        let dir = tempfile::tempdir().unwrap();
        let dicom_port = free_port();
        let known: serde_json::Map<String, serde_json::Value> = modalities
            .iter()
            .map(|(ae, port)| {
                (
                    ae.to_lowercase(),
                    serde_json::json!([ae, "127.0.0.1", port]),
                )
            })
            .collect();
        let config = serde_json::json!({
            "Name": "test",
            "StorageDirectory": dir.path().join("db"),
            "IndexDirectory": dir.path().join("db"),
            "DicomAet": "ORTHANC",
            "DicomPort": dicom_port,
            "HttpPort": free_port(),
            "HttpServerEnabled": true,
            "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false,
            "DicomCheckModalityHost": false,
            "DicomModalities": known,
            "Plugins": [],
            "StorageCompression": false,
        });
        let config_path = dir.path().join("orthanc.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let log = std::fs::File::create(dir.path().join("orthanc.log")).unwrap();
        let child = tool("Orthanc")
            .arg(&config_path)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let mut orthanc = Orthanc {
            child,
            dicom_port,
            dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", dicom_port)).is_err() {
            if let Ok(Some(status)) = orthanc.child.try_wait() {
                panic!("Orthanc exited with {status}:\n{}", orthanc.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Orthanc did not start:\n{}",
                orthanc.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        orthanc
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("orthanc.log")).unwrap_or_default()
    }

    /// Store files into Orthanc with dcmtk's storescu, each in its own
    /// transfer syntax and SOP class (storescu is told to propose them).
    pub fn store(&self, files: &[PathBuf]) {
        let mut by_syntax: std::collections::BTreeMap<&str, Vec<&PathBuf>> = Default::default();
        for file in files {
            let ts = dicom_object::OpenFileOptions::new()
                .read_until(dicom_dictionary_std::tags::SPECIFIC_CHARACTER_SET)
                .open_file(file)
                .map(|o| {
                    o.meta()
                        .transfer_syntax()
                        .trim_end_matches('\0')
                        .to_string()
                })
                .unwrap_or_default();
            let flag = match ts.as_str() {
                "1.2.840.10008.1.2.4.90" => "-xv",
                "1.2.840.10008.1.2.4.91" => "-xw",
                "1.2.840.10008.1.2.5" => "-xr",
                "1.2.840.10008.1.2.4.50" => "-xy",
                "1.2.840.10008.1.2.4.51" => "-xx",
                "1.2.840.10008.1.2.4.70" => "-xs",
                "1.2.840.10008.1.2.4.80" => "-xt",
                "1.2.840.10008.1.2.4.81" => "-xu",
                "1.2.840.10008.1.2.1.99" => "-xd",
                _ => "-x=",
            };
            by_syntax.entry(flag).or_default().push(file);
        }
        for (flag, files) in by_syntax {
            let out = tool("storescu")
                .args([
                    "-R",
                    flag,
                    "-aet",
                    "LOADER",
                    "-aec",
                    "ORTHANC",
                    "127.0.0.1",
                    &self.dicom_port.to_string(),
                ])
                .args(files)
                .output()
                .expect("storescu (dcmtk)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    pub fn address(&self) -> String {
        format!("ORTHANC@127.0.0.1:{}", self.dicom_port)
    }
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copy a file, giving it a new SOPInstanceUID and an AccessionNumber.
pub fn variant(from: &Path, to: &Path, sop_instance: &str, accession: &str) {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let mut obj = dicom_object::open_file(from).unwrap().into_inner();
    obj.put(DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::from(sop_instance),
    ));
    obj.put(DataElement::new(
        tags::ACCESSION_NUMBER,
        VR::SH,
        PrimitiveValue::from(accession),
    ));
    obj.with_meta(
        dicom_object::meta::FileMetaTableBuilder::new()
            .transfer_syntax(dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN),
    )
    .unwrap()
    .write_to_file(to)
    .unwrap();
}
