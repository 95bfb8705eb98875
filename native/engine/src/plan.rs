//! Turning checked events and send options into the exact HTTP requests to make.

use std::path::PathBuf;
use std::time::Duration;

use crate::secret::SecretUrl;

/// Where the request goes: GA4's collection endpoint or its validation server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `/mp/collect`: events are recorded.
    Collect,
    /// `/debug/mp/collect` with `ENFORCE_RECOMMENDATIONS`: events are only checked.
    Validate,
}

/// One HTTP POST: a batch of at most 25 events, body under 130 kB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    /// Full URL; `Debug` masks the secret.
    pub url: SecretUrl,
    /// The JSON body.
    pub body: Vec<u8>,
    /// Number of events in the body.
    pub events: usize,
}

/// All requests for one tracking id, sent in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingPlan {
    /// The measurement id.
    pub tracking_id: String,
    /// The batches, in order.
    pub requests: Vec<PlannedRequest>,
}

/// Everything a send needs: the requests and the policy that governs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPlan {
    /// One entry per distinct tracking id, in the order given.
    pub trackings: Vec<TrackingPlan>,
    /// Collect or validate.
    pub mode: Mode,
    /// Limit for each HTTP attempt (connect, send, read the answer).
    pub timeout: Duration,
    /// Attempts after the first, for retryable failures only.
    pub max_retries: u32,
    /// An extra trusted CA bundle (PEM) added to the system roots.
    pub cacertfile: Option<PathBuf>,
}
