//! The engine's entry points, one per NIF function, on decoded terms.

use crate::event::Event;
use crate::input::InputTerm;
use crate::json;
use crate::node_info::NodeInfo;
use crate::options::SendOptions;
use crate::plan::{self, EncodedEvents, SendPlan};
use crate::report;
use crate::value::{InputError, PathElem, Value};

/// `build_report/1`: the events of one report.
pub fn build_report(node_info: &Value) -> Result<Vec<Event>, InputError> {
    build_report_from(node_info)
}

/// `build_report/1` on any input term (the NIF reads the VM's terms in place). The events
/// are made from the allowlists only, so they are not re-checked here: the property tests
/// check every built report against the send-time rules, and every send re-checks.
pub fn build_report_from<'a, T: InputTerm<'a>>(node_info: T) -> Result<Vec<Event>, InputError> {
    let info = NodeInfo::read(node_info)?;
    Ok(report::build(&info))
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

/// `send_report/2` for events already checked and encoded (a report this VM built): only the
/// options are read; their error paths start with `opts`.
pub fn plan_send_encoded(events: &EncodedEvents, opts: &Value) -> Result<SendPlan, InputError> {
    let opts = SendOptions::from_value(opts).map_err(in_arg("opts"))?;
    Ok(plan::plan_encoded(events, &opts))
}

/// Puts the argument's name in front of an error's path (copied only on error), for the
/// two-argument functions: `events` or `opts`. Also used by the NIF for its decoding errors.
pub fn in_arg(arg: &'static str) -> impl Fn(InputError) -> InputError {
    move |mut e: InputError| {
        e.path.insert(0, PathElem::Key(arg.to_string()));
        e
    }
}
