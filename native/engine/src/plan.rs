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

use crate::event::Event;
use crate::ga4;
use crate::json;
use crate::options::SendOptions;
use crate::privacy;
use crate::value::{InputError, PathElem};

/// Checks every event against the privacy rules and GA4's rules: a send can only carry what
/// `build_report` could have produced. The error's path is the event's 1-based position.
pub fn check_events(events: &[Event]) -> Result<(), InputError> {
    for (i, event) in events.iter().enumerate() {
        privacy::check_event(event)
            .and_then(|_| ga4::check_event(event))
            .map_err(|reason| InputError::new(&[PathElem::Index(i + 1)], reason))?;
    }
    Ok(())
}

/// Splits events into request bodies: at most 25 events each and under 130 kB, in order.
/// Returns each body with its event count.
pub fn batch_bodies(
    events: &[Event],
    client_id: &str,
    mode: Mode,
) -> Result<Vec<(Vec<u8>, usize)>, InputError> {
    let head_len = json::body_head(client_id, mode).len();
    let tail_len = 2; // "]}"
                      // All events encoded back to back into one buffer (one allocation, not one per event).
    let mut all = Vec::with_capacity(events.len() * 96);
    let mut ends = Vec::with_capacity(events.len());
    for event in events {
        json::write_compact_event(&mut all, event);
        ends.push(all.len());
    }
    let encoded = ends.iter().scan(0, |start, &end| {
        Some(&all[std::mem::replace(start, end)..end])
    });
    let mut batches = Vec::new();
    let mut current: Vec<&[u8]> = Vec::new();
    let mut size = head_len + tail_len;
    for (i, e) in encoded.enumerate() {
        let extra = e.len() + usize::from(!current.is_empty());
        if head_len + tail_len + e.len() >= ga4::MAX_BODY_BYTES {
            return Err(InputError::new(
                &[PathElem::Index(i + 1)],
                "event too large for one request",
            ));
        }
        if current.len() == ga4::MAX_EVENTS_PER_REQUEST || size + extra >= ga4::MAX_BODY_BYTES {
            batches.push((json::body(client_id, mode, &current), current.len()));
            current.clear();
            size = head_len + tail_len;
        }
        size += e.len() + usize::from(!current.is_empty());
        current.push(e);
    }
    if !current.is_empty() {
        batches.push((json::body(client_id, mode, &current), current.len()));
    }
    Ok(batches)
}

/// The exact requests a send makes: per distinct tracking id, the same batches, to the
/// endpoint with that id and its secret in the query.
pub fn plan(events: &[Event], opts: &SendOptions) -> Result<SendPlan, InputError> {
    check_events(events)?;
    let bodies = batch_bodies(events, &opts.client_id, opts.mode)?;
    let endpoint = opts.endpoint();
    let mut bodies = Some(bodies);
    let last = opts.tracking_ids.len().saturating_sub(1);
    let trackings = opts
        .tracking_ids
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let url = SecretUrl::new(&endpoint, &t.id, &t.secret);
            // Every tracking id gets the same bodies: the last one takes them, the others copy.
            let bodies = if i == last {
                bodies.take().unwrap_or_default()
            } else {
                bodies.clone().unwrap_or_default()
            };
            TrackingPlan {
                tracking_id: t.id.clone(),
                requests: bodies
                    .into_iter()
                    .map(|(body, n)| PlannedRequest {
                        url: url.clone(),
                        body,
                        events: n,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(SendPlan {
        trackings,
        mode: opts.mode,
        timeout: opts.timeout,
        max_retries: opts.max_retries,
        cacertfile: opts.cacertfile.clone(),
    })
}
