//! A preview as text (for a person) or JSON (`--json`: `{"events", "requests",
//! "runtime_only"}` and what tells apart the reasons for no request). Text from the file is
//! printed [`printable`].

use std::fmt::Write;

use mongoose_system_metrics_engine::report::event::{Event, ParamValue};
use serde_json::json;

use crate::facts::OptFact;
use crate::preview::{Preview, Reporting, CLIENT_ID_PLACEHOLDER};
use crate::printable::printable;

/// Marks a value that the running node decides.
const RUNTIME_MARK: &str = "*";

/// The preview as JSON: the events (`name`, `params`), the requests (`tracking_id`, `url`
/// with the api_secret masked, `body`) and the names whose values depend on the running node;
/// then why there may be no request: `reporting` (`"on"`, `"off"`), `off_reason`
/// (`"report_false"`, `"no_section"`, else `null`), `configured_tracking_id` (`null` when
/// none: the node then reports only to its release's built-in one, not known offline),
/// `refused_tracking_ids` (those the engine refuses: nothing is sent for them), and
/// `reporting_nodes` (`"every_node"`, `"one_node_per_cluster"` with `cluster_report = true`,
/// `null` when off). Tracking ids are [`printable`].
pub fn json(preview: &Preview) -> String {
    let requests: Vec<_> = preview
        .requests
        .iter()
        .map(|r| json!({"tracking_id": r.tracking_id, "url": r.url, "body": r.body}))
        .collect();
    let service = preview.config.service.as_ref();
    let (reporting, off_reason) = match preview.reporting {
        Reporting::On => ("on", None),
        Reporting::ReportFalse => ("off", Some("report_false")),
        Reporting::NoSection => ("off", Some("no_section")),
    };
    let reporting_nodes = match (preview.reporting, service) {
        (Reporting::On, Some(s)) if s.cluster_report => Some("one_node_per_cluster"),
        (Reporting::On, _) => Some("every_node"),
        _ => None,
    };
    let configured = service
        .and_then(|s| s.tracking_id.as_ref())
        .map(|(id, _)| printable(id));
    let refused: Vec<_> = preview
        .invalid_tracking_id
        .iter()
        .map(|id| printable(id))
        .collect();
    let doc = json!({
        "events": preview.events,
        "requests": requests,
        "runtime_only": preview.runtime_only,
        "reporting": reporting,
        "off_reason": off_reason,
        "configured_tracking_id": configured,
        "refused_tracking_ids": refused,
        "reporting_nodes": reporting_nodes,
    });
    serde_json::to_string_pretty(&doc).expect("JSON values serialize") + "\n"
}

/// The preview as text.
pub fn text(preview: &Preview, file: &str) -> String {
    let mut out = String::new();
    let release = &preview.release;
    let _ = writeln!(
        out,
        "System metrics preview of {file} for MongooseIM {} (the rules of release line {}). \
         Nothing has been sent.",
        release.version,
        release.line.name()
    );
    if !release.supported {
        let _ = writeln!(
            out,
            "Note: {} names no supported release (6.1 to 6.8): the rules of {} apply.",
            release.version,
            release.line.name()
        );
    }
    facts_text(preview, &mut out);
    match preview.reporting {
        Reporting::On => {}
        Reporting::ReportFalse => {
            out.push_str(
                "\nReporting is off: `report = false` in [services.service_mongoose_system_metrics]. \
                 A node running this configuration collects and sends nothing.\n",
            );
            return out;
        }
        Reporting::NoSection => {
            out.push_str(
                "\nReporting is off: there is no [services.service_mongoose_system_metrics] \
                 section, so the service does not run and nothing is collected or sent \
                 (MongooseIM says so once at start).\n",
            );
            return out;
        }
    }
    events_text(preview, &mut out);
    requests_text(preview, &mut out);
    if let Some(service) = &preview.config.service {
        let _ = writeln!(
            out,
            "\nSchedule: the first report {} after the service starts, then {}.",
            duration(service.initial_report),
            match service.periodic_report {
                0 => "no other (periodic_report = 0: the initial report only)".to_string(),
                ms => format!("one every {}", duration(ms)),
            }
        );
    }
    out
}

