//! send_report/2, build_and_send/2, cancel/1, cancel_all/0, configure/1: hand work to the
//! engine's background dispatcher and return at once; the result comes back as one message.
//! All run on a dirty CPU scheduler: cancel_all with thousands of sends in flight takes
//! milliseconds, and any argument (an unaligned binary is copied whole when inspected) could
//! be huge.

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::delivery::dispatch::{DispatchError, Dispatcher};
use mongoose_system_metrics_engine::delivery::outcome::TrackingResult;
use mongoose_system_metrics_engine::node::value::{InputError, PathElem, OPTIONS_LIMITS};
use mongoose_system_metrics_engine::wire::plan::SendPlan;
use once_cell::sync::Lazy;
use rustler::{Encoder, Env, LocalPid, OwnedEnv, Term, TermType};

use crate::atoms;
use crate::decode::decode;
use crate::encode;
use crate::report::{build_and_plan, plan};

/// The one dispatcher of this VM; its Tokio runtime starts on the first send.
static DISPATCHER: Lazy<Dispatcher> = Lazy::new(Dispatcher::new);

/// Creates the dispatcher (no thread: its runtime starts with the first send).
pub fn prepare() {
    Lazy::force(&DISPATCHER);
}

/// The pid to notify: `notify` in the options when it is a local pid, else the caller.
fn notify_pid(env: Env, opts: Term) -> Result<LocalPid, InputError> {
    match opts.map_get(atoms::notify()) {
        Ok(pid) => pid.decode::<LocalPid>().map_err(|_| {
            InputError::new(
                &[PathElem::Key("opts".into()), PathElem::Key("notify".into())],
                "expected a local pid",
            )
        }),
        Err(_) => Ok(env.pid()),
    }
}

fn job_key(reference: Term) -> Option<Vec<u8>> {
    (reference.get_type() == TermType::Ref).then(|| reference.to_binary().as_slice().to_vec())
}

/// send_report/2: decodes and checks every event against the privacy and GA4 rules, plans
/// the requests and queues them, on a dirty CPU scheduler (a few hundred microseconds for a
/// realistic report; more for a hostile one, which must not hold a normal scheduler).
#[rustler::nif(schedule = "DirtyCpu")]
fn send_report<'a>(env: Env<'a>, events: Term<'a>, opts: Term<'a>) -> Term<'a> {
    match submit(env, plan(events, opts), opts) {
        Ok(reference) => encode::ok(env, reference),
        Err(refused) => refused,
    }
}

/// build_and_send/2: build_report/1 and send_report/2 in one call, the service's path:
/// `{ok, Events, Ref}`. The events go to the send as the engine built them (and are checked
/// again there), without a round trip through Erlang terms.
#[rustler::nif(schedule = "DirtyCpu")]
fn build_and_send<'a>(env: Env<'a>, node_info: Term<'a>, opts: Term<'a>) -> Term<'a> {
    let (events, plan) = match build_and_plan(node_info, opts) {
        Ok(built) => built,
        Err(e) => return encode::input_error(env, &e),
    };
    match submit(env, Ok(plan), opts) {
        Ok(reference) => (atoms::ok(), encode::events(env, &events), reference).encode(env),
        Err(refused) => refused,
    }
}

/// Queues a planned send on the background runtime: its reference, or the error term.
fn submit<'a>(
    env: Env<'a>,
    plan: Result<SendPlan, InputError>,
    opts: Term<'a>,
) -> Result<Term<'a>, Term<'a>> {
    let bad_input = |e: InputError| encode::input_error(env, &e);
    let plan = plan.map_err(bad_input)?;
    let pid = notify_pid(env, opts).map_err(bad_input)?;
    let reference = env.make_ref().encode(env);
    let key = job_key(reference).ok_or_else(|| encode::error(env, atoms::internal_error()))?;
    let mut msg_env = OwnedEnv::new();
    let saved_ref = msg_env.save(reference);
    // Runs on a Tokio worker thread (never a scheduler), as send_and_clear requires.
    let on_done = move |results: Vec<TrackingResult>| {
        let _ = msg_env.send_and_clear(&pid, |env| {
            let list: Vec<Term> = results
                .iter()
                .map(|r| encode::tracking_result(env, r))
                .collect();
            (
                atoms::mongoose_system_metrics_sent(),
                saved_ref.load(env),
                list,
            )
                .encode(env)
        });
    };
    match DISPATCHER.submit(key, plan, on_done) {
        Ok(()) => Ok(reference),
        Err(DispatchError::Overloaded) => Err(encode::error(env, atoms::overloaded())),
        Err(_) => Err(encode::error(env, atoms::internal_error())),
    }
}

#[rustler::nif(schedule = "DirtyCpu")]
fn cancel<'a>(env: Env<'a>, reference: Term<'a>) -> Term<'a> {
    match job_key(reference) {
        Some(key) => {
            DISPATCHER.cancel(&key);
            atoms::ok().encode(env)
        }
        None => encode::input_error(env, &InputError::new(&[], "expected a reference")),
    }
}

#[rustler::nif(schedule = "DirtyCpu")]
fn cancel_all(env: Env) -> Term {
    DISPATCHER.cancel_all();
    atoms::ok().encode(env)
}

#[rustler::nif(schedule = "DirtyCpu")]
fn configure<'a>(env: Env<'a>, opts: Term<'a>) -> Term<'a> {
    match decode(opts, 1, OPTIONS_LIMITS).and_then(|opts| api::max_in_flight(&opts)) {
        Ok(bound) => {
            if let Some(n) = bound {
                DISPATCHER.set_max_in_flight(n);
            }
            atoms::ok().encode(env)
        }
        Err(e) => encode::input_error(env, &e),
    }
}
