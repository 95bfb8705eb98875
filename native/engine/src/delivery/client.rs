//! The HTTP clients: one `reqwest::Client` per distinct `cacertfile`, built lazily and reused;
//! at most [`MAX_CLIENTS`] kept (the least recently used is dropped), a failed build not kept.
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

/// At most this many clients are kept (each costs about 100 kB); the least recently used
/// is dropped once a new one is built (a send still using it keeps its own handle).
pub const MAX_CLIENTS: usize = 8;

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
    clients: Mutex<Clients>,
}

/// The slots, each with when it was last asked for (a counter, not a clock).
#[derive(Default)]
struct Clients {
    slots: HashMap<Option<PathBuf>, (Slot, u64)>,
    uses: u64,
}

impl Clients {
    /// The slot for `key` (a new one when there is none), marked as just used.
    fn slot(&mut self, key: Option<PathBuf>) -> Slot {
        self.uses += 1;
        let entry = self.slots.entry(key).or_default();
        entry.1 = self.uses;
        entry.0.clone()
    }

    /// Drops the least recently used slots other than `key`'s until at most [`MAX_CLIENTS`]
    /// are kept.
    fn trim(&mut self, key: &Option<PathBuf>) {
        while self.slots.len() > MAX_CLIENTS {
            let oldest = self
                .slots
                .iter()
                .filter(|(k, _)| *k != key)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(oldest) => self.slots.remove(&oldest),
                None => return,
            };
        }
    }

    /// Forgets `key`'s slot when it is still `slot` and holds no client (a failed build).
    fn forget_failed(&mut self, key: &Option<PathBuf>, slot: &Slot) {
        if let Some((kept, _)) = self.slots.get(key) {
            if Arc::ptr_eq(kept, slot) && !kept.initialized() {
                self.slots.remove(key);
            }
        }
    }
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
        let key = cacertfile.map(Path::to_path_buf);
        let slot = self.lock().slot(key.clone());
        let path = key.clone();
        let got = slot
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || build_client(path.as_deref()))
                    .await
                    .map_err(|_| ClientError::Build("client build task failed".into()))?
            })
            .await
            .cloned();
        match got {
            Ok(_) => self.lock().trim(&key),
            Err(_) => self.lock().forget_failed(&key, &slot),
        }
        got
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Clients> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many clients have been built and are cached.
    pub fn len(&self) -> usize {
        let clients = self.lock();
        clients
            .slots
            .values()
            .filter(|(slot, _)| slot.initialized())
            .count()
    }

    /// How many `cacertfile`s the cache keeps a slot for (built or being built): at most
    /// [`MAX_CLIENTS`] once no build is under way (builds in progress may add one each until
    /// they finish), and a failed build leaves none.
    pub fn kept(&self) -> usize {
        self.lock().slots.len()
    }

    /// Whether a client for `cacertfile` is built and kept.
    pub fn holds(&self, cacertfile: Option<&Path>) -> bool {
        let key = cacertfile.map(Path::to_path_buf);
        self.lock()
            .slots
            .get(&key)
            .is_some_and(|(slot, _)| slot.initialized())
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
