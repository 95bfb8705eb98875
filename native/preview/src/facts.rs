//! The node facts of a configuration: what `mongoose_system_metrics_collector:collect/1`
//! would gather on a node running it, as the engine's `build_report/1` input. What only the
//! running node knows is given as a node that has just started, alone, would have it:
//! uptime 0, one node, no component, no domain added at run time, stanza totals 0.

use std::collections::BTreeMap;

use mongoose_system_metrics_engine::node::value::Value;
use mongoose_system_metrics_engine::report::allowlists::STANZA_TYPES;

use crate::deps;
use crate::mim_config::MimConfig;
use crate::modules::{self, Kind, Opts, Reported};
use crate::release::Release;

/// A reported option value, typed as MongooseIM holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptFact {
    /// An atom (backend names).
    Atom(String),
    /// A binary (`api_version`).
    Text(String),
    /// An integer.
    Int(i64),
}

/// One (host type, module) entry: the module and what its `config_metrics/1` reports for
/// that host type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFact {
    /// The module.
    pub module: String,
    /// Its reported options (none where it is not loaded on that host type).
    pub opts: Vec<(String, OptFact)>,
}

/// A c2s listener: its protocol and, when it names a TLS module, its TLS mode and module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2sFact {
    /// `tcp`.
    pub proto: String,
    /// `(mode, module)`.
    pub tls: Option<(String, String)>,
}

/// The facts, field by field as the collector gathers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    /// The release's version.
    pub version: String,
    /// Seconds since start (run time: 0).
    pub uptime_seconds: i64,
    /// Nodes in the cluster (run time: 1).
    pub node_count: i64,
    /// Connected XMPP components (run time: 0).
    pub component_count: i64,
    /// `toml`, `cfg` or `unknown_config_type`, from the file's extension.
    pub config_type: &'static str,
    /// Hosts and host types.
    pub host_type_count: i64,
    /// Static domains (`general.hosts`); domains of host types are added at run time.
    pub domain_count: i64,
    /// For each host type, one entry for every module started on any host type.
    pub modules: Vec<ModuleFact>,
    /// HTTP handler modules, sorted, each once.
    pub http_handlers: Vec<String>,
    /// c2s listeners.
    pub c2s_listeners: Vec<C2sFact>,
    /// Outgoing pool types, one per pool.
    pub outgoing_pools: Vec<String>,
    /// Stanza totals (run time: 0), when the release reads them with this configuration.
    pub stanza_counts: Option<Vec<(String, i64)>>,
}

/// The modules started on each host type, with their options, host types in MongooseIM's
/// order.
pub type StartedModules = Vec<(String, BTreeMap<String, Opts>)>;

/// Every module started on each host type: its configured modules (`host_config`'s when it
/// has its own) with their defaults, and the modules they start.
pub fn started_modules(cfg: &MimConfig, release: &Release) -> StartedModules {
    cfg.all_host_types()
        .into_iter()
        .map(|ht| {
            let configured: BTreeMap<String, Opts> = cfg
                .modules_of(&ht)
                .iter()
                .map(|(m, o)| (m.clone(), modules::with_defaults(release, m, o)))
                .collect();
            let started = deps::resolve(release, &ht, &configured);
            (ht, started)
        })
        .collect()
}

impl NodeFacts {
    /// The facts of `cfg` on `release`, from a file with extension `extension`, given the
    /// modules started on each host type ([`started_modules`]).
    pub fn gather(
        cfg: &MimConfig,
        release: &Release,
        extension: Option<&str>,
        per_host_type: &StartedModules,
    ) -> NodeFacts {
        let mut all: Vec<&String> = per_host_type.iter().flat_map(|(_, m)| m.keys()).collect();
        all.sort();
        all.dedup();
        let mut module_facts = Vec::new();
        for (_, started) in per_host_type {
            for module in &all {
                let opts = match modules::kind(release, module) {
                    Kind::Uncounted => continue,
                    Kind::GenMod => Vec::new(),
                    Kind::Metrics => reported_opts(release, module, started.get(*module)),
                };
                module_facts.push(ModuleFact {
                    module: (*module).clone(),
                    opts,
                });
            }
        }
        let mut http_handlers: Vec<String> = cfg
            .listeners
            .iter()
            .filter(|l| l.kind == "http")
            .flat_map(|l| l.handlers.iter().cloned())
            .collect();
        http_handlers.sort();
        http_handlers.dedup();
        let c2s_listeners = cfg
            .listeners
            .iter()
            .filter(|l| l.kind == "c2s")
            .map(|l| C2sFact {
                proto: l.proto.clone(),
                tls: release.c2s_tls_module_default().and_then(|default| {
                    let tls = l.tls.as_ref()?;
                    let get = |k: &str, d: &str| {
                        tls.get(k).and_then(|v| v.as_str()).unwrap_or(d).to_string()
                    };
                    Some((get("mode", "starttls"), get("module", default)))
                }),
            })
            .collect();
        let stanza_counts = release
            .reads_stanza_counts(&cfg.instrumentation)
            .then(|| STANZA_TYPES.iter().map(|t| (t.to_string(), 0)).collect());
        NodeFacts {
            version: release.version.clone(),
            uptime_seconds: 0,
            node_count: 1,
            component_count: 0,
            config_type: match extension {
                Some("toml") => "toml",
                Some("cfg") => "cfg",
                _ => "unknown_config_type",
            },
            host_type_count: (cfg.hosts.len() + cfg.host_types.len()) as i64,
            domain_count: cfg.hosts.len() as i64,
            modules: module_facts,
            http_handlers,
            c2s_listeners,
            outgoing_pools: cfg.pools.iter().map(|p| p.kind.clone()).collect(),
            stanza_counts,
        }
    }

