//! Send options (`send_report/2`, `plan_requests/2`), read and checked.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::node::value::read::{atom, atom_keyed_map, index, key, list, non_neg, text};
use crate::node::value::{InputError, PathElem, Value};
use crate::wire::ga4::{self, Mode};
use crate::wire::secret::Secret;

/// Deepest nesting of valid options: map > tracking_ids list > map (> string as a list).
pub const OPTIONS_MAX_DEPTH: usize = 4;
/// Default limit for one HTTP attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5_000);
/// Longest accepted `timeout_ms`.
pub const MAX_TIMEOUT_MS: i64 = 300_000;
/// Default retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Most accepted `max_retries`.
pub const MAX_RETRIES_CAP: i64 = 10;

/// A GA4 property to report to: its measurement id and Measurement Protocol API secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingId {
    /// Measurement id, as given.
    pub id: String,
    /// API secret; never printed.
    pub secret: Secret,
    /// Whether the id is 1-64 chars of `[A-Za-z0-9_-]` and the secret non-empty printable
    /// text. An invalid one stands alone: it gets its own `invalid_tracking_id` result and
    /// the other ids are sent as usual.
    pub valid: bool,
}

/// Most tracking ids one send takes.
pub const MAX_TRACKING_IDS: usize = 16;

/// Checked send options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOptions {
    /// GA4 `client_id`.
    pub client_id: String,
    /// Distinct tracking ids, in the order given.
    pub tracking_ids: Vec<TrackingId>,
    /// The collection endpoint (validate mode derives `/debug/mp/collect` from it).
    pub url: Url,
    /// Collect or validate.
    pub mode: Mode,
    /// Limit for one HTTP attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Extra trusted CA bundle.
    pub cacertfile: Option<PathBuf>,
}

fn valid_tracking_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

fn valid_secret(secret: &str) -> bool {
    !secret.is_empty() && !secret.chars().any(char::is_control)
}

fn valid_client_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(&c))
}

impl SendOptions {
    /// Reads options out of a decoded term. A `notify` key holding a local pid is accepted
    /// and left to the caller (the NIF), which resolves it.
    pub fn from_value(v: &Value) -> Result<SendOptions, InputError> {
        let (mut client_id, mut tracking_ids) = (None, None);
        let mut opts = SendOptions {
            client_id: String::new(),
            tracking_ids: Vec::new(),
            url: default_url(),
            mode: Mode::Collect,
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            cacertfile: None,
        };
        for (name, value) in atom_keyed_map(v, &[])? {
            let path = key(&[], name);
            match name {
                "client_id" => {
                    let id = text(value, &path)?;
                    if !valid_client_id(&id) {
                        return Err(InputError::new(
                            &path,
                            "must be 1-128 characters of [A-Za-z0-9._:-]",
                        ));
                    }
                    client_id = Some(id);
                }
                "tracking_ids" => tracking_ids = Some(read_tracking_ids(value, &path)?),
                "url" => opts.url = parse_url(&text(value, &path)?, &path)?,
                "mode" => {
                    opts.mode = match atom(value, &path)? {
                        "collect" => Mode::Collect,
                        "validate" => Mode::Validate,
                        _ => return Err(InputError::new(&path, "expected collect or validate")),
                    }
                }
                "timeout_ms" => {
                    let ms = non_neg(value, &path)?;
                    if !(1..=MAX_TIMEOUT_MS).contains(&ms) {
                        return Err(InputError::new(
                            &path,
                            format!("expected an integer from 1 to {MAX_TIMEOUT_MS}"),
                        ));
                    }
                    opts.timeout = Duration::from_millis(ms as u64);
                }
                "max_retries" => {
                    let n = non_neg(value, &path)?;
                    if n > MAX_RETRIES_CAP {
                        return Err(InputError::new(
                            &path,
                            format!("expected an integer from 0 to {MAX_RETRIES_CAP}"),
                        ));
                    }
                    opts.max_retries = n as u32;
                }
                "cacertfile" => {
                    let file = text(value, &path)?;
                    if file.is_empty() {
                        return Err(InputError::new(&path, "must not be empty"));
                    }
                    opts.cacertfile = Some(PathBuf::from(file));
                }
                "notify" => {
                    if !matches!(value, Value::Other("pid")) {
                        return Err(InputError::new(&path, "expected a local pid"));
                    }
                }
                _ => return Err(InputError::new(&path, "unknown key")),
            }
        }
        opts.client_id =
            client_id.ok_or_else(|| InputError::new(&[], "missing required key client_id"))?;
        opts.tracking_ids = tracking_ids
            .ok_or_else(|| InputError::new(&[], "missing required key tracking_ids"))?;
        Ok(opts)
    }

    /// The URL requests go to: the endpoint, or in validate mode its `/debug/mp/collect`.
    pub fn endpoint(&self) -> Url {
        match self.mode {
            Mode::Collect => self.url.clone(),
            Mode::Validate => ga4::validation_url(&self.url),
        }
    }
}

/// GA4's default endpoint.
pub fn default_url() -> Url {
    // A constant that parses; covered by a unit test.
    Url::parse(ga4::DEFAULT_URL).expect("DEFAULT_URL is a valid URL")
}

fn parse_url(s: &str, path: &[PathElem]) -> Result<Url, InputError> {
    let url = Url::parse(s).map_err(|_| InputError::new(path, "not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(InputError::new(
            path,
            "must be an http or https URL with a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(InputError::new(
            path,
            "must not carry credentials or a fragment",
        ));
    }
    Ok(url)
}

fn read_tracking_ids(v: &Value, path: &[PathElem]) -> Result<Vec<TrackingId>, InputError> {
    let items = list(v, path)?;
    if items.is_empty() {
        return Err(InputError::new(path, "must not be empty"));
    }
    if items.len() > MAX_TRACKING_IDS {
        return Err(InputError::new(path, "at most 16 tracking ids"));
    }
    let mut out: Vec<TrackingId> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index(path, i);
        let (mut id, mut secret) = (None, None);
        for (name, value) in atom_keyed_map(item, &item_path)? {
            let p = key(&item_path, name);
            match name {
                "id" => id = Some(text(value, &p)?),
                // The reason never quotes the value: it is a secret.
                "secret" => {
                    secret =
                        Some(Secret::new(text(value, &p).map_err(|_| {
                            InputError::new(&p, "expected a binary or a string")
                        })?))
                }
                _ => return Err(InputError::new(&p, "unknown key")),
            }
        }
        let id = id.ok_or_else(|| InputError::new(&item_path, "missing required key id"))?;
        let secret =
            secret.ok_or_else(|| InputError::new(&item_path, "missing required key secret"))?;
        let valid = valid_tracking_id(&id) && valid_secret(secret.expose());
        // The first valid entry of an id wins; an invalid one only stands for the id until then.
        match out.iter_mut().find(|t| t.id == id) {
            None => out.push(TrackingId { id, secret, valid }),
            Some(t) if !t.valid && valid => *t = TrackingId { id, secret, valid },
            Some(_) => {}
        }
    }
    Ok(out)
}
