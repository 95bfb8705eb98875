//! build_report/1, encode_json/1, plan_requests/2: pure computations, bounded by the input
//! limits (10,000 items, 256-byte binaries). A node of ordinary size is built on the caller's
//! normal scheduler (about 50 µs, accounted with `consume_timeslice`); a larger input is
//! handed to a dirty CPU scheduler (1,000 modules take about half a millisecond, and their
//! tail passes the 1 ms a NIF may hold a normal scheduler). encode_json and plan_requests run
//! on a dirty CPU scheduler: they serve previews and tests, not the reporting path.

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::event::Event;
use mongoose_system_metrics_engine::event::EVENTS_MAX_DEPTH;
use mongoose_system_metrics_engine::options::OPTIONS_MAX_DEPTH;
use mongoose_system_metrics_engine::plan::SendPlan;
use mongoose_system_metrics_engine::value::InputError;
use rustler::{Encoder, Env, Term, TermType};

use crate::atoms;
use crate::built;
use crate::decode::{decode, list_length_upto, Reading};
use crate::encode;
use crate::map_iter;

/// Most second-level items (module entries, listeners, pools...) built on a normal
/// scheduler. A realistic node has about 100; 1,000 modules go to a dirty scheduler.
const NORMAL_MAX_ITEMS: usize = 250;

/// Most steps (terms looked at, list cells and map entries walked, see `Reading`) taken on a
/// normal scheduler: a realistic node takes about 1,050, in some 50 µs.
const NORMAL_MAX_STEPS: usize = 3_000;

/// Decodes and plans `send_report/2` and `plan_requests/2`'s arguments.
pub fn plan(events: Term, opts: Term) -> Result<SendPlan, InputError> {
    let events = decode(events, EVENTS_MAX_DEPTH).map_err(api::in_arg("events"))?;
    let opts = decode(opts, OPTIONS_MAX_DEPTH).map_err(api::in_arg("opts"))?;
    api::plan_send(&events, &opts)
}

/// Items one level below the top map, counted up to just past [`NORMAL_MAX_ITEMS`]: a cheap
/// first measure of the work a NodeInfo asks for, read without decoding.
fn node_info_items(node_info: Term) -> usize {
    // Each top-level entry counts too: a map of a million keys is not walked here.
    let Ok(mut items) = node_info.map_size() else {
        return 0;
    };
    if items > NORMAL_MAX_ITEMS {
        return items;
    }
    let Some(iter) = map_iter::entries(node_info) else {
        return 0;
    };
    for (_, v) in iter {
        items += match v.get_type() {
            TermType::List => list_length_upto(v, NORMAL_MAX_ITEMS + 1).unwrap_or(0),
            TermType::Map => v.map_size().unwrap_or(0),
            _ => 0,
        };
        if items > NORMAL_MAX_ITEMS {
            break;
        }
    }
    items
}

/// Encodes a build's result; `remember` keeps the report for sends (see [`built`]).
fn answer<'a>(env: Env<'a>, built: Result<Vec<Event>, InputError>, remember: bool) -> Term<'a> {
    match built {
        Ok(events) => {
            let term = encode::events(env, &events);
            if remember {
                built::remember(events);
            }
            encode::ok(env, term)
        }
        Err(e) => encode::input_error(env, &e),
    }
}

/// build_report/1 on the caller's scheduler, or `dirty` when the input is too large for it
/// (the Erlang stub then calls [`build_report_dirty`]).
#[rustler::nif]
fn build_report_nif<'a>(env: Env<'a>, node_info: Term<'a>) -> Term<'a> {
    let items = node_info_items(node_info);
    if items > NORMAL_MAX_ITEMS {
        return atoms::dirty().encode(env);
    }
    // Deeper down (e.g. one module with thousands of options) the reading itself stops.
    let reading = Reading::new(env, NORMAL_MAX_STEPS);
    let built = api::build_report_from(reading.term(node_info));
    if reading.past_soft_bound() {
        return atoms::dirty().encode(env);
    }
    let result = answer(env, built, true);
    // About 1 µs per item on a slow machine, against a 1 ms timeslice.
    let _ = rustler::schedule::consume_timeslice(env, (1 + items / 10).min(100) as i32);
    result
}

/// build_report/1 on a dirty CPU scheduler, for large inputs.
#[rustler::nif(schedule = "DirtyCpu")]
fn build_report_dirty<'a>(env: Env<'a>, node_info: Term<'a>) -> Term<'a> {
    // A report this large is not kept: its sends go the full way, on a dirty scheduler.
    let reading = Reading::new(env, usize::MAX);
    answer(env, api::build_report_from(reading.term(node_info)), false)
}

/// build_report/1 on the caller's scheduler whatever the size, up to the input limits (1,000
/// modules take about half a millisecond): for benchmarks only, which measure that cost. The
/// report is not kept.
#[rustler::nif]
fn build_report_normal<'a>(env: Env<'a>, node_info: Term<'a>) -> Term<'a> {
    let reading = Reading::new(env, usize::MAX);
    let result = answer(env, api::build_report_from(reading.term(node_info)), false);
    let _ = rustler::schedule::consume_timeslice(env, 100);
    result
}

#[rustler::nif(schedule = "DirtyCpu")]
fn encode_json<'a>(env: Env<'a>, events: Term<'a>) -> Term<'a> {
    match decode(events, EVENTS_MAX_DEPTH).and_then(|v| api::encode_json(&v)) {
        Ok(json) => encode::ok(env, encode::binary(env, &json)),
        Err(e) => encode::input_error(env, &e),
    }
}

#[rustler::nif(schedule = "DirtyCpu")]
fn plan_requests<'a>(env: Env<'a>, events: Term<'a>, opts: Term<'a>) -> Term<'a> {
    match plan(events, opts) {
        Ok(plan) => encode::ok(env, encode::requests(env, &plan)),
        Err(e) => encode::input_error(env, &e),
    }
}