    /// The facts as the engine's input term (`build_report/1`'s `NodeInfo`).
    pub fn to_value(&self) -> Value {
        let atom = |s: &str| Value::Atom(s.to_string());
        let int = Value::Int;
        let mut fields = vec![
            ("version", Value::Binary(self.version.as_bytes().to_vec())),
            ("uptime_seconds", int(self.uptime_seconds)),
            ("node_count", int(self.node_count)),
            ("component_count", int(self.component_count)),
            ("config_type", atom(self.config_type)),
            ("host_type_count", int(self.host_type_count)),
            ("domain_count", int(self.domain_count)),
            (
                "modules",
                Value::List(self.modules.iter().map(module_value).collect()),
            ),
            (
                "http_handlers",
                Value::List(self.http_handlers.iter().map(|h| atom(h)).collect()),
            ),
            (
                "c2s_listeners",
                Value::List(self.c2s_listeners.iter().map(listener_value).collect()),
            ),
            (
                "outgoing_pools",
                Value::List(self.outgoing_pools.iter().map(|p| atom(p)).collect()),
            ),
        ];
        if let Some(counts) = &self.stanza_counts {
            fields.push((
                "stanza_counts",
                map(counts.iter().map(|(k, v)| (k.as_str(), int(*v))).collect()),
            ));
        }
        map(fields)
    }
}

/// What a metrics module's `config_metrics/1` reports on a host type, folded as the
/// collector folds it (a repeated key keeps its last value).
fn reported_opts(release: &Release, module: &str, opts: Option<&Opts>) -> Vec<(String, OptFact)> {
    let (Some(reported), Some(opts)) = (modules::reported(release, module), opts) else {
        return Vec::new();
    };
    match reported {
        // All keys or nothing, as mongoose_module_metrics:opts_for_module/3.
        Reported::Keys(keys) => keys
            .iter()
            .map(|k| Some((k.to_string(), opt_fact(k, opts.get(*k)?))))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default(),
        // One `backend` per pusher, in the order of the option map's keys: the last stays.
        Reported::Pushers => opts
            .keys()
            .max()
            .map(|p| vec![("backend".to_string(), OptFact::Atom(p.clone()))])
            .unwrap_or_default(),
    }
}

/// A TOML option value as the collector passes it on; anything but text, a number or a
/// boolean is reported as `custom`.
pub fn opt_fact(key: &str, v: &toml::Value) -> OptFact {
    match v {
        toml::Value::String(s) if modules::is_text_option(key) => OptFact::Text(s.clone()),
        toml::Value::String(s) => OptFact::Atom(s.clone()),
        toml::Value::Integer(n) => OptFact::Int(*n),
        toml::Value::Boolean(b) => OptFact::Atom(b.to_string()),
        _ => OptFact::Atom("custom".to_string()),
    }
}

fn module_value(m: &ModuleFact) -> Value {
    let mut fields = vec![("module", Value::Atom(m.module.clone()))];
    if !m.opts.is_empty() {
        let opts = m
            .opts
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    OptFact::Atom(a) => Value::Atom(a.clone()),
                    OptFact::Text(t) => Value::Binary(t.as_bytes().to_vec()),
                    OptFact::Int(n) => Value::Int(*n),
                };
                (k.as_str(), value)
            })
            .collect();
        fields.push(("opts", map(opts)));
    }
    map(fields)
}

fn listener_value(l: &C2sFact) -> Value {
    let mut fields = vec![("proto", Value::Atom(l.proto.clone()))];
    if let Some((mode, module)) = &l.tls {
        fields.push((
            "tls",
            map(vec![
                ("mode", Value::Atom(mode.clone())),
                ("module", Value::Atom(module.clone())),
            ]),
        ));
    }
    map(fields)
}

/// A map with atom keys.
fn map(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Value::Atom(k.to_string()), v))
            .collect(),
    )
}
