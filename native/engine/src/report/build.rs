//! Building a report: NodeInfo in, GA4 events out, in MongooseIM's order, under the privacy
//! rules.

use std::borrow::Cow;

use crate::node::node_info::{NodeInfo, OptScalar, OptValue, StanzaCounts};
use crate::report::allowlists::{
    C2S_TRANSPORTS, CUSTOM, ENABLED, POOL_TYPES, STANZA_TYPES, TLS_MODES, TLS_MODULES,
};
use crate::report::event::{Event, ParamValue, Params};
use crate::report::privacy::{self, find_in};
use crate::report::release::ReleaseLine;

/// The events of one report, deterministic for a given input. Order (as MongooseIM's
/// collector): host_count, domain_count, module_with_opt..., custom_module_count, cluster,
/// http_api, transport_mechanism, tls_option..., outgoing_pool..., xmpp_stanza_count....
/// Events whose source field is absent are left out, except custom_module_count, cluster,
/// http_api and transport_mechanism, which are always sent (the last two possibly empty).
pub fn build(info: &NodeInfo) -> Vec<Event> {
    // Room for the usual report (one event per module entry, pool and listener, plus the
    // fixed ones) in one allocation.
    let mut events = Vec::with_capacity(
        info.modules.len() + info.outgoing_pools.len() + info.c2s_listeners.len() + 16,
    );
    if let Some(n) = info.host_type_count {
        events.push(Event::new("host_count", [("value", n)]));
    }
    if let Some(n) = info.domain_count {
        events.push(Event::new("domain_count", [("value", n)]));
    }
    let line = ReleaseLine::of_version(info.version);
    let custom_modules = module_events(info, line, &mut events);
    events.push(Event::new(
        "custom_module_count",
        [("value", custom_modules)],
    ));
    events.push(cluster_event(info));
    events.push(http_api_event(info, line));
    events.push(transport_event(info, line));
    tls_events(info, &mut events);
    events.extend(
        info.outgoing_pools
            .iter()
            .filter_map(|p| find_in(POOL_TYPES, p))
            .map(|p| Event::new("outgoing_pool", [("value", p)])),
    );
    if let Some(counts) = &info.stanza_counts {
        stanza_events(counts, info.previous_stanza_counts.as_ref(), &mut events);
    }
    events
}

fn scalar_text<'a>(s: &'a OptScalar) -> Option<&'a str> {
    match s {
        OptScalar::Atom(a) => Some(a),
        OptScalar::Text(a) => Some(a),
        OptScalar::Int(_) | OptScalar::Bool(_) => None,
    }
}

/// Pushes one `module_with_opt` event per entry of a module the node's release names in its
/// reports, with the entry's allowlisted options (an option name off the allowlist is
/// dropped, a value off it is sent as `custom`). Returns the number of custom modules:
/// distinct names of every other module.
fn module_events(info: &NodeInfo, line: ReleaseLine, events: &mut Vec<Event>) -> i64 {
    let mut custom: Vec<&str> = Vec::new();
    for entry in &info.modules {
        let Some(module) = line.reported_module(entry.module) else {
            custom.push(entry.module);
            continue;
        };
        let mut params = Params::new();
        for (name, value) in &info.module_opts[entry.opts.clone()] {
            let Some((name, allowed)) = privacy::option_spec(module, name) else {
                continue;
            };
            // A list is no value GA4 takes: it is sent as `custom`, as any value off the list.
            let value = match value {
                OptValue::Scalar(s) => {
                    scalar_text(s).map_or(CUSTOM, |t| privacy::option_value(allowed, t))
                }
                OptValue::List(_) => CUSTOM,
            };
            params.insert(Cow::Borrowed(name), ParamValue::from(value));
        }
        params.insert(Cow::Borrowed("module"), ParamValue::from(module));
        events.push(Event {
            name: Cow::Borrowed("module_with_opt"),
            params,
        });
    }
    custom.sort_unstable();
    custom.dedup();
    custom.len() as i64
}

fn cluster_event(info: &NodeInfo) -> Event {
    let mut params = Params::with_capacity(5);
    let mut put = |k: &'static str, v: ParamValue| {
        params.insert(Cow::Borrowed(k), v);
    };
    if let Some(s) = info.uptime_seconds {
        put("uptime", ParamValue::from(privacy::format_uptime(s)));
    }
    if let Some(v) = &info.version {
        put("version", ParamValue::from(privacy::sanitize_version(v)));
    }
    if let Some(n) = info.component_count {
        put("component", ParamValue::Int(n));
    }
    if let Some(n) = info.node_count {
        put("node_number", ParamValue::Int(n));
    }
    if let Some(t) = info.config_type {
        put("config_type", ParamValue::from(t.as_str()));
    }
    Event {
        name: Cow::Borrowed("cluster"),
        params,
    }
}

fn enabled_event(name: &'static str, keys: impl Iterator<Item = &'static str>) -> Event {
    let mut params = Params::new();
    for k in keys {
        params.insert(Cow::Borrowed(k), ParamValue::from(ENABLED));
    }
    Event {
        name: Cow::Borrowed(name),
        params,
    }
}

fn http_api_event(info: &NodeInfo, line: ReleaseLine) -> Event {
    enabled_event(
        "http_api",
        info.http_handlers
            .iter()
            .filter_map(|h| find_in(line.http_api_handlers(), h)),
    )
}

fn transport_event(info: &NodeInfo, line: ReleaseLine) -> Event {
    let http = info
        .http_handlers
        .iter()
        .filter_map(|h| find_in(line.http_transports(), h));
    let c2s = info
        .c2s_listeners
        .iter()
        .filter_map(|l| find_in(C2S_TRANSPORTS, l.proto));
    enabled_event("transport_mechanism", http.chain(c2s))
}

/// One event per distinct allowlisted (mode, module) pair, in MongooseIM's order (it folds
/// the sorted pairs onto the front of a list, so they come out in descending order).
fn tls_events(info: &NodeInfo, events: &mut Vec<Event>) {
    let mut pairs: Vec<(&'static str, &'static str)> = info
        .c2s_listeners
        .iter()
        .filter_map(|l| l.tls.as_ref())
        .filter_map(|t| Some((find_in(TLS_MODES, t.mode)?, find_in(TLS_MODULES, t.module)?)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    events.extend(
        pairs
            .into_iter()
            .rev()
            .map(|(mode, module)| Event::new("tls_option", [("mode", mode), ("module", module)])),
    );
}

/// `increment` = total - previous total; the total itself when there is no previous total or
/// it went down (the node restarted).
fn stanza_events(counts: &StanzaCounts, previous: Option<&StanzaCounts>, events: &mut Vec<Event>) {
    let lookup =
        |set: &StanzaCounts, name: &str| set.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    events.extend(STANZA_TYPES.iter().filter_map(|t| {
        let total = lookup(counts, t)?;
        let increment = match previous.and_then(|p| lookup(p, t)) {
            Some(prev) if prev <= total => total - prev,
            _ => total,
        };
        // Already in name order: collected without sorting.
        let params: Params = [
            (Cow::Borrowed("increment"), ParamValue::Int(increment)),
            (Cow::Borrowed("stanza_type"), ParamValue::from(*t)),
            (Cow::Borrowed("total"), ParamValue::Int(total)),
        ]
        .into_iter()
        .collect();
        Some(Event {
            name: Cow::Borrowed("xmpp_stanza_count"),
            params,
        })
    }));
}
