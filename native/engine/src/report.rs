//! Building a report: NodeInfo in, GA4 events out, in MongooseIM's order, under the privacy
//! rules.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::event::{Event, ParamValue};
use crate::node_info::{NodeInfo, OptScalar, OptValue, StanzaCounts};
use crate::privacy::{self, ENABLED};

/// The events of one report, deterministic for a given input. Order (as MongooseIM's
/// collector): host_count, domain_count, module_with_opt..., custom_module_count, cluster,
/// http_api, transport_mechanism, tls_option..., outgoing_pool..., xmpp_stanza_count....
/// Events whose source field is absent are left out, except custom_module_count, cluster,
/// http_api and transport_mechanism, which are always sent (the last two possibly empty).
pub fn build(info: &NodeInfo) -> Vec<Event> {
    let mut events = Vec::new();
    if let Some(n) = info.host_type_count {
        events.push(Event::new("host_count", [("value", n)]));
    }
    if let Some(n) = info.domain_count {
        events.push(Event::new("domain_count", [("value", n)]));
    }
    events.extend(module_events(info));
    events.push(Event::new(
        "custom_module_count",
        [("value", custom_module_count(info))],
    ));
    events.push(cluster_event(info));
    events.push(http_api_event(info));
    events.push(transport_event(info));
    events.extend(tls_events(info));
    events.extend(
        info.outgoing_pools
            .iter()
            .filter_map(|p| privacy::find_in(&privacy::POOL_TYPES, p))
            .map(|p| Event::new("outgoing_pool", [("value", p)])),
    );
    if let Some(counts) = &info.stanza_counts {
        events.extend(stanza_events(counts, info.previous_stanza_counts.as_ref()));
    }
    events
}

/// Custom modules: distinct names that are not known open-source modules.
fn custom_module_count(info: &NodeInfo) -> i64 {
    let custom: BTreeSet<&str> = info
        .modules
        .iter()
        .map(|m| m.module)
        .filter(|m| !privacy::is_known_module(m))
        .collect();
    custom.len() as i64
}

fn scalar_text<'a>(s: &'a OptScalar) -> Option<&'a str> {
    match s {
        OptScalar::Atom(a) => Some(a),
        OptScalar::Text(a) => Some(a),
        OptScalar::Int(_) | OptScalar::Bool(_) => None,
    }
}

/// One event per known module entry; a list value gives one event per distinct (sanitised)
/// element, and several list options multiply out.
fn module_events(info: &NodeInfo) -> Vec<Event> {
    let mut events = Vec::new();
    for (entry, module) in info
        .modules
        .iter()
        .filter_map(|m| Some((m, privacy::known_module(m.module)?)))
    {
        // Each allowed option with its possible sanitised values.
        let mut choices: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for (name, value) in &entry.opts {
            let Some((name, allowed)) = privacy::option_spec(module, name) else {
                continue; // an option name off the allowlist is dropped
            };
            let sanitise = |s: &OptScalar| {
                scalar_text(s).map_or(privacy::CUSTOM, |t| privacy::option_value(allowed, t))
            };
            let mut values: Vec<&'static str> = Vec::new();
            match value {
                OptValue::Scalar(s) => values.push(sanitise(s)),
                OptValue::List(items) => {
                    for item in items {
                        let v = sanitise(item);
                        if !values.contains(&v) {
                            values.push(v);
                        }
                    }
                }
            }
            if !values.is_empty() {
                choices.retain(|(n, _)| *n != name);
                choices.push((name, values));
            }
        }
        let mut event = Event::new("module_with_opt", [("module", module)]);
        if choices.iter().all(|(_, values)| values.len() == 1) {
            // The common case, one value per option: one event, no combinations to build.
            for (k, values) in &choices {
                event
                    .params
                    .insert(Cow::Borrowed(k), ParamValue::from(values[0]));
            }
            events.push(event);
            continue;
        }
        let mut combos: Vec<Vec<(&'static str, &'static str)>> = vec![Vec::new()];
        for (name, values) in &choices {
            combos = combos
                .into_iter()
                .flat_map(|combo| {
                    values.iter().map(move |v| {
                        let mut c = combo.clone();
                        c.push((*name, *v));
                        c
                    })
                })
                .collect();
        }
        for combo in combos {
            let mut event = event.clone();
            for (k, v) in combo {
                event.params.insert(Cow::Borrowed(k), ParamValue::from(v));
            }
            events.push(event);
        }
    }
    events
}

fn cluster_event(info: &NodeInfo) -> Event {
    let mut e = Event::new::<i64>("cluster", []);
    let mut put = |k: &'static str, v: ParamValue| {
        e.params.insert(Cow::Borrowed(k), v);
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
    e
}

fn enabled_event(name: &'static str, keys: impl Iterator<Item = &'static str>) -> Event {
    let mut e = Event::new::<i64>(name, []);
    for k in keys {
        e.params.insert(Cow::Borrowed(k), ParamValue::from(ENABLED));
    }
    e
}

fn http_api_event(info: &NodeInfo) -> Event {
    enabled_event(
        "http_api",
        info.http_handlers
            .iter()
            .filter_map(|h| privacy::find_in(&privacy::HTTP_API_HANDLERS, h)),
    )
}

fn transport_event(info: &NodeInfo) -> Event {
    let http = info
        .http_handlers
        .iter()
        .filter_map(|h| privacy::find_in(&privacy::HTTP_TRANSPORTS, h));
    let c2s = info
        .c2s_listeners
        .iter()
        .filter_map(|l| privacy::find_in(&privacy::C2S_TRANSPORTS, l.proto));
    enabled_event("transport_mechanism", http.chain(c2s))
}

/// One event per distinct allowlisted (mode, module) pair, in MongooseIM's order (it folds
/// the sorted pairs onto the front of a list, so they come out in descending order).
fn tls_events(info: &NodeInfo) -> Vec<Event> {
    let pairs: BTreeSet<(&'static str, &'static str)> = info
        .c2s_listeners
        .iter()
        .filter_map(|l| l.tls.as_ref())
        .filter_map(|t| {
            Some((
                privacy::find_in(&privacy::TLS_MODES, t.mode)?,
                privacy::find_in(&privacy::TLS_MODULES, t.module)?,
            ))
        })
        .collect();
    pairs
        .into_iter()
        .rev()
        .map(|(mode, module)| Event::new("tls_option", [("mode", mode), ("module", module)]))
        .collect()
}

/// `increment` = total - previous total; the total itself when there is no previous total or
/// it went down (the node restarted).
fn stanza_events(counts: &StanzaCounts, previous: Option<&StanzaCounts>) -> Vec<Event> {
    let lookup =
        |set: &StanzaCounts, name: &str| set.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    privacy::STANZA_TYPES
        .iter()
        .filter_map(|t| {
            let total = lookup(counts, t)?;
            let increment = match previous.and_then(|p| lookup(p, t)) {
                Some(prev) if prev <= total => total - prev,
                _ => total,
            };
            let mut e = Event::new("xmpp_stanza_count", [("stanza_type", *t)]);
            e.params.insert("total".into(), ParamValue::Int(total));
            e.params
                .insert("increment".into(), ParamValue::Int(increment));
            Some(e)
        })
        .collect()
}
