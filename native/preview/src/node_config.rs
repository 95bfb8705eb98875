//! `--node-config`: the node configuration the preview read from the file, in the shape of
//! MongooseIM's `mongoose_config` options (host types, the modules started on each with the
//! options their `config_metrics/1` reads, listeners, pools, instrumentation), and what each
//! module declares, as JSON. `make demo` starts its stand-in node from this, so that the
//! node's own collector gathers the preview's facts: what this checks is the step from facts
//! to events, not the reading of the file (the preview suites check that against MongooseIM's
//! own code).

use serde_json::{json, Map, Value as Json};

use crate::facts::{self, OptFact};
use crate::modules::{self, Kind, Reported};
use crate::preview::Preview;

/// The node configuration of a preview, as JSON. Option values are typed:
/// `{"atom": "rdbms"}`, `{"binary": "v3"}`, `{"integer": 5}`, `{"map": {}}`.
pub fn json(preview: &Preview) -> String {
    let release = &preview.release;
    let cfg = &preview.config;
    let mut modules_by_host_type = Map::new();
    let mut specs = Map::new();
    for (host_type, modules) in &preview.started {
        let mut loaded = Map::new();
        for (module, opts) in modules {
            let kind = modules::kind(release, module);
            let reported = match kind {
                Kind::Metrics => modules::reported(release, module),
                _ => None,
            };
            let held: Map<String, Json> = match reported {
                Some(Reported::Keys(keys)) => keys
                    .iter()
                    .filter_map(|k| {
                        Some((k.to_string(), typed(&facts::opt_fact(k, opts.get(*k)?))))
                    })
                    .collect(),
                Some(Reported::Pushers) => opts
                    .keys()
                    .map(|p| (p.clone(), json!({"map": {}})))
                    .collect(),
                None => Map::new(),
            };
            loaded.insert(module.clone(), Json::Object(held));
            specs.insert(module.clone(), spec(kind, reported));
        }
        modules_by_host_type.insert(host_type.clone(), Json::Object(loaded));
    }
    let c2s = preview.facts.c2s_listeners.iter().map(|l| {
        let mut listener = json!({"module": "mongoose_c2s_listener", "proto": l.proto});
        if let Some((mode, module)) = &l.tls {
            listener["tls"] = json!({"mode": mode, "module": module});
        }
        listener
    });
    let http =
        cfg.listeners.iter().filter(|l| l.kind == "http").map(
            |l| json!({"module": "ejabberd_cowboy", "proto": l.proto, "handlers": l.handlers}),
        );
    let pools: Vec<Json> = cfg
        .pools
        .iter()
        .map(|p| json!({"type": p.kind, "tag": p.tag}))
        .collect();
    let doc = json!({
        "version": release.version,
        "hosts": cfg.hosts,
        "host_types": cfg.host_types,
        "modules": modules_by_host_type,
        "module_specs": specs,
        "listen": c2s.chain(http).collect::<Vec<_>>(),
        "outgoing_pools": pools,
        "instrumentation": cfg.instrumentation,
    });
    serde_json::to_string_pretty(&doc).expect("JSON values serialize") + "\n"
}

/// What a module declares: its behaviours and what its `config_metrics/1` reports (`null`
/// for none, `"pushers"` for mod_event_pusher's form).
fn spec(kind: Kind, reported: Option<Reported>) -> Json {
    let behaviours: &[&str] = match kind {
        Kind::Metrics => &["gen_mod", "mongoose_module_metrics"],
        Kind::GenMod => &["gen_mod"],
        Kind::Uncounted => &[],
    };
    let config_metrics = match reported {
        Some(Reported::Keys(keys)) => json!(keys),
        Some(Reported::Pushers) => json!("pushers"),
        None => Json::Null,
    };
    json!({"behaviours": behaviours, "config_metrics": config_metrics})
}

fn typed(v: &OptFact) -> Json {
    match v {
        OptFact::Atom(a) => json!({"atom": a}),
        OptFact::Text(t) => json!({"binary": t}),
        OptFact::Int(n) => json!({"integer": n}),
    }
}
