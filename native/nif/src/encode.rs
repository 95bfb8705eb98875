//! Engine results into Erlang terms.

use std::collections::HashMap;

use mongoose_system_metrics_engine::delivery::outcome::{
    SendError, TrackingResult, ValidationMessage,
};
use mongoose_system_metrics_engine::node::value::{InputError, PathElem};
use mongoose_system_metrics_engine::report::event::{Event, ParamValue};
use mongoose_system_metrics_engine::wire::plan::SendPlan;
use rustler::types::atom::Atom;
use rustler::types::binary::NewBinary;
use rustler::{Encoder, Env, Term};

use crate::atoms;

/// A binary term from bytes.
pub fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    let mut bin = NewBinary::new(env, bytes.len());
    bin.as_mut_slice().copy_from_slice(bytes);
    bin.into()
}

/// A map of distinct keys (every caller's keys are fixed names or an event's params, which
/// are distinct); should two ever be equal, an empty map rather than a panic.
fn map<'a>(env: Env<'a>, keys: &[Term<'a>], values: &[Term<'a>]) -> Term<'a> {
    Term::map_from_term_arrays(env, keys, values).unwrap_or_else(|_| Term::map_new(env))
}

/// `{error, {invalid_input, Path, Reason}}`. A path key becomes an atom only when that atom
/// already exists; otherwise it stays a binary (no atom is ever created from input).
pub fn input_error<'a>(env: Env<'a>, err: &InputError) -> Term<'a> {
    let path: Vec<Term> = err
        .path
        .iter()
        .map(|elem| match elem {
            PathElem::Key(k) => match Atom::existing_from_utf8_bytes(env, k.as_bytes()) {
                Ok(atom) => atom.encode(env),
                _ => binary(env, k.as_bytes()),
            },
            PathElem::Index(i) => i.encode(env),
        })
        .collect();
    let reason = binary(env, err.reason.as_bytes());
    error(env, (atoms::invalid_input(), path, reason))
}

/// `{ok, Value}`.
pub fn ok<'a>(env: Env<'a>, value: impl Encoder) -> Term<'a> {
    (atoms::ok(), value).encode(env)
}

/// `{error, Reason}`.
pub fn error<'a>(env: Env<'a>, reason: impl Encoder) -> Term<'a> {
    (atoms::error(), reason).encode(env)
}

/// Events as `[#{name := binary(), params := #{binary() => binary() | integer()}}]`. Equal
/// texts and equal events (a module on several host types) become one shared term each, so
/// a large report costs the caller's heap little.
pub fn events<'a, 'e>(env: Env<'a>, events: &'e [Event]) -> Term<'a> {
    let mut texts: HashMap<&'e str, Term<'a>> = HashMap::new();
    let mut text = |s: &'e str| *texts.entry(s).or_insert_with(|| binary(env, s.as_bytes()));
    let mut made: HashMap<&'e Event, Term<'a>> = HashMap::new();
    let mut list = Vec::with_capacity(events.len());
    for e in events {
        let term = match made.get(e) {
            Some(term) => *term,
            None => {
                let (mut keys, mut values) = (Vec::new(), Vec::new());
                for (k, v) in e.params.iter() {
                    keys.push(text(k));
                    values.push(match v {
                        ParamValue::Str(s) => text(s),
                        ParamValue::Int(n) => n.encode(env),
                    });
                }
                let params = map(env, &keys, &values);
                let names = [atoms::name().encode(env), atoms::params().encode(env)];
                let term = map(env, &names, &[text(&e.name), params]);
                made.insert(e, term);
                term
            }
        };
        list.push(term);
    }
    list.encode(env)
}

/// `plan_requests/2`'s answer: `[#{tracking_id, url (secret masked), body}]`.
pub fn requests<'a>(env: Env<'a>, plan: &SendPlan) -> Term<'a> {
    let keys = [
        atoms::tracking_id().encode(env),
        atoms::url().encode(env),
        atoms::body().encode(env),
    ];
    let mut out = Vec::new();
    for t in &plan.trackings {
        for r in &t.requests {
            let values = [
                binary(env, t.tracking_id.as_bytes()),
                binary(env, r.url.masked().as_bytes()),
                binary(env, &r.body),
            ];
            out.push(map(env, &keys, &values));
        }
    }
    out.encode(env)
}

fn send_error<'a>(env: Env<'a>, e: SendError) -> Term<'a> {
    match e {
        SendError::Timeout => atoms::timeout().encode(env),
        SendError::ConnectError => atoms::connect_error().encode(env),
        SendError::TlsError => atoms::tls_error().encode(env),
        SendError::HttpStatus(n) => (atoms::http_status(), n).encode(env),
        SendError::RateLimited => atoms::rate_limited().encode(env),
        SendError::Cancelled => atoms::cancelled().encode(env),
        SendError::InvalidTrackingId => atoms::invalid_tracking_id().encode(env),
        SendError::Internal => atoms::internal_error().encode(env),
    }
}

fn validation_message<'a>(env: Env<'a>, m: &ValidationMessage) -> Term<'a> {
    let keys = [
        binary(env, b"fieldPath"),
        binary(env, b"description"),
        binary(env, b"validationCode"),
    ];
    let values = [
        binary(env, m.field_path.as_bytes()),
        binary(env, m.description.as_bytes()),
        binary(env, m.validation_code.as_bytes()),
    ];
    map(env, &keys, &values)
}

/// One entry of the result message.
pub fn tracking_result<'a>(env: Env<'a>, r: &TrackingResult) -> Term<'a> {
    let result = match r.result {
        Ok(()) => atoms::ok().encode(env),
        Err(e) => error(env, send_error(env, e)),
    };
    let mut keys = vec![
        atoms::tracking_id().encode(env),
        atoms::result().encode(env),
        atoms::batches().encode(env),
        atoms::requests().encode(env),
        atoms::events().encode(env),
    ];
    let mut values = vec![
        binary(env, r.tracking_id.as_bytes()),
        result,
        r.batches.encode(env),
        r.requests.encode(env),
        r.events.encode(env),
    ];
    if let Some(msgs) = &r.validation_messages {
        let list: Vec<Term> = msgs.iter().map(|m| validation_message(env, m)).collect();
        keys.push(atoms::validation_messages().encode(env));
        values.push(list.encode(env));
    }
    map(env, &keys, &values)
}
