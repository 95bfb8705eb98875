//! The HTTP clients: one `reqwest::Client` per distinct `cacertfile`, built lazily and reused.
//!
//! Each client:
//! - verifies servers with rustls and the system roots (reqwest 0.13 uses
//!   `rustls-platform-verifier`, which on Linux loads the system store through
//!   `rustls-native-certs`, honouring `SSL_CERT_FILE` / `SSL_CERT_DIR`), plus the PEM
//!   certificates of `cacertfile` when given (`ClientBuilder::tls_certs_merge`: they are added
//!   to the system roots, not used instead of them);
//! - never follows redirects;
//! - closes idle connections after [`POOL_IDLE_TIMEOUT`];
//! - honours `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` (and lower-case forms),
//!   read once, when the client is built.
//!
//! Building a client reads files (the system roots, `cacertfile`), so it runs on Tokio's
//! blocking pool, from within the sending task; never in the caller of `send_report`.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::OnceCell;

/// Idle pooled connections are closed after this long.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest `cacertfile` read; a bigger file is refused.
pub const MAX_CACERTFILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a client could not be built. Every variant ends the send with `tls_error`.
/// The messages carry no URL and no secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// `cacertfile` could not be read.
    #[error("cannot read cacertfile: {0}")]
    CaFileUnreadable(String),
    /// `cacertfile` is larger than [`MAX_CACERTFILE_BYTES`].
    #[error("cacertfile is larger than {MAX_CACERTFILE_BYTES} bytes")]
    CaFileTooLarge,
    /// `cacertfile` holds no PEM certificate, or a malformed one.
    #[error("cacertfile holds no valid PEM certificate: {0}")]
    CaFileInvalid(String),
    /// reqwest refused the configuration (e.g. no usable root certificate at all).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

type Slot = Arc<OnceCell<reqwest::Client>>;

/// A cache of HTTP clients keyed by `cacertfile`. Cheap to create; builds nothing until asked.
#[derive(Default)]
pub struct ClientCache {
    clients: Mutex<HashMap<Option<PathBuf>, Slot>>,
}

/// Shows only how many clients are built: a client's own `Debug` may show proxy settings,
/// which can carry credentials.
impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCache")
            .field("clients", &self.len())
            .finish()
    }
}

impl ClientCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The client for `cacertfile`, built on first use (on the blocking pool of the current
    /// Tokio runtime) and reused afterwards. A failed build is not cached: the next call tries
    /// again, so a fixed `cacertfile` is picked up. Must be called within a Tokio runtime.
    pub async fn get(&self, cacertfile: Option<&Path>) -> Result<reqwest::Client, ClientError> {
        let slot = {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            clients
                .entry(cacertfile.map(Path::to_path_buf))
                .or_default()
                .clone()
        };
        let path = cacertfile.map(Path::to_path_buf);
        slot.get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || build_client(path.as_deref()))
                .await
                .map_err(|_| ClientError::Build("client build task failed".into()))?
        })
        .await
        .cloned()
    }

    /// How many clients have been built and are cached.
    pub fn len(&self) -> usize {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.values().filter(|slot| slot.initialized()).count()
    }

    /// Whether no client has been built yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Builds a client (blocking: reads the system roots and `cacertfile`).
pub fn build_client(cacertfile: Option<&Path>) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(4)
        .user_agent(concat!(
            "mongoose_system_metrics/",
            env!("CARGO_PKG_VERSION")
        ));
    if let Some(path) = cacertfile {
        builder = builder.tls_certs_merge(read_ca_file(path)?);
    }
    builder
        .build()
        .map_err(|e| ClientError::Build(error_chain(&e.without_url())))
}

/// Reads and parses a PEM bundle; at least one certificate is required.
fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let file =
        std::fs::File::open(path).map_err(|e| ClientError::CaFileUnreadable(e.to_string()))?;
    let mut pem = Vec::new();
    file.take(MAX_CACERTFILE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| ClientError::CaFileUnreadable(e.to_string()))?;
    if pem.len() as u64 > MAX_CACERTFILE_BYTES {
        return Err(ClientError::CaFileTooLarge);
    }
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| ClientError::CaFileInvalid(error_chain(&e)))?;
    if certs.is_empty() {
        return Err(ClientError::CaFileInvalid("no certificate found".into()));
    }
    Ok(certs)
}

/// `err: source: source...`, for messages.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}
