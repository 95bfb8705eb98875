//! What a send reports back, per tracking id.

use thiserror::Error;

/// Why the requests for one tracking id did not all succeed.
/// The `Display` forms are the Erlang atoms of the result message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SendError {
    /// An attempt did not complete within `timeout_ms`.
    #[error("timeout")]
    Timeout,
    /// The TCP connection could not be made (refused, reset, unreachable, DNS).
    #[error("connect_error")]
    ConnectError,
    /// TLS failed: unknown CA, wrong host name, unreadable `cacertfile`.
    #[error("tls_error")]
    TlsError,
    /// The endpoint answered a non-2xx status that is not retried, or retries ran out.
    #[error("http_status {0}")]
    HttpStatus(u16),
    /// 429 with retries exhausted, or a Retry-After beyond the 30 s cap.
    #[error("rate_limited")]
    RateLimited,
    /// `cancel/1` or `cancel_all/0` stopped the send.
    #[error("cancelled")]
    Cancelled,
    /// The tracking id (or its secret) is not valid: nothing was sent for it.
    #[error("invalid_tracking_id")]
    InvalidTrackingId,
    /// A bug: a task panicked or the runtime could not run it.
    #[error("internal_error")]
    Internal,
}

/// One message from GA4's validation server (`/debug/mp/collect`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationMessage {
    /// `fieldPath`, e.g. `events`.
    pub field_path: String,
    /// `description`, human readable.
    pub description: String,
    /// `validationCode`, e.g. `NAME_INVALID`.
    pub validation_code: String,
}

/// The outcome of sending all batches planned for one tracking id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingResult {
    /// The measurement id (never the secret).
    pub tracking_id: String,
    /// `Ok` only when every batch got a 2xx answer.
    pub result: Result<(), SendError>,
    /// Batches planned.
    pub batches: usize,
    /// HTTP requests made, retries included.
    pub requests: usize,
    /// Events in batches that were answered 2xx.
    pub events: usize,
    /// In validate mode, the validation server's messages over all batches; `None` in collect mode.
    pub validation_messages: Option<Vec<ValidationMessage>>,
}
