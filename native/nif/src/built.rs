//! The reports this VM's `build_report/1` produced lately, so that `send_report/2` can
//! recognise them. Events that match a report built here exactly (the same events, names,
//! params and values, as binaries and integers) are what build_report produced, so sending
//! them decodes nothing: the report is checked and encoded once, before its first send, and
//! each send only compares the events and reads its options. Any other events are decoded
//! and checked in full. This is the service's own pattern: build, then send.
//!
//! The first two sends of a report compare the events term with the built events, item by
//! item; the second keeps a copy of the term, and later sends compare with that copy in one
//! VM call (`enif_is_identical`, about three times cheaper). The plan of the last send of each report
//! is kept too, with a copy of its options: the same options again (e.g. every send of a
//! flood) reuse it, bodies shared, nothing re-read. build_report itself copies nothing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::event::{Event, ParamValue};
use mongoose_system_metrics_engine::options::OPTIONS_MAX_DEPTH;
use mongoose_system_metrics_engine::plan::{self, EncodedEvents, SendPlan};
use mongoose_system_metrics_engine::value::InputError;
use once_cell::sync::OnceCell;
use rustler::env::SavedTerm;
use rustler::{Binary, OwnedEnv, Term, TermType};

use crate::atoms;
use crate::decode::{decode_bounded, list_length_upto};
use crate::map_iter;

/// Reports kept: the last few built (one node builds one report per interval; a second slot
/// covers a preview or a validation built in between).
const KEPT: usize = 2;

/// Most events a kept report may hold (a realistic node gives about 80). A larger report
/// is not kept: comparing, copying and encoding it would be too much work for the caller's
/// scheduler, so its sends go the full way, on a dirty one. At 300 events of at most 25
/// params, a kept report is also within the full path's 10,000-item input limit.
const MAX_KEPT_EVENTS: usize = 300;

/// Most steps (see `Reading`) to read the options on the caller's scheduler: ordinary
/// options take under 100, a few hundred characters given as strings about 1,000.
const MAX_OPTION_STEPS: usize = 2_000;

/// One report built here.
struct BuiltReport {
    events: Vec<Event>,
    /// Encoded on the first send, once; `None` if an event does not fit in a request (not
    /// possible for built events, but then the full path reports it).
    encoded: OnceCell<Option<Arc<EncodedEvents>>>,
    /// What later sends compare with: after a second send that matched, a copy of its events
    /// term.
    term: Mutex<Kept>,
    /// The last send's options (a copy) and the plan made from them.
    last_plan: Mutex<Option<LastPlan>>,
}

struct KeptTerm {
    env: OwnedEnv,
    term: SavedTerm,
}

/// How far the sends of a built report went.
enum Kept {
    /// Not sent yet.
    Nothing,
    /// Sent once, matched item by item.
    Matched,
    /// Sent twice or more: a copy of the events term, compared in one VM call.
    Term(KeptTerm),
}

impl KeptTerm {
    fn new(term: Term) -> Self {
        let env = OwnedEnv::new();
        let term = env.save(term);
        KeptTerm { env, term }
    }

    /// `==` on terms is enif_is_identical (=:=): 1 and 1.0 differ.
    fn is(&self, term: Term) -> bool {
        self.env.run(|env| self.term.load(env) == term)
    }
}

impl BuiltReport {
    /// Whether `list` is this report, as build_report returned it.
    fn is(&self, list: Term) -> bool {
        let mut kept = lock(&self.term);
        match &*kept {
            Kept::Term(term) => return term.is(list),
            Kept::Nothing | Kept::Matched => {}
        }
        let matches = list_matches(list, &self.events);
        if matches {
            // The copy pays off from the third send of a report on: the service sends each
            // report once, so only a report sent twice is copied.
            *kept = match *kept {
                Kept::Nothing => Kept::Matched,
                _ => Kept::Term(KeptTerm::new(list)),
            };
        }
        matches
    }
}

struct LastPlan {
    opts: KeptTerm,
    plan: SendPlan,
}

