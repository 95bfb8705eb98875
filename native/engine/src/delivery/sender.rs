//! Executing a [`SendPlan`]: the HTTP requests, their retries, and the per-tracking-id results.
//!
//! Tracking ids are sent in parallel, at most [`MAX_PARALLEL_TRACKING_IDS`] at a time (the
//! others wait their turn); the batches of one tracking id in order, stopping at the
//! first batch that finally fails. Each attempt is limited by `plan.timeout` (connect, send and
//! reading at most [`MAX_ANSWER_BYTES`] of the answer). Cancellation stops everything at once:
//! the tracking ids not yet finished report [`SendError::Cancelled`].
//!
//! The api_secret is in the request URL. reqwest errors carry the URL, so they are stripped
//! (`without_url`) and never formatted; only [`SecretUrl`](crate::wire::secret::SecretUrl)'s masked
//! form is ever shown.

use std::error::Error as StdError;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt};
use futures_util::FutureExt;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use tokio_util::sync::CancellationToken;

use crate::delivery::client::ClientCache;
use crate::delivery::outcome::{SendError, TrackingResult, ValidationMessage};
use crate::delivery::retry::{parse_retry_after, Attempt, Decision, RandomJitter, RetryPolicy};
use crate::delivery::validation::{parse_validation_messages, MAX_VALIDATION_MESSAGES};
use crate::wire::ga4::Mode;
use crate::wire::plan::{PlannedRequest, SendPlan, TrackingPlan};

/// At most this many tracking ids of one send are being sent at the same time (the contract:
/// at most 16 ids per send, 4 at a time), so a send never opens more than this many
/// connections at once.
pub const MAX_PARALLEL_TRACKING_IDS: usize = 4;

/// At most this much of an answer body is read.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Sends every request of `plan` and reports one [`TrackingResult`] per tracking id, in the
/// plan's order.
///
/// Must run within a Tokio runtime with time and I/O enabled; the client for
/// `plan.cacertfile` is taken from (or built into) `clients`. Cancelling `cancel` ends the
/// send promptly; tracking ids that had not finished report [`SendError::Cancelled`].
pub async fn execute(
    plan: SendPlan,
    clients: &ClientCache,
    cancel: CancellationToken,
) -> Vec<TrackingResult> {
    let validate = plan.mode == Mode::Validate;
    if plan.trackings.is_empty() {
        return Vec::new();
    }
    if cancel.is_cancelled() {
        return failed_results(&plan, SendError::Cancelled);
    }
    let needs_client = plan.trackings.iter().any(|t| !t.requests.is_empty());
    let client = if needs_client {
        let got = tokio::select! {
            biased;
            _ = cancel.cancelled() => return failed_results(&plan, SendError::Cancelled),
            got = clients.get(plan.cacertfile.as_deref()) => got,
        };
        match got {
            Ok(client) => Some(client),
            Err(_) => return failed_results(&plan, SendError::TlsError),
        }
    } else {
        None
    };

    // Dropping this future (e.g. the task is aborted) cancels every tracking id's part.
    let local = cancel.child_token();
    let _stop_children = local.clone().drop_guard();
    let shared = Shared {
        secrets: secrets_of(&plan),
        client,
        timeout: plan.timeout,
        policy: RetryPolicy::new(plan.max_retries),
        validate,
    };
    // The tracking ids run side by side within this task (no task of their own to spawn), at
    // most MAX_PARALLEL_TRACKING_IDS at once, results in the plan's order; a panic in one is that tracking id's `Internal` error.
    let (shared, local) = (&shared, &local);
    let parts = plan.trackings.into_iter().map(|tracking| async move {
        if !tracking.valid {
            return invalid_result(tracking.tracking_id, validate);
        }
        let (tracking_id, batches) = (tracking.tracking_id.clone(), tracking.requests.len());
        let sent = AssertUnwindSafe(send_tracking(shared, tracking, local.clone()));
        match sent.catch_unwind().await {
            Ok(result) => result,
            Err(_) => TrackingResult {
                tracking_id,
                result: Err(if local.is_cancelled() {
                    SendError::Cancelled
                } else {
                    SendError::Internal
                }),
                batches,
                requests: 0,
                events: 0,
                validation_messages: validate.then(Vec::new),
            },
        }
    });
    stream::iter(parts)
        .buffered(MAX_PARALLEL_TRACKING_IDS)
        .collect()
        .await
}

