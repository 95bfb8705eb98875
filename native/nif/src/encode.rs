//! Engine results -> Erlang terms.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use mongoose_system_metrics_engine::event::{Event, ParamValue};
use mongoose_system_metrics_engine::outcome::{SendError, TrackingResult, ValidationMessage};
use mongoose_system_metrics_engine::plan::SendPlan;
use mongoose_system_metrics_engine::value::{InputError, PathElem};
use rustler::sys::{enif_make_map_from_arrays, ErlNifTerm};
use rustler::types::atom::Atom;
use rustler::types::binary::NewBinary;
use rustler::{Encoder, Env, Term};
use std::mem::MaybeUninit;

use crate::atoms;
use crate::decode::WordHasher;

/// A binary term from bytes.
pub fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    let mut bin = NewBinary::new(env, bytes.len());
    bin.as_mut_slice().copy_from_slice(bytes);
    bin.into()
}

fn map<'a>(env: Env<'a>, pairs: Vec<(Term<'a>, Term<'a>)>) -> Term<'a> {
    let (keys, values): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    // Keys are distinct by construction; fall back to an empty map rather than panic.
    Term::map_from_term_arrays(env, &keys, &values).unwrap_or_else(|_| Term::map_new(env))
}

/// `{error, {invalid_input, Path, Reason}}`. Path keys become atoms only when such an atom
/// already exists; otherwise they stay binaries (no atom is ever created from input).
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
    (
        atoms::error(),
        (
            atoms::invalid_input(),
            path,
            binary(env, err.reason.as_bytes()),
        ),
    )
        .encode(env)
}

/// `{ok, Value}`.
pub fn ok<'a>(env: Env<'a>, value: Term<'a>) -> Term<'a> {
    (atoms::ok(), value).encode(env)
}

/// `{error, Reason}`.
pub fn error<'a>(env: Env<'a>, reason: impl Encoder) -> Term<'a> {
    (atoms::error(), reason).encode(env)
}

/// One binary term per distinct text within one call: event names, param names and
/// allowlisted values repeat across events, and terms are immutable, so they can be shared.
/// Texts are told apart by address and length, not content: nearly all are the allowlists'
/// own words, one copy each; another copy of the same text only costs its own binary.
struct Binaries<'a, 'e> {
    env: Env<'a>,
    made: HashMap<(usize, usize), Term<'a>, BuildHasherDefault<WordHasher>>,
    texts: std::marker::PhantomData<&'e str>,
}

impl<'a, 'e> Binaries<'a, 'e> {
    fn get(&mut self, s: &'e str) -> Term<'a> {
        let env = self.env;
        *self
            .made
            .entry((s.as_ptr() as usize, s.len()))
            .or_insert_with(|| binary(env, s.as_bytes()))
    }
}

/// Most params an event map is built for on the stack; checked events have at most 25.
const STACK_PARAMS: usize = 32;

/// A map from raw keys and values of the same length, built straight from the slices (no
/// copy into vectors on the way, as `Term::map_from_term_arrays` makes). Keys are distinct by
/// construction; should they not be, an empty map rather than a panic.
fn raw_map<'a>(env: Env<'a>, keys: &[ErlNifTerm], values: &[ErlNifTerm]) -> Term<'a> {
    let len = keys.len().min(values.len());
    let mut map = MaybeUninit::<ErlNifTerm>::uninit();
    // SAFETY: both arrays hold `len` valid terms of `env`, and `map` is written by the call
    // when it returns non-zero, the only case in which it is read.
    unsafe {
        if enif_make_map_from_arrays(
            env.as_c_arg(),
            keys.as_ptr(),
            values.as_ptr(),
            len,
            map.as_mut_ptr(),
        ) != 0
        {
            return Term::new(env, map.assume_init());
        }
    }
    debug_assert!(false, "duplicate keys in an encoded map");
    Term::map_new(env)
}

