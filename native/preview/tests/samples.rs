//! The sample configurations of `demo/`: their node facts and events, written out by hand
//! from the files and MongooseIM's rules (which modules each configured module starts, what
//! each reports, which events a release sends), checked against the library and against
//! `msm-preview --json`.

use std::path::PathBuf;
use std::process::Command;

use mongoose_system_metrics_preview::facts::{C2sFact, ModuleFact, NodeFacts, OptFact};
use mongoose_system_metrics_preview::preview::preview_file;
use mongoose_system_metrics_preview::release::Release;
use serde_json::{json, Value};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../demo")
        .join(name)
}

fn bare(module: &str) -> ModuleFact {
    ModuleFact {
        module: module.to_string(),
        opts: Vec::new(),
    }
}

fn with(module: &str, opts: &[(&str, OptFact)]) -> ModuleFact {
    ModuleFact {
        module: module.to_string(),
        opts: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn atom(s: &str) -> OptFact {
    OptFact::Atom(s.to_string())
}

fn backend(module: &str, value: &str) -> ModuleFact {
    with(module, &[("backend", atom(value))])
}

/// The stanza types, in MongooseIM's order.
const STANZA_TYPES: [&str; 6] = [
    "xmppMessageSent",
    "xmppMessageReceived",
    "xmppIqSent",
    "xmppIqReceived",
    "xmppPresenceSent",
    "xmppPresenceReceived",
];

fn stanza_counts() -> Option<Vec<(String, i64)>> {
    Some(STANZA_TYPES.iter().map(|t| (t.to_string(), 0)).collect())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn ev(name: &str, params: Value) -> Value {
    json!({"name": name, "params": params})
}

fn module_event(module: &str) -> Value {
    ev("module_with_opt", json!({"module": module}))
}

fn backend_event(module: &str, backend: &str) -> Value {
    ev(
        "module_with_opt",
        json!({"module": module, "backend": backend}),
    )
}

fn stanza_events() -> Vec<Value> {
    STANZA_TYPES
        .iter()
        .map(|t| {
            ev(
                "xmpp_stanza_count",
                json!({"stanza_type": t, "total": 0, "increment": 0}),
            )
        })
        .collect()
}

/// `msm-preview --json` of a sample.
fn preview_json(file: &str, version: Option<&str>) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_msm-preview"));
    cmd.arg("--config").arg(sample(file)).arg("--json");
    if let Some(v) = version {
        cmd.args(["--mongooseim-version", v]);
    }
    let out = cmd.output().expect("msm-preview runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The request bodies of `events`: 25 events each, in order.
fn bodies(events: &[Value], validate: bool) -> Vec<Value> {
    events
        .chunks(25)
        .map(|chunk| {
            let mut body = json!({"client_id": "client-id-of-the-running-node", "events": chunk});
            if validate {
                body["validation_behavior"] = json!("ENFORCE_RECOMMENDATIONS");
            }
            body
        })
        .collect()
}

fn check_requests(preview: &Value, tracking_id: &str, url: &str, expected: Vec<Value>) {
    let requests = preview["requests"].as_array().unwrap();
    assert_eq!(requests.len(), expected.len());
    for (request, body) in requests.iter().zip(expected) {
        assert_eq!(request["tracking_id"], tracking_id);
        assert_eq!(request["url"], url);
        let sent: Value = serde_json::from_str(request["body"].as_str().unwrap()).unwrap();
        assert_eq!(sent, body);
    }
}

// demo/mongooseim.toml on 6.3.3: localhost and premium each with the modules of its own
// [[host_config]].
// mod_blocking starts mod_privacy with its options, which starts mod_presence; mod_mam with
// pm and muc on rdbms starts their core, archive, user, user cache and async writer
// modules; on premium, pm on cassandra its cassandra archive; mod_event_pusher's push
// section starts mod_event_pusher_push. 6.3 listeners name their TLS module.

/// The 31 modules started on any host type, with what each reports on localhost.
fn demo_localhost_modules() -> Vec<ModuleFact> {
    vec![
        bare("mod_acme_audit"),
        bare("mod_adhoc"),
        bare("mod_blocking"),
        backend("mod_bosh", "mnesia"),
        bare("mod_carboncopy"),
        bare("mod_disco"),
        backend("mod_event_pusher", "push"),
        backend("mod_event_pusher_push", "rdbms"),
        bare("mod_http_upload"),
        backend("mod_inbox", "rdbms"),
        backend("mod_last", "rdbms"),
        backend("mod_mam", "rdbms"),
        bare("mod_mam_cache_user"),
        bare("mod_mam_cassandra_arch"),
        bare("mod_mam_muc"),
        bare("mod_mam_muc_rdbms_arch"),
        bare("mod_mam_muc_rdbms_arch_async"),
        bare("mod_mam_pm"),
        bare("mod_mam_rdbms_arch"),
        bare("mod_mam_rdbms_arch_async"),
        bare("mod_mam_rdbms_user"),
        with(
            "mod_muc",
            &[
                ("backend", atom("rdbms")),
                ("online_backend", atom("mnesia")),
            ],
        ),
        bare("mod_muc_light"),
        backend("mod_offline", "mnesia"),
        bare("mod_ping"),
        bare("mod_presence"),
        backend("mod_privacy", "rdbms"),
        with(
            "mod_push_service_mongoosepush",
            &[("api_version", OptFact::Text("v3".to_string()))],
        ),
        backend("mod_roster", "rdbms"),
        bare("mod_stream_management"),
        backend("mod_vcard", "rdbms"),
    ]
}

/// The same modules, with what each reports on premium.
fn demo_premium_modules() -> Vec<ModuleFact> {
    let premium = [
        backend("mod_http_upload", "s3"),
        backend("mod_mam", "cassandra"),
        backend("mod_muc_light", "rdbms"),
        backend("mod_roster", "mnesia"),
        backend("mod_vcard", "mnesia"),
    ];
    demo_localhost_modules()
        .into_iter()
        .map(|m| {
            premium
                .iter()
                .find(|p| p.module == m.module)
                .cloned()
                .unwrap_or_else(|| bare(&m.module))
        })
        .collect()
}

#[test]
fn demo_sample_node_facts() {
    let preview = preview_file(
        &sample("mongooseim.toml"),
        &Release::parse("6.3.3").unwrap(),
    )
    .expect("previews");
    let expected = NodeFacts {
        version: "6.3.3".to_string(),
        uptime_seconds: 0,
        node_count: 1,
        component_count: 0,
        config_type: "toml",
        host_type_count: 2,
        domain_count: 1,
        modules: demo_localhost_modules()
            .into_iter()
            .chain(demo_premium_modules())
            .collect(),
        http_handlers: strings(&[
            "mod_bosh",
            "mod_websockets",
            "mongoose_admin_api",
            "mongoose_client_api",
            "mongoose_graphql_handler",
        ]),
        c2s_listeners: vec![
            C2sFact {
                proto: "tcp".to_string(),
                tls: Some(("starttls".to_string(), "fast_tls".to_string())),
            },
            C2sFact {
                proto: "tcp".to_string(),
                tls: Some(("tls".to_string(), "just_tls".to_string())),
            },
            C2sFact {
                proto: "tcp".to_string(),
                tls: None,
            },
        ],
        outgoing_pools: strings(&["cassandra", "http", "rdbms"]),
        stanza_counts: stanza_counts(),
    };
    assert_eq!(preview.facts, expected);
    assert!(
        preview.config.warnings.is_empty(),
        "{:?}",
        preview.config.warnings
    );
    let started: Vec<(String, Vec<String>)> = preview
        .started
        .iter()
        .map(|(ht, modules)| (ht.clone(), modules.keys().cloned().collect()))
        .collect();
    let localhost = strings(&[
        "mod_acme_audit",
        "mod_adhoc",
        "mod_blocking",
        "mod_bosh",
        "mod_carboncopy",
        "mod_disco",
        "mod_event_pusher",
        "mod_event_pusher_push",
        "mod_inbox",
        "mod_last",
        "mod_mam",
        "mod_mam_cache_user",
        "mod_mam_muc",
        "mod_mam_muc_rdbms_arch",
        "mod_mam_muc_rdbms_arch_async",
        "mod_mam_pm",
        "mod_mam_rdbms_arch",
        "mod_mam_rdbms_arch_async",
        "mod_mam_rdbms_user",
        "mod_muc",
        "mod_offline",
        "mod_ping",
        "mod_presence",
        "mod_privacy",
        "mod_push_service_mongoosepush",
        "mod_roster",
        "mod_stream_management",
        "mod_vcard",
    ]);
    let premium = strings(&[
        "mod_disco",
        "mod_http_upload",
        "mod_mam",
        "mod_mam_cassandra_arch",
        "mod_mam_pm",
        "mod_muc_light",
        "mod_roster",
        "mod_vcard",
    ]);
    assert_eq!(
        started,
        vec![
            ("localhost".to_string(), localhost),
            ("premium".to_string(), premium)
        ]
    );
}

/// The module events of one host type of demo/mongooseim.toml: the reporting modules only.
fn demo_module_events(premium: bool) -> Vec<Value> {
    let by_host_type = |local: Value, prem: Value| if premium { prem } else { local };
    let m = module_event;
    vec![
        m("mod_adhoc"),
        m("mod_blocking"),
        by_host_type(backend_event("mod_bosh", "mnesia"), m("mod_bosh")),
        m("mod_carboncopy"),
        m("mod_disco"),
        by_host_type(
            backend_event("mod_event_pusher", "push"),
            m("mod_event_pusher"),
        ),
        by_host_type(
            backend_event("mod_event_pusher_push", "rdbms"),
            m("mod_event_pusher_push"),
        ),
        by_host_type(m("mod_http_upload"), backend_event("mod_http_upload", "s3")),
        by_host_type(backend_event("mod_inbox", "rdbms"), m("mod_inbox")),
        by_host_type(backend_event("mod_last", "rdbms"), m("mod_last")),
        by_host_type(
            backend_event("mod_mam", "rdbms"),
            backend_event("mod_mam", "cassandra"),
        ),
        m("mod_mam_cache_user"),
        m("mod_mam_cassandra_arch"),
        m("mod_mam_muc_rdbms_arch"),
        m("mod_mam_pm"),
        m("mod_mam_rdbms_arch"),
        by_host_type(
            ev(
                "module_with_opt",
                json!({"module": "mod_muc", "backend": "rdbms", "online_backend": "mnesia"}),
            ),
            m("mod_muc"),
        ),
        by_host_type(m("mod_muc_light"), backend_event("mod_muc_light", "rdbms")),
        by_host_type(backend_event("mod_offline", "mnesia"), m("mod_offline")),
        by_host_type(backend_event("mod_privacy", "rdbms"), m("mod_privacy")),
        by_host_type(
            ev(
                "module_with_opt",
                json!({"module": "mod_push_service_mongoosepush", "api_version": "v3"}),
            ),
            m("mod_push_service_mongoosepush"),
        ),
        by_host_type(
            backend_event("mod_roster", "rdbms"),
            backend_event("mod_roster", "mnesia"),
        ),
        m("mod_stream_management"),
        by_host_type(
            backend_event("mod_vcard", "rdbms"),
            backend_event("mod_vcard", "mnesia"),
        ),
    ]
}

#[test]
fn demo_sample_events_and_requests() {
    let preview = preview_json("mongooseim.toml", Some("6.3.3"));
    let mut events = vec![
        ev("host_count", json!({"value": 2})),
        ev("domain_count", json!({"value": 1})),
    ];
    events.extend(demo_module_events(false));
    events.extend(demo_module_events(true));
    events.extend([
        // mod_acme_audit, mod_mam_muc, mod_mam_muc_rdbms_arch_async,
        // mod_mam_rdbms_arch_async, mod_mam_rdbms_user, mod_ping, mod_presence.
        ev("custom_module_count", json!({"value": 7})),
        ev(
            "cluster",
            json!({"uptime": "0000-00:00:00", "version": "6.3.3", "component": 0,
                   "node_number": 1, "config_type": "toml"}),
        ),
        ev(
            "http_api",
            json!({"mod_bosh": "enabled", "mod_websockets": "enabled",
                   "mongoose_admin_api": "enabled", "mongoose_client_api": "enabled"}),
        ),
        ev(
            "transport_mechanism",
            json!({"mod_bosh": "enabled", "mod_websockets": "enabled", "tcp": "enabled"}),
        ),
        ev("tls_option", json!({"mode": "tls", "module": "just_tls"})),
        ev(
            "tls_option",
            json!({"mode": "starttls", "module": "fast_tls"}),
        ),
        ev("outgoing_pool", json!({"value": "cassandra"})),
        ev("outgoing_pool", json!({"value": "http"})),
        ev("outgoing_pool", json!({"value": "rdbms"})),
    ]);
    events.extend(stanza_events());
    assert_eq!(events.len(), 65);
    assert_eq!(preview["events"], json!(events));
    assert_eq!(
        preview["runtime_only"],
        json!([
            "uptime",
            "node_number",
            "component",
            "domain_count",
            "xmpp_stanza_count",
            "client_id"
        ])
    );
    check_requests(
        &preview,
        "G-SAMPLE0001",
        "https://www.google-analytics.com/mp/collect?measurement_id=G-SAMPLE0001&api_secret=***",
        bodies(&events, false),
    );
    // Every kind of event a report can carry.
    let mut kinds: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "host_count",
            "domain_count",
            "module_with_opt",
            "custom_module_count",
            "cluster",
            "http_api",
            "transport_mechanism",
            "tls_option",
            "outgoing_pool",
            "xmpp_stanza_count"
        ]
    );
}

// demo/mongooseim-6.8.toml on 6.8.0 (the default): two static hosts with the same modules.
// mod_mam's pm on rdbms without the async writer; mod_pubsub_old with the PEP plugin starts
// mod_caps (a gen_mod on 6.8); mod_event_pusher's http and rabbit sections start their
// modules and it reports the last, rabbit. No TLS option on 6.8; prometheus counts stanzas.

fn demo68_modules() -> Vec<ModuleFact> {
    vec![
        bare("mod_caps"),
        bare("mod_disco"),
        backend("mod_event_pusher", "rabbit"),
        bare("mod_event_pusher_http"),
        bare("mod_event_pusher_rabbit"),
        backend("mod_inbox", "rdbms_async"),
        backend("mod_mam", "rdbms"),
        bare("mod_mam_cache_user"),
        bare("mod_mam_pm"),
        bare("mod_mam_rdbms_arch"),
        bare("mod_mam_rdbms_user"),
        with(
            "mod_muc",
            &[("backend", atom("rdbms")), ("online_backend", atom("cets"))],
        ),
        backend("mod_offline", "rdbms"),
        bare("mod_presence"),
        backend("mod_pubsub_old", "mnesia"),
        backend("mod_roster", "rdbms"),
        bare("mod_smart_markers"),
        bare("mod_stream_management"),
    ]
}

#[test]
fn latest_sample_node_facts() {
    let preview =
        preview_file(&sample("mongooseim-6.8.toml"), &Release::latest()).expect("previews");
    let expected = NodeFacts {
        version: "6.8.0".to_string(),
        uptime_seconds: 0,
        node_count: 1,
        component_count: 0,
        config_type: "toml",
        host_type_count: 2,
        domain_count: 2,
        modules: demo68_modules()
            .into_iter()
            .chain(demo68_modules())
            .collect(),
        http_handlers: strings(&[
            "mongoose_bosh_handler",
            "mongoose_graphql_handler",
            "mongoose_prometheus_handler",
            "mongoose_websocket_handler",
        ]),
        c2s_listeners: vec![C2sFact {
            proto: "tcp".to_string(),
            tls: None,
        }],
        outgoing_pools: strings(&["rabbit", "rdbms", "redis"]),
        stanza_counts: stanza_counts(),
    };
    assert_eq!(preview.facts, expected);
    assert!(
        preview.config.warnings.is_empty(),
        "{:?}",
        preview.config.warnings
    );
}

#[test]
fn latest_sample_events_and_requests() {
    let preview = preview_json("mongooseim-6.8.toml", None);
    let host_type_events = || {
        let m = module_event;
        vec![
            m("mod_disco"),
            backend_event("mod_event_pusher", "rabbit"),
            m("mod_event_pusher_http"),
            m("mod_event_pusher_rabbit"),
            backend_event("mod_inbox", "rdbms_async"),
            backend_event("mod_mam", "rdbms"),
            m("mod_mam_cache_user"),
            m("mod_mam_pm"),
            m("mod_mam_rdbms_arch"),
            ev(
                "module_with_opt",
                json!({"module": "mod_muc", "backend": "rdbms", "online_backend": "cets"}),
            ),
            backend_event("mod_offline", "rdbms"),
            backend_event("mod_pubsub_old", "mnesia"),
            backend_event("mod_roster", "rdbms"),
            m("mod_stream_management"),
        ]
    };
    let mut events = vec![
        ev("host_count", json!({"value": 2})),
        ev("domain_count", json!({"value": 2})),
    ];
    events.extend(host_type_events());
    events.extend(host_type_events());
    events.extend([
        // mod_caps, mod_mam_rdbms_user, mod_presence, mod_smart_markers.
        ev("custom_module_count", json!({"value": 4})),
        ev(
            "cluster",
            json!({"uptime": "0000-00:00:00", "version": "6.8.0", "component": 0,
                   "node_number": 1, "config_type": "toml"}),
        ),
        ev(
            "http_api",
            json!({"mongoose_bosh_handler": "enabled", "mongoose_graphql_handler": "enabled",
                   "mongoose_websocket_handler": "enabled"}),
        ),
        ev(
            "transport_mechanism",
            json!({"mongoose_bosh_handler": "enabled", "mongoose_websocket_handler": "enabled",
                   "tcp": "enabled"}),
        ),
        ev("outgoing_pool", json!({"value": "rabbit"})),
        ev("outgoing_pool", json!({"value": "rdbms"})),
        ev("outgoing_pool", json!({"value": "redis"})),
    ]);
    events.extend(stanza_events());
    assert_eq!(events.len(), 43);
    assert_eq!(preview["events"], json!(events));
    // Static hosts only: the domain count is the file's.
    assert_eq!(
        preview["runtime_only"],
        json!([
            "uptime",
            "node_number",
            "component",
            "xmpp_stanza_count",
            "client_id"
        ])
    );
    check_requests(
        &preview,
        "G-SAMPLE0068",
        "https://region1.google-analytics.com/debug/mp/collect?measurement_id=G-SAMPLE0068\
         &api_secret=***",
        bodies(&events, true),
    );
}