/// The api_secrets of `plan`'s requests, decoded and as they appear in the URL.
fn secrets_of(plan: &SendPlan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for request in plan.trackings.iter().flat_map(|t| t.requests.first()) {
        let url = request.url.expose();
        if let Some((_, secret)) = url.query_pairs().find(|(k, _)| k == "api_secret") {
            out.push(secret.into_owned());
        }
        for pair in url.query().unwrap_or("").split('&') {
            if let Some(raw) = pair.strip_prefix("api_secret=") {
                out.push(raw.to_string());
            }
        }
    }
    out.retain(|s| !s.is_empty());
    // Longest first, so a secret containing another is masked whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// The result of an invalid tracking id: nothing planned, nothing sent.
fn invalid_result(tracking_id: String, validate: bool) -> TrackingResult {
    TrackingResult {
        tracking_id,
        result: Err(SendError::InvalidTrackingId),
        batches: 0,
        requests: 0,
        events: 0,
        validation_messages: validate.then(Vec::new),
    }
}

/// One result per tracking id of `plan`, all failed with `error` (invalid ids with their
/// own error), nothing sent.
pub fn failed_results(plan: &SendPlan, error: SendError) -> Vec<TrackingResult> {
    let validate = plan.mode == Mode::Validate;
    plan.trackings
        .iter()
        .map(|t| match t.valid {
            false => invalid_result(t.tracking_id.clone(), validate),
            true => TrackingResult {
                tracking_id: t.tracking_id.clone(),
                result: Err(error),
                batches: t.requests.len(),
                requests: 0,
                events: 0,
                validation_messages: validate.then(Vec::new),
            },
        })
        .collect()
}

/// What the tracking ids of one send share.
struct Shared {
    client: Option<reqwest::Client>,
    /// Every api_secret of the send, as given and as written in the URL: masked in whatever
    /// text the endpoint sends back.
    secrets: Vec<String>,
    timeout: Duration,
    policy: RetryPolicy,
    validate: bool,
}

/// The batches of one tracking id, in order, with retries; a batch that fails does not stop
/// the next ones.
async fn send_tracking(
    shared: &Shared,
    tracking: TrackingPlan,
    cancel: CancellationToken,
) -> TrackingResult {
    let mut out = TrackingResult {
        tracking_id: tracking.tracking_id,
        result: Ok(()),
        batches: tracking.requests.len(),
        requests: 0,
        events: 0,
        validation_messages: shared.validate.then(Vec::new),
    };
    let Some(client) = shared.client.as_ref() else {
        // Only possible when there is nothing to send.
        if out.batches > 0 {
            out.result = Err(SendError::Internal);
        }
        return out;
    };
    for request in &tracking.requests {
        let mut attempts: u32 = 0;
        loop {
            if cancel.is_cancelled() {
                out.result = Err(SendError::Cancelled);
                return out;
            }
            attempts = attempts.saturating_add(1);
            out.requests += 1;
            let answer = tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    out.result = Err(SendError::Cancelled);
                    return out;
                }
                answer = attempt(client, request, shared) => answer,
            };
            if answer.attempt == Attempt::Success {
                out.events += request.events;
                if let Some(all) = out.validation_messages.as_mut() {
                    let room = MAX_VALIDATION_MESSAGES.saturating_sub(all.len());
                    all.extend(answer.messages.into_iter().take(room));
                }
            }
            match shared
                .policy
                .decide(attempts, &answer.attempt, &mut RandomJitter)
            {
                Decision::Finish(Ok(())) => break,
                // The next batches are still sent, as MongooseIM sends them; the first
                // failure is the tracking id's result.
                Decision::Finish(Err(error)) => {
                    if out.result.is_ok() {
                        out.result = Err(error);
                    }
                    break;
                }
                Decision::RetryAfter(wait) => {
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => {
                            out.result = Err(SendError::Cancelled);
                            return out;
                        }
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }
    out
}

/// What one attempt came to, with the validation messages of a 2xx answer.
struct Answer {
    attempt: Attempt,
    messages: Vec<ValidationMessage>,
}

impl From<Attempt> for Answer {
    fn from(attempt: Attempt) -> Self {
        Answer {
            attempt,
            messages: Vec::new(),
        }
    }
}

/// One POST, limited by `timeout` as a whole.
async fn attempt(client: &reqwest::Client, request: &PlannedRequest, shared: &Shared) -> Answer {
    match tokio::time::timeout(shared.timeout, attempt_unlimited(client, request, shared)).await {
        Ok(answer) => answer,
        Err(_elapsed) => Attempt::Timeout.into(),
    }
}

async fn attempt_unlimited(
    client: &reqwest::Client,
    request: &PlannedRequest,
    shared: &Shared,
) -> Answer {
    let sent = client
        .post(request.url.expose().clone())
        .header(CONTENT_TYPE, "application/json")
        .body(request.body.clone())
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => return classify(e).into(),
    };
    let status = response.status();
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        return Attempt::Status {
            status: status.as_u16(),
            retry_after,
        }
        .into();
    }
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ANSWER_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(e) => return classify(e).into(),
        }
    }
    Answer {
        attempt: Attempt::Success,
        messages: if shared.validate {
            parse_validation_messages(&body, &shared.secrets)
        } else {
            Vec::new()
        },
    }
}

/// Classifies a failed request. The error (which prints the URL) is dropped here.
fn classify(err: reqwest::Error) -> Attempt {
    let err = err.without_url();
    if err.is_timeout() {
        Attempt::Timeout
    } else if is_tls_error(&err) {
        Attempt::TlsError
    } else {
        Attempt::ConnectError
    }
}

/// Whether a `rustls::Error` is anywhere in the source chain, looking inside `io::Error`s
/// (whose `source()` skips the wrapped error itself).
pub fn is_tls_error(err: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = cur {
        depth += 1;
        if depth > 32 {
            return false;
        }
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if is_tls_error(inner) {
                    return true;
                }
            }
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rustls_errors_inside_io_errors() {
        let tls = rustls::Error::General("bad".into());
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        assert!(is_tls_error(&Outer(io)));
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(!is_tls_error(&Outer(plain)));
    }
}
