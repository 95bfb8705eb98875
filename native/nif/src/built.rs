//! The reports this VM's `build_report/1` produced lately, so that `send_report/2` can
//! recognise them. Events identical (`=:=`) to a report built here are exactly what
//! build_report produced and checked, so sending them skips the decoding, the re-check and the
//! encoding of every event: the send only reads its options. Any other events are decoded and
//! checked in full, as before. This is the service's own pattern: build, then send. The plan
//! of the last send of each report is kept too, with a copy of its options: the same
//! options again (e.g. every send of a flood) reuse it, bodies shared, nothing re-read.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::event::Event;
use mongoose_system_metrics_engine::options::OPTIONS_MAX_DEPTH;
use mongoose_system_metrics_engine::plan::{EncodedEvents, SendPlan};
use mongoose_system_metrics_engine::value::InputError;
use once_cell::sync::OnceCell;
use rustler::env::SavedTerm;
use rustler::{OwnedEnv, Term};

use crate::decode::decode;
use crate::report::in_arg;

/// Reports kept: the last few built (one node builds one report per interval; a second slot
/// covers a preview or a validation built in between).
const KEPT: usize = 2;

/// Most events a kept report may hold: a larger report is not kept (its copy would cost more
/// memory than a rare send of it saves).
const MAX_KEPT_EVENTS: usize = 1_000;

/// One report built here: a copy of the events term as returned, and the events it encodes.
struct BuiltReport {
    env: OwnedEnv,
    term: SavedTerm,
    len: usize,
    events: Vec<Event>,
    /// Encoded on the first send, once; `None` if an event does not fit in a request (not
    /// possible for built events, but then the full path reports it).
    encoded: OnceCell<Option<Arc<EncodedEvents>>>,
    /// The last send's options (a copy) and the plan made from them.
    last_plan: Option<(OwnedEnv, SavedTerm, SendPlan)>,
}

impl BuiltReport {
    fn is(&self, events: Term) -> bool {
        // `==` on terms is enif_is_identical (=:=): 1 and 1.0 differ, as the full check would
        // tell them apart.
        self.env.run(|env| self.term.load(env) == events)
    }
}

static RECENT: Mutex<VecDeque<BuiltReport>> = Mutex::new(VecDeque::new());

fn recent() -> std::sync::MutexGuard<'static, VecDeque<BuiltReport>> {
    RECENT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remembers the events build_report is about to return (`term` encodes `events`).
pub fn remember(term: Term, events: Vec<Event>) {
    if events.len() > MAX_KEPT_EVENTS {
        return;
    }
    let env = OwnedEnv::new();
    let saved = env.save(term);
    let report = BuiltReport {
        env,
        term: saved,
        len: events.len(),
        events,
        encoded: OnceCell::new(),
        last_plan: None,
    };
    let mut recent = recent();
    if recent.len() == KEPT {
        recent.pop_back();
    }
    recent.push_front(report);
}

/// The plan of a send of `events` with `opts` when `events` is a report built here (`None`
/// otherwise: the caller decodes and checks the events in full).
pub fn plan_send(events: Term, opts: Term) -> Option<Result<SendPlan, InputError>> {
    let len = events.list_length().ok()?;
    let mut recent = recent();
    let report = recent.iter_mut().find(|r| r.len == len && r.is(events))?;
    if let Some((env, saved, plan)) = &report.last_plan {
        if env.run(|env| saved.load(env) == opts) {
            return Some(Ok(plan.clone()));
        }
    }
    let encoded = report
        .encoded
        .get_or_init(|| EncodedEvents::new(&report.events).ok().map(Arc::new))
        .clone()?;
    let plan = decode(opts, OPTIONS_MAX_DEPTH)
        .map_err(|e| in_arg("opts", e))
        .and_then(|opts| api::plan_send_encoded(&encoded, &opts));
    if let Ok(plan) = &plan {
        let env = OwnedEnv::new();
        let saved = env.save(opts);
        report.last_plan = Some((env, saved, plan.clone()));
    }
    Some(plan)
}