/// An event as `#{name := binary(), params := #{binary() => binary() | integer()}}`.
fn event<'a, 'e>(bins: &mut Binaries<'a, 'e>, e: &'e Event) -> Term<'a> {
    let env = bins.env;
    let n = e.params.len();
    let mut stack_keys = [ErlNifTerm::default(); STACK_PARAMS];
    let mut stack_values = [ErlNifTerm::default(); STACK_PARAMS];
    let (mut heap_keys, mut heap_values) = (Vec::new(), Vec::new());
    let (keys, values) = if n <= STACK_PARAMS {
        (&mut stack_keys[..n], &mut stack_values[..n])
    } else {
        heap_keys.resize(n, ErlNifTerm::default());
        heap_values.resize(n, ErlNifTerm::default());
        (&mut heap_keys[..], &mut heap_values[..])
    };
    for (i, (k, v)) in e.params.iter().enumerate() {
        keys[i] = bins.get(k).as_c_arg();
        values[i] = match v {
            ParamValue::Str(s) => bins.get(s),
            ParamValue::Int(n) => n.encode(env),
        }
        .as_c_arg();
    }
    let params = raw_map(env, keys, values);
    let keys = [
        atoms::name().to_term(env).as_c_arg(),
        atoms::params().to_term(env).as_c_arg(),
    ];
    let values = [bins.get(&e.name).as_c_arg(), params.as_c_arg()];
    raw_map(env, &keys, &values)
}

/// A list of events.
pub fn events<'a>(env: Env<'a>, events: &[Event]) -> Term<'a> {
    let mut bins = Binaries {
        env,
        made: HashMap::with_capacity_and_hasher(128, Default::default()),
        texts: std::marker::PhantomData,
    };
    // Equal events (a module on several host types) become one shared term.
    let mut made: HashMap<SameTexts, Term, BuildHasherDefault<WordHasher>> =
        HashMap::with_capacity_and_hasher(events.len(), Default::default());
    events
        .iter()
        .map(|e| {
            *made
                .entry(SameTexts(e))
                .or_insert_with(|| event(&mut bins, e))
        })
        .collect::<Vec<_>>()
        .encode(env)
}

/// An event compared by the addresses of its texts, not their bytes: the allowlists' words
/// are one copy each, so equal events built from them match, cheaply. Stricter than equality
/// (the same text at two addresses differs), so whatever matches is equal.
struct SameTexts<'e>(&'e Event);

fn text_id(s: &str) -> (usize, usize) {
    (s.as_ptr() as usize, s.len())
}

impl Hash for SameTexts<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        text_id(&self.0.name).hash(state);
        for (k, v) in self.0.params.iter() {
            text_id(k).hash(state);
            match v {
                ParamValue::Str(s) => text_id(s).hash(state),
                ParamValue::Int(n) => n.hash(state),
            }
        }
    }
}

impl PartialEq for SameTexts<'_> {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0, other.0);
        text_id(&a.name) == text_id(&b.name)
            && a.params.len() == b.params.len()
            && a.params
                .iter()
                .zip(b.params.iter())
                .all(|((ka, va), (kb, vb))| {
                    text_id(ka) == text_id(kb)
                        && match (va, vb) {
                            (ParamValue::Str(x), ParamValue::Str(y)) => text_id(x) == text_id(y),
                            (ParamValue::Int(x), ParamValue::Int(y)) => x == y,
                            _ => false,
                        }
                })
    }
}

impl Eq for SameTexts<'_> {}

/// `plan_requests/2`'s answer: `[#{tracking_id, url (secret masked), body}]`.
pub fn requests<'a>(env: Env<'a>, plan: &SendPlan) -> Term<'a> {
    let mut out = Vec::new();
    for t in &plan.trackings {
        for r in &t.requests {
            out.push(map(
                env,
                vec![
                    (
                        atoms::tracking_id().encode(env),
                        binary(env, t.tracking_id.as_bytes()),
                    ),
                    (
                        atoms::url().encode(env),
                        binary(env, r.url.masked().as_bytes()),
                    ),
                    (atoms::body().encode(env), binary(env, &r.body)),
                ],
            ));
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
    map(
        env,
        vec![
            (
                binary(env, b"fieldPath"),
                binary(env, m.field_path.as_bytes()),
            ),
            (
                binary(env, b"description"),
                binary(env, m.description.as_bytes()),
            ),
            (
                binary(env, b"validationCode"),
                binary(env, m.validation_code.as_bytes()),
            ),
        ],
    )
}

/// One entry of the result message.
pub fn tracking_result<'a>(env: Env<'a>, r: &TrackingResult) -> Term<'a> {
    let result = match r.result {
        Ok(()) => atoms::ok().encode(env),
        Err(e) => error(env, send_error(env, e)),
    };
    let mut pairs = vec![
        (
            atoms::tracking_id().encode(env),
            binary(env, r.tracking_id.as_bytes()),
        ),
        (atoms::result().encode(env), result),
        (atoms::batches().encode(env), r.batches.encode(env)),
        (atoms::requests().encode(env), r.requests.encode(env)),
        (atoms::events().encode(env), r.events.encode(env)),
    ];
    if let Some(msgs) = &r.validation_messages {
        let list: Vec<Term> = msgs.iter().map(|m| validation_message(env, m)).collect();
        pairs.push((atoms::validation_messages().encode(env), list.encode(env)));
    }
    map(env, pairs)
}