fn facts_text(preview: &Preview, out: &mut String) {
    let cfg = &preview.config;
    let f = &preview.facts;
    let host_types = cfg.all_host_types();
    out.push_str("\nNode facts read from the configuration\n");
    let shown: Vec<_> = host_types.iter().map(|h| printable(h)).collect();
    let _ = writeln!(
        out,
        "  host types ({}): {}",
        host_types.len(),
        shown.join(", ")
    );
    let _ = writeln!(
        out,
        "  domains: {} static (general.hosts){}",
        f.domain_count,
        if cfg.host_types.is_empty() {
            ""
        } else {
            ", and those added to host types at run time"
        }
    );
    out.push_str("  modules started, per host type (with what their config_metrics/1 reports):\n");
    // The facts hold, for each host type in turn, one entry per module started on any.
    let per_host_type = f.modules.len() / host_types.len().max(1);
    for (i, (host_type, modules)) in preview.started.iter().enumerate() {
        let entries = f.modules.iter().skip(i * per_host_type).take(per_host_type);
        let shown: Vec<String> = entries
            .filter(|e| modules.contains_key(&e.module))
            .map(|e| match e.opts.is_empty() {
                true => printable(&e.module).into_owned(),
                false => format!("{} ({})", printable(&e.module), opts_text(&e.opts)),
            })
            .collect();
        let _ = writeln!(
            out,
            "    {}: {}",
            printable(host_type),
            list_or_none(&shown)
        );
    }
    let handlers: Vec<String> = f
        .http_handlers
        .iter()
        .map(|h| printable(h).into_owned())
        .collect();
    let _ = writeln!(out, "  HTTP handlers: {}", list_or_none(&handlers));
    let listeners: Vec<String> = f
        .c2s_listeners
        .iter()
        .map(|l| match &l.tls {
            Some((mode, module)) => format!(
                "{} (tls: {}, {})",
                printable(&l.proto),
                printable(mode),
                printable(module)
            ),
            None => printable(&l.proto).into_owned(),
        })
        .collect();
    let _ = writeln!(out, "  c2s listeners: {}", list_or_none(&listeners));
    let _ = writeln!(out, "  outgoing pools: {}", list_or_none(&f.outgoing_pools));
    let _ = writeln!(
        out,
        "  stanza counts: {}",
        if f.stanza_counts.is_some() {
            "read on this release with this configuration (the totals are the running node's)"
        } else {
            "not read on this release with this configuration (no instrumentation counts them)"
        }
    );
}

fn opts_text(opts: &[(String, OptFact)]) -> String {
    opts.iter()
        .map(|(k, v)| match v {
            OptFact::Atom(s) | OptFact::Text(s) => format!("{k}={}", printable(s)),
            OptFact::Int(n) => format!("{k}={n}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn events_text(preview: &Preview, out: &mut String) {
    let _ = writeln!(out, "\nEvents ({})", preview.events.len());
    for event in &preview.events {
        let params: Vec<String> = event
            .params
            .iter()
            .map(|(k, v)| {
                let mark = if is_runtime(preview, event, k) {
                    RUNTIME_MARK
                } else {
                    ""
                };
                match v {
                    ParamValue::Str(s) => format!("{k}={s}{mark}"),
                    ParamValue::Int(n) => format!("{k}={n}{mark}"),
                }
            })
            .collect();
        let _ = writeln!(out, "  {:<22} {}", event.name, params.join(", "));
    }
    let _ = writeln!(
        out,
        "  {RUNTIME_MARK} depends on the running node, shown as a node just started alone \
         would send it: {}",
        preview.runtime_only.join(", ")
    );
}

/// Whether an event's param is one whose value the running node decides.
fn is_runtime(preview: &Preview, event: &Event, param: &str) -> bool {
    let named = |n: &str| preview.runtime_only.contains(&n);
    named(param) || (named(&event.name) && matches!(param, "value" | "total" | "increment"))
}

fn requests_text(preview: &Preview, out: &mut String) {
    let _ = writeln!(
        out,
        "\nRequests to the configured tracking id ({}; api_secret masked as ***; client_id is \
         the running node's, shown as {CLIENT_ID_PLACEHOLDER})",
        preview.requests.len()
    );
    for r in &preview.requests {
        let _ = writeln!(out, "  POST {}\n  {}", r.url, r.body);
    }
    if let Some(id) = &preview.invalid_tracking_id {
        let _ = writeln!(
            out,
            "  The configured tracking id {} is refused (an id is 1-64 characters of \
             A-Z a-z 0-9 _ -, its secret printable text): nothing is sent for it.",
            printable(id)
        );
    }
    let service = preview.config.service.as_ref();
    let configured = service.is_some_and(|s| s.tracking_id.is_some());
    out.push_str(if configured {
        "  The node also reports to the tracking id built into its MongooseIM release, if any \
         (set in its sys.config, not known offline), with the same events.\n"
    } else {
        "  None: the section has no tracking_id. The node reports to the tracking id built \
         into its MongooseIM release (set in its sys.config, not known offline), with these \
         events.\n"
    });
    if service.is_some_and(|s| s.cluster_report) {
        out.push_str(
            "  cluster_report = true: one node of the cluster sends this report, with the \
             stanza counts summed over the nodes; the other nodes send nothing.\n",
        );
    }
}

/// `300000` -> `5 min`, `10800000` -> `3 h`.
fn duration(ms: i64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 && ms > 0 => format!("{} h", ms / 3_600_000),
        ms if ms % 60_000 == 0 && ms > 0 => format!("{} min", ms / 60_000),
        ms if ms % 1_000 == 0 && ms > 0 => format!("{} s", ms / 1_000),
        ms => format!("{ms} ms"),
    }
}
