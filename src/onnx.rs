//! The ONNX backend every model of this tool runs on (the face mask, the
//! burned-in text detector).
//!
//! The default build runs models with ort's pure-Rust tract backend
//! (`ort-tract`), so nothing is downloaded at build or run time. The
//! `load-dynamic` cargo feature uses a native ONNX Runtime library instead,
//! loaded at run time (`ORT_DYLIB_PATH`).

use std::path::Path;
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;

/// The backend's environment, started once per process.
pub fn environment() -> Result<&'static Environment, String> {
    static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            #[cfg(not(feature = "load-dynamic"))]
            ort::set_api(ort_tract::api());
            ort::init()
                .with_name("dicom-anonymizer")
                .build()
                .map_err(|e| format!("ONNX backend: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A session for the model in `path`.
pub fn session_from_file(path: &Path) -> Result<Session, String> {
    Session::builder(environment()?)
        .and_then(|mut b| b.commit_from_file(path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A session for the model held in `bytes` (`what` names it in errors).
pub fn session_from_bytes(bytes: &[u8], what: &str) -> Result<Session, String> {
    Session::builder(environment()?)
        .and_then(|mut b| b.commit_from_memory(bytes))
        .map_err(|e| format!("{what}: {e}"))
}

/// Sessions of one model for several threads at once: a thread takes an
/// idle session (or starts one) for each run and puts it back after, so
/// frames and tiles can be searched in parallel (a tract session runs on
/// one core).
pub struct SessionPool {
    bytes: Vec<u8>,
    what: String,
    input_shape: Vec<i64>,
    idle: std::sync::Mutex<Vec<Session>>,
}

impl SessionPool {
    /// A pool for the model in `path`, checked by starting one session.
    pub fn load(path: &Path) -> Result<SessionPool, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let what = path.display().to_string();
        let first = session_from_bytes(&bytes, &what)?;
        let input_shape = first
            .inputs()
            .first()
            .and_then(|i| i.dtype().tensor_shape())
            .map(|s| s.to_vec())
            .unwrap_or_default();
        Ok(SessionPool {
            bytes,
            what,
            input_shape,
            idle: std::sync::Mutex::new(vec![first]),
        })
    }

    /// The shape of the model's first input, as it declares it (-1 for a
    /// dimension it leaves open; empty when it does not say).
    pub fn input_shape(&self) -> &[i64] {
        &self.input_shape
    }

    /// Run `f` with a session of this pool.
    pub fn with<T>(&self, f: impl FnOnce(&mut Session) -> Result<T, String>) -> Result<T, String> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut session = match taken {
            Some(s) => s,
            None => session_from_bytes(&self.bytes, &self.what)?,
        };
        let result = f(&mut session);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(session);
        }
        result
    }
}