static RECENT: Mutex<VecDeque<Arc<BuiltReport>>> = Mutex::new(VecDeque::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remembers the events build_report returns.
pub fn remember(events: Vec<Event>) {
    if events.len() > MAX_KEPT_EVENTS {
        return;
    }
    let report = Arc::new(BuiltReport {
        events,
        encoded: OnceCell::new(),
        term: Mutex::new(Kept::Nothing),
        last_plan: Mutex::new(None),
    });
    let mut recent = lock(&RECENT);
    if recent.len() == KEPT {
        recent.pop_back();
    }
    recent.push_front(report);
}

/// The plan of a send of `events` with `opts` when `events` is a report built here (`None`
/// otherwise: the caller decodes and checks the events in full).
pub fn plan_send(events: Term, opts: Term) -> Option<Result<SendPlan, InputError>> {
    // Counted only as far as the longest report kept: a long list is not walked here.
    let len = list_length_upto(events, MAX_KEPT_EVENTS + 1)?;
    // Compared outside the lock: other schedulers sending at the same time do not wait.
    let candidates: Vec<Arc<BuiltReport>> = lock(&RECENT)
        .iter()
        .filter(|r| r.events.len() == len)
        .cloned()
        .collect();
    let report = candidates.iter().find(|r| r.is(events))?;
    let mut last_plan = lock(&report.last_plan);
    if let Some(last) = &*last_plan {
        if last.opts.is(opts) {
            return Some(Ok(last.plan.clone()));
        }
    }
    // Checked once per report, before its first send, as a send of any events is: the events
    // come from the allowlists alone, but a send must not rely on that.
    let encoded = report
        .encoded
        .get_or_init(|| {
            plan::check_events(&report.events)
                .and_then(|()| EncodedEvents::new(&report.events))
                .ok()
                .map(Arc::new)
        })
        .clone()?;
    // Options of ordinary size are read here; larger ones go the full way, on a dirty
    // scheduler.
    let plan = match decode_bounded(opts, OPTIONS_MAX_DEPTH, MAX_OPTION_STEPS) {
        Ok(Some(opts)) => api::plan_send_encoded(&encoded, &opts),
        Ok(None) => return None,
        Err(e) => Err(api::in_arg("opts")(e)),
    };
    if let Ok(plan) = &plan {
        *last_plan = Some(LastPlan {
            opts: KeptTerm::new(opts),
            plan: plan.clone(),
        });
    }
    Some(plan)
}

/// Whether `list` is exactly `events`, each as build_report returns it. Strict: where the
/// full decoding would accept another spelling (an atom for a binary), this says no and
/// leaves the events to it.
fn list_matches(list: Term, events: &[Event]) -> bool {
    let mut tail = list;
    for event in events {
        let Ok((head, rest)) = tail.list_get_cell() else {
            return false;
        };
        if !event_matches(head, event) {
            return false;
        }
        tail = rest;
    }
    tail.is_empty_list()
}

fn event_matches(term: Term, event: &Event) -> bool {
    // Looked up by key: the order in which a map's atom keys iterate is not defined (from
    // OTP 26 it follows atom creation, not names).
    if term.map_size().ok() != Some(2) {
        return false;
    }
    let (Ok(name), Ok(params)) = (term.map_get(atoms::name()), term.map_get(atoms::params()))
    else {
        return false;
    };
    binary_is(name, event.name.as_bytes()) && params_match(params, event)
}

/// Compares the params in step: a small map (up to 32 keys; an event has at most 25)
/// iterates in key order, which for binaries is byte order, the order of the event's params.
/// A map in any other order simply does not match.
fn params_match(term: Term, event: &Event) -> bool {
    if term.map_size().ok() != Some(event.params.len()) {
        return false;
    }
    let Some(pairs) = map_iter::entries(term) else {
        return false;
    };
    pairs
        .zip(event.params.iter())
        .all(|((key, value), (name, expected))| {
            binary_is(key, name.as_bytes())
                && match expected {
                    ParamValue::Str(s) => binary_is(value, s.as_bytes()),
                    ParamValue::Int(n) => {
                        value.get_type() == TermType::Integer
                            && value.decode::<i64>().ok() == Some(*n)
                    }
                }
        })
}

/// Whether `term` is a binary holding exactly `bytes`.
fn binary_is(term: Term, bytes: &[u8]) -> bool {
    term.is_binary() && term.decode::<Binary>().is_ok_and(|b| b.as_slice() == bytes)
}
