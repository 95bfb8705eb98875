//! Turning checked events and send options into the exact HTTP requests to make.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use crate::node::value::{InputError, PathElem};
use crate::report::event::Event;
use crate::report::privacy;
use crate::wire::ga4::{self, Mode};
use crate::wire::json;
use crate::wire::options::SendOptions;
use crate::wire::secret::SecretUrl;

/// One HTTP POST: a batch of at most 25 events, body under 130 kB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    /// Full URL; `Debug` masks the secret.
    pub url: SecretUrl,
    /// The JSON body; shared, not copied, between tracking ids, attempts and sends.
    pub body: Bytes,
    /// Number of events in the body.
    pub events: usize,
}

/// All requests for one tracking id, sent in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingPlan {
    /// The measurement id.
    pub tracking_id: String,
    /// False for an invalid id: nothing is sent for it, its result is `invalid_tracking_id`.
    pub valid: bool,
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

/// Events encoded once, compact, back to back, ready to be cut into request bodies for any
/// client id and mode. Building one checks that every event fits in a request; it does not
/// apply the privacy and GA4 checks (see [`check_events`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvents {
    /// Every event's compact JSON, back to back (one allocation, not one per event).
    bytes: Vec<u8>,
    /// Where each event ends in `bytes`.
    ends: Vec<usize>,
}

impl EncodedEvents {
    /// Encodes `events`; an event too large for a request body is an error at its position.
    pub fn new(events: &[Event]) -> Result<Self, InputError> {
        // The longest head (validate mode, longest client id) bounds every body's overhead.
        let overhead = json::MAX_BODY_HEAD_BYTES + 2; // + "]}"
        let mut bytes = Vec::with_capacity(events.len() * 96);
        let mut ends = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            let start = bytes.len();
            json::write_compact_event(&mut bytes, event);
            if overhead + bytes.len() - start >= ga4::MAX_BODY_BYTES {
                return Err(InputError::new(
                    &[PathElem::Index(i + 1)],
                    "event too large for one request",
                ));
            }
            ends.push(bytes.len());
        }
        Ok(EncodedEvents { bytes, ends })
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.ends.iter().scan(0, |start, &end| {
            Some(&self.bytes[std::mem::replace(start, end)..end])
        })
    }

    /// The request bodies for `client_id` and `mode`: at most 25 events each and under
    /// 130 kB, in order, each with its event count.
    pub fn bodies(&self, client_id: &str, mode: Mode) -> Vec<(Bytes, usize)> {
        let head_len = json::body_head(client_id, mode).len();
        let tail_len = 2; // "]}"
        let mut batches = Vec::new();
        let mut current: Vec<&[u8]> = Vec::new();
        let mut size = head_len + tail_len;
        for e in self.iter() {
            let extra = e.len() + usize::from(!current.is_empty());
            if current.len() == ga4::MAX_EVENTS_PER_REQUEST || size + extra >= ga4::MAX_BODY_BYTES {
                batches.push((json::body(client_id, mode, &current).into(), current.len()));
                current.clear();
                size = head_len + tail_len;
            }
            size += e.len() + usize::from(!current.is_empty());
            current.push(e);
        }
        if !current.is_empty() {
            batches.push((json::body(client_id, mode, &current).into(), current.len()));
        }
        batches
    }
}

/// Splits events into request bodies: at most 25 events each and under 130 kB, in order.
/// Returns each body with its event count.
pub fn batch_bodies(
    events: &[Event],
    client_id: &str,
    mode: Mode,
) -> Result<Vec<(Bytes, usize)>, InputError> {
    Ok(EncodedEvents::new(events)?.bodies(client_id, mode))
}

/// The exact requests a send makes: per distinct tracking id, the same batches, to the
/// endpoint with that id and its secret in the query.
pub fn plan(events: &[Event], opts: &SendOptions) -> Result<SendPlan, InputError> {
    check_events(events)?;
    let bodies = EncodedEvents::new(events)?.bodies(&opts.client_id, opts.mode);
    Ok(plan_bodies(&bodies, opts))
}

/// [`plan`] for request bodies already cut (see [`EncodedEvents::bodies`]) for `opts`'s
/// client id and mode. Every tracking id shares the same bodies.
pub fn plan_bodies(bodies: &[(Bytes, usize)], opts: &SendOptions) -> SendPlan {
    let endpoint = opts.endpoint();
    let trackings = opts
        .tracking_ids
        .iter()
        .map(|t| {
            if !t.valid {
                return TrackingPlan {
                    tracking_id: t.id.clone(),
                    valid: false,
                    requests: Vec::new(),
                };
            }
            let url = SecretUrl::new(&endpoint, &t.id, &t.secret);
            TrackingPlan {
                tracking_id: t.id.clone(),
                valid: true,
                requests: bodies
                    .iter()
                    .map(|(body, n)| PlannedRequest {
                        url: url.clone(),
                        body: body.clone(),
                        events: *n,
                    })
                    .collect(),
            }
        })
        .collect();
    SendPlan {
        trackings,
        mode: opts.mode,
        timeout: opts.timeout,
        max_retries: opts.max_retries,
        cacertfile: opts.cacertfile.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::value::Value;
    use crate::wire::options::SendOptions;

    fn opts() -> SendOptions {
        let bin = |s: &str| Value::Binary(s.as_bytes().to_vec());
        let key = |s: &str| Value::Atom(s.into());
        let tracking = Value::Map(vec![(key("id"), bin("G-ONE")), (key("secret"), bin("s"))]);
        SendOptions::from_value(&Value::Map(vec![
            (key("client_id"), bin("cid")),
            (key("tracking_ids"), Value::List(vec![tracking])),
        ]))
        .expect("valid options")
    }

    #[test]
    fn a_plan_posts_the_encoded_bodies() {
        let events: Vec<Event> = (0..60)
            .map(|i| Event::new("host_count", [("value", i64::from(i))]))
            .collect();
        let encoded = EncodedEvents::new(&events).expect("encodable");
        assert_eq!(encoded.len(), 60);
        let planned: Vec<(Bytes, usize)> = plan(&events, &opts()).expect("plan").trackings[0]
            .requests
            .iter()
            .map(|r| (r.body.clone(), r.events))
            .collect();
        assert_eq!(planned, encoded.bodies("cid", Mode::Collect));
    }
}
