//! build_report/1, encode_json/1, plan_requests/2: pure computations, bounded by the input
//! limits (10,000 items, 256-byte binaries), run on a dirty CPU scheduler: with 1,000 modules
//! they take milliseconds (BENCHMARKS.md), far past the 1 ms a NIF may hold a normal
//! scheduler. They run once per report, so the hop to a dirty scheduler costs nothing that
//! matters.

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::event::EVENTS_MAX_DEPTH;
use mongoose_system_metrics_engine::node_info::NODE_INFO_MAX_DEPTH;
use mongoose_system_metrics_engine::options::OPTIONS_MAX_DEPTH;
use mongoose_system_metrics_engine::plan::SendPlan;
use mongoose_system_metrics_engine::value::{InputError, PathElem};
use rustler::{Env, Term};

use crate::decode::decode;
use crate::encode;

fn in_arg(arg: &str, mut e: InputError) -> InputError {
    e.path.insert(0, PathElem::Key(arg.to_string()));
    e
}

/// Decodes and plans `send_report/2` and `plan_requests/2`'s arguments.
pub fn plan(events: Term, opts: Term) -> Result<SendPlan, InputError> {
    let events = decode(events, EVENTS_MAX_DEPTH).map_err(|e| in_arg("events", e))?;
    let opts = decode(opts, OPTIONS_MAX_DEPTH).map_err(|e| in_arg("opts", e))?;
    api::plan_send(&events, &opts)
}

#[rustler::nif(schedule = "DirtyCpu")]
fn build_report<'a>(env: Env<'a>, node_info: Term<'a>) -> Term<'a> {
    match decode(node_info, NODE_INFO_MAX_DEPTH).and_then(|v| api::build_report(&v)) {
        Ok(events) => encode::ok(env, encode::events(env, &events)),
        Err(e) => encode::input_error(env, &e),
    }
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
