//! The engine's entry points, one per NIF function, on decoded terms.

use crate::node::node_info::NodeInfo;
use crate::node::value::{InputError, PathElem, Value};
use crate::report::build;
use crate::report::event::Event;
use crate::wire::json;
use crate::wire::options::SendOptions;
use crate::wire::plan::{self, SendPlan};

/// `build_report/1`: the events of one report. The events are made from the allowlists
/// only, so they are not re-checked here: the property tests check every built report
/// against the send-time rules, and every send re-checks.
pub fn build_report(node_info: &Value) -> Result<Vec<Event>, InputError> {
    let info = NodeInfo::from_value(node_info)?;
    Ok(build::build(&info))
}

/// `encode_json/1`: the checked events, pretty-printed.
pub fn encode_json(events: &Value) -> Result<Vec<u8>, InputError> {
    let events = Event::list_from_value(events)?;
    plan::check_events(&events)?;
    Ok(json::pretty(&events))
}

/// `plan_requests/2` and `send_report/2`: the checked events and options as a send plan.
/// These take two arguments, so error paths start with the argument's name: `events` or
/// `opts` (e.g. `[events, 3, params, backend]`, `[opts, tracking_ids, 1, id]`).
pub fn plan_send(events: &Value, opts: &Value) -> Result<SendPlan, InputError> {
    let events = Event::list_from_value(events).map_err(in_arg("events"))?;
    let opts = SendOptions::from_value(opts).map_err(in_arg("opts"))?;
    plan::plan(&events, &opts).map_err(in_arg("events"))
}

/// `new_client_id/0`: a random (version 4) UUID, as text, for a node whose cluster has no
/// id of its own.
pub fn new_client_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Puts the argument's name in front of an error's path (copied only on error), for the
/// two-argument functions: `events` or `opts`. Also used by the NIF for its decoding errors.
pub fn in_arg(arg: &'static str) -> impl Fn(InputError) -> InputError {
    move |mut e: InputError| {
        e.path.insert(0, PathElem::Key(arg.to_string()));
        e
    }
}
