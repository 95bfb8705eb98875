//! build_report/1, encode_json/1, plan_requests/2, new_client_id/0 and release_rules/1: each
//! on a dirty CPU scheduler, like every NIF of this library (a report every few hours: no
//! input, however large or unaligned, may hold a normal scheduler, and one path for every
//! call is the simplest; tests/schedulers.rs keeps it so).

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::node::node_info::NODE_INFO_MAX_DEPTH;
use mongoose_system_metrics_engine::node::value::{
    InputError, EVENTS_LIMITS, MAX_BINARY_BYTES, NODE_INFO_LIMITS, OPTIONS_LIMITS,
};
use mongoose_system_metrics_engine::report::event::{Event, EVENTS_MAX_DEPTH};
use mongoose_system_metrics_engine::report::release::{ReleaseLine, StanzaCounters};
use mongoose_system_metrics_engine::wire::options::OPTIONS_MAX_DEPTH;
use mongoose_system_metrics_engine::wire::plan::SendPlan;
use rustler::{Binary, Encoder, Env, Term};

use crate::atoms;
use crate::decode::decode;
use crate::encode;

/// Decodes and plans the arguments of `send_report/2` and `plan_requests/2`; error paths
/// start with the argument's name.
pub fn plan(events: Term, opts: Term) -> Result<SendPlan, InputError> {
    let events = decode(events, EVENTS_MAX_DEPTH, EVENTS_LIMITS).map_err(api::in_arg("events"))?;
    let opts = decode(opts, OPTIONS_MAX_DEPTH, OPTIONS_LIMITS).map_err(api::in_arg("opts"))?;
    api::plan_send(&events, &opts)
}

/// Decodes the arguments of `build_and_send/2`, builds the report and plans its send; error
/// paths start with the argument's name.
pub fn build_and_plan(node_info: Term, opts: Term) -> Result<(Vec<Event>, SendPlan), InputError> {
    let node_info = decode(node_info, NODE_INFO_MAX_DEPTH, NODE_INFO_LIMITS)
        .map_err(api::in_arg("node_info"))?;
    let opts = decode(opts, OPTIONS_MAX_DEPTH, OPTIONS_LIMITS).map_err(api::in_arg("opts"))?;
    api::build_and_plan(&node_info, &opts)
}

#[rustler::nif(schedule = "DirtyCpu")]
fn build_report<'a>(env: Env<'a>, node_info: Term<'a>) -> Term<'a> {
    let built = decode(node_info, NODE_INFO_MAX_DEPTH, NODE_INFO_LIMITS)
        .and_then(|info| api::build_report(&info));
    match built {
        Ok(events) => encode::ok(env, encode::events(env, &events)),
        Err(e) => encode::input_error(env, &e),
    }
}

#[rustler::nif(schedule = "DirtyCpu")]
fn encode_json<'a>(env: Env<'a>, events: Term<'a>) -> Term<'a> {
    match decode(events, EVENTS_MAX_DEPTH, EVENTS_LIMITS).and_then(|v| api::encode_json(&v)) {
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

#[rustler::nif(schedule = "DirtyCpu")]
fn new_client_id(env: Env) -> Term {
    encode::binary(env, api::new_client_id().as_bytes())
}

/// The rules of the node's release line; anything but a version binary (absent, too long,
/// not text) gets the latest line's. The binary is looked at in place, never copied.
#[rustler::nif(schedule = "DirtyCpu")]
fn release_rules<'a>(env: Env<'a>, version: Term<'a>) -> Term<'a> {
    let version = version.decode::<Binary>().ok();
    let text = version
        .as_ref()
        .filter(|b| b.len() <= MAX_BINARY_BYTES)
        .and_then(|b| std::str::from_utf8(b.as_slice()).ok());
    let line = ReleaseLine::of_version(text);
    let counters = match line.stanza_counters() {
        StanzaCounters::ExometerByType => atoms::exometer_by_type(),
        StanzaCounters::ExometerC2s => atoms::exometer_c2s(),
        StanzaCounters::ExometerWhenConfigured => atoms::exometer_when_configured(),
        StanzaCounters::Instrumentation => atoms::instrumentation(),
    };
    let components = match line.components_module() {
        "ejabberd_router" => atoms::ejabberd_router(),
        _ => atoms::mongoose_component(),
    };
    let pairs = [
        (atoms::release().encode(env), line.name().encode(env)),
        (atoms::stanza_counters().encode(env), counters.encode(env)),
        (atoms::components().encode(env), components.encode(env)),
    ];
    match Term::map_from_pairs(env, &pairs) {
        Ok(rules) => encode::ok(env, rules),
        Err(_) => encode::error(env, atoms::internal_error()),
    }
}
