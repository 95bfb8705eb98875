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

/// `build_and_send/2`: the events of one report and the plan of their send, in one step (the
/// service's path: the events never leave the engine to be read back). The plan re-checks the
/// events against the send-time rules, as every send does. Error paths start with the
/// argument's name, `node_info` or `opts`, or with `events` should a built event ever fail
/// that check.
pub fn build_and_plan(
    node_info: &Value,
    opts: &Value,
) -> Result<(Vec<Event>, SendPlan), InputError> {
    let info = NodeInfo::from_value(node_info).map_err(in_arg("node_info"))?;
    let opts = SendOptions::from_value(opts).map_err(in_arg("opts"))?;
    let events = build::build(&info);
    let plan = plan::plan(&events, &opts).map_err(in_arg("events"))?;
    Ok((events, plan))
}

/// Most `max_in_flight` that `configure/1` accepts.
pub const MAX_IN_FLIGHT_CAP: i64 = 1_000_000;

/// `configure/1`: the bound on concurrent sends that the options set (`None`: an empty map
/// sets nothing). `max_in_flight` is the only setting.
pub fn max_in_flight(opts: &Value) -> Result<Option<usize>, InputError> {
    let Value::Map(entries) = opts else {
        return Err(InputError::new(&[], "expected a map"));
    };
    match entries.as_slice() {
        [] => Ok(None),
        [(Value::Atom(key), value)] if key == "max_in_flight" => match value {
            Value::Int(n) if (1..=MAX_IN_FLIGHT_CAP).contains(n) => Ok(Some(*n as usize)),
            _ => Err(InputError::new(
                &[PathElem::Key("max_in_flight".into())],
                format!("expected an integer from 1 to {MAX_IN_FLIGHT_CAP}"),
            )),
        },
        _ => Err(InputError::new(&[], "only max_in_flight can be configured")),
    }
}

/// `new_client_id/0`: a random (version 4) UUID, as text, for a node whose cluster has no
/// id of its own.
pub fn new_client_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Set-up done once, when the NIF library loads (rustler's `load` callback), so that no
/// first call pays for it: a representative report is built, encoded and planned (every
/// table, allowlist and parser is touched once, the allocator warmed) and the random number
/// generator of client ids is seeded. Nothing is sent and no thread is started: the
/// background Tokio runtime still starts only with the first send. Returns the number of
/// requests planned (for tests; always 1).
pub fn prepare() -> usize {
    let node_info = prepare_map(vec![
        ("version", Value::Binary(b"6.4.0-12-gabc1234".to_vec())),
        ("uptime_seconds", Value::Int(3600)),
        ("node_count", Value::Int(1)),
        ("config_type", Value::Atom("toml".into())),
        (
            "modules",
            Value::List(vec![prepare_map(vec![
                ("module", Value::Atom("mod_mam".into())),
                (
                    "opts",
                    prepare_map(vec![("backend", Value::Atom("rdbms".into()))]),
                ),
            ])]),
        ),
        (
            "http_handlers",
            Value::List(vec![Value::Atom("mod_bosh".into())]),
        ),
        (
            "outgoing_pools",
            Value::List(vec![Value::Atom("rdbms".into())]),
        ),
        (
            "stanza_counts",
            prepare_map(vec![("xmppMessageSent", Value::Int(1))]),
        ),
    ]);
    let _ = new_client_id();
    let Ok(events) = NodeInfo::from_value(&node_info).map(|info| build::build(&info)) else {
        return 0;
    };
    let _ = json::pretty(&events);
    let opts = prepare_map(vec![
        ("client_id", Value::Binary(b"prepare".to_vec())),
        (
            "tracking_ids",
            Value::List(vec![prepare_map(vec![
                ("id", Value::Binary(b"G-PREPARE".to_vec())),
                ("secret", Value::Binary(b"prepare".to_vec())),
            ])]),
        ),
        (
            "url",
            Value::Binary(b"http://127.0.0.1/mp/collect".to_vec()),
        ),
    ]);
    SendOptions::from_value(&opts)
        .and_then(|opts| plan::plan(&events, &opts))
        .map_or(0, |p| p.trackings.iter().map(|t| t.requests.len()).sum())
}

fn prepare_map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::Atom(k.into()), v))
            .collect(),
    )
}

/// Puts the argument's name in front of an error's path (copied only on error), for the
/// two-argument functions: `events` or `opts`. Also used by the NIF for its decoding errors.
pub fn in_arg(arg: &'static str) -> impl Fn(InputError) -> InputError {
    move |mut e: InputError| {
        e.path.insert(0, PathElem::Key(arg.to_string()));
        e
    }
}
