//! The engine's entry points on decoded terms: input model, limits, privacy, GA4 rules,
//! batching, JSON and planning.

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::node::value::{PathElem, Value};
use mongoose_system_metrics_engine::report::event::{Event, ParamValue};
use mongoose_system_metrics_engine::wire::ga4::Mode;
use mongoose_system_metrics_engine::wire::plan;

fn atom(s: &str) -> Value {
    Value::Atom(s.into())
}
fn bin(s: &str) -> Value {
    Value::Binary(s.as_bytes().to_vec())
}
fn int(n: i64) -> Value {
    Value::Int(n)
}
fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (atom(k), v)).collect())
}
fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}
fn key(k: &str) -> PathElem {
    PathElem::Key(k.into())
}
fn idx(i: usize) -> PathElem {
    PathElem::Index(i)
}
fn module(name: &str, opts: Vec<(&str, Value)>) -> Value {
    map(vec![("module", atom(name)), ("opts", map(opts))])
}
fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_ref()).collect()
}
fn param<'a>(e: &'a Event, k: &str) -> Option<&'a ParamValue> {
    e.params.get(k)
}
fn s(v: &str) -> ParamValue {
    ParamValue::Str(v.to_string().into())
}

fn full_node_info() -> Value {
    map(vec![
        ("version", bin("6.8.0-12-gabc1234")),
        ("uptime_seconds", int(3 * 86_400 + 3_723)),
        ("node_count", int(3)),
        ("component_count", int(2)),
        ("config_type", atom("toml")),
        ("host_type_count", int(2)),
        ("domain_count", int(5)),
        (
            "modules",
            list(vec![
                module("mod_mam", vec![("backend", atom("rdbms"))]),
                module("mod_mam", vec![("backend", atom("cassandra"))]),
                module(
                    "mod_muc",
                    vec![
                        ("backend", atom("mnesia")),
                        ("online_backend", atom("cets")),
                    ],
                ),
                module(
                    "mod_push_service_mongoosepush",
                    vec![("api_version", atom("v3"))],
                ),
                module("mod_acme_billing", vec![("backend", atom("rdbms"))]),
                module("mod_acme_billing", vec![]),
                module("mod_ping", vec![]),
                module("mod_disco", vec![]),
            ]),
        ),
        (
            "http_handlers",
            list(vec![
                atom("mongoose_bosh_handler"),
                atom("mongoose_websocket_handler"),
                atom("mongoose_graphql_handler"),
                atom("acme_handler"),
            ]),
        ),
        (
            "c2s_listeners",
            list(vec![
                map(vec![
                    ("proto", atom("tcp")),
                    (
                        "tls",
                        map(vec![
                            ("mode", atom("starttls")),
                            ("module", atom("just_tls")),
                        ]),
                    ),
                ]),
                map(vec![
                    ("proto", atom("tcp")),
                    (
                        "tls",
                        map(vec![("mode", atom("tls")), ("module", atom("fast_tls"))]),
                    ),
                ]),
                map(vec![
                    ("proto", atom("tcp")),
                    (
                        "tls",
                        map(vec![
                            ("mode", atom("starttls")),
                            ("module", atom("just_tls")),
                        ]),
                    ),
                ]),
                map(vec![("proto", atom("udp"))]),
            ]),
        ),
        (
            "outgoing_pools",
            list(vec![
                atom("rdbms"),
                atom("redis"),
                atom("acme_pool"),
                atom("rdbms"),
            ]),
        ),
        (
            "stanza_counts",
            map(vec![
                ("xmppMessageSent", int(10)),
                ("xmppIqReceived", int(4)),
                ("acmeCounter", int(9)),
            ]),
        ),
        (
            "previous_stanza_counts",
            map(vec![
                ("xmppMessageSent", int(7)),
                ("xmppIqReceived", int(9)),
            ]),
        ),
    ])
}

#[test]
fn full_report_in_mongooseim_order() {
    let events = api::build_report(&full_node_info()).unwrap();
    assert_eq!(
        names(&events),
        vec![
            "host_count",
            "domain_count",
            "module_with_opt",
            "module_with_opt",
            "module_with_opt",
            "module_with_opt",
            "module_with_opt",
            "custom_module_count",
            "cluster",
            "http_api",
            "transport_mechanism",
            "tls_option",
            "tls_option",
            "outgoing_pool",
            "outgoing_pool",
            "outgoing_pool",
            "xmpp_stanza_count",
            "xmpp_stanza_count",
        ]
    );
    assert_eq!(param(&events[0], "value"), Some(&ParamValue::Int(2)));
    assert_eq!(param(&events[1], "value"), Some(&ParamValue::Int(5)));
    // One event per (host type, module) entry, options kept on the allowlist.
    assert_eq!(param(&events[2], "backend"), Some(&s("rdbms")));
    assert_eq!(param(&events[3], "backend"), Some(&s("cassandra")));
    assert_eq!(param(&events[4], "online_backend"), Some(&s("cets")));
    assert_eq!(param(&events[5], "api_version"), Some(&s("v3")));
    assert_eq!(param(&events[6], "module"), Some(&s("mod_disco")));
    assert_eq!(events[6].params.len(), 1);
    // mod_acme_billing and mod_ping: counted once per distinct name.
    assert_eq!(param(&events[7], "value"), Some(&ParamValue::Int(2)));
    let cluster = &events[8];
    assert_eq!(param(cluster, "uptime"), Some(&s("0003-01:02:03")));
    assert_eq!(param(cluster, "version"), Some(&s("6.8.0-12-gabc1234")));
    assert_eq!(param(cluster, "component"), Some(&ParamValue::Int(2)));
    assert_eq!(param(cluster, "node_number"), Some(&ParamValue::Int(3)));
    assert_eq!(param(cluster, "config_type"), Some(&s("toml")));
    let api_keys: Vec<&str> = events[9].params.keys().map(|k| k.as_ref()).collect();
    assert_eq!(
        api_keys,
        [
            "mongoose_bosh_handler",
            "mongoose_graphql_handler",
            "mongoose_websocket_handler"
        ]
    );
    assert!(events[9].params.values().all(|v| *v == s("enabled")));
    let transports: Vec<&str> = events[10].params.keys().map(|k| k.as_ref()).collect();
    assert_eq!(
        transports,
        ["mongoose_bosh_handler", "mongoose_websocket_handler", "tcp"]
    );
    // Distinct pairs, MongooseIM's descending order.
    assert_eq!(param(&events[11], "mode"), Some(&s("tls")));
    assert_eq!(param(&events[11], "module"), Some(&s("fast_tls")));
    assert_eq!(param(&events[12], "mode"), Some(&s("starttls")));
    // One event per pool, unknown types dropped.
    let pools: Vec<_> = events[13..16]
        .iter()
        .map(|e| param(e, "value").cloned())
        .collect();
    assert_eq!(
        pools,
        [Some(s("rdbms")), Some(s("redis")), Some(s("rdbms"))]
    );
    // Stanzas in MongooseIM's order; the total went down for IqReceived (restart).
    assert_eq!(
        param(&events[16], "stanza_type"),
        Some(&s("xmppMessageSent"))
    );
    assert_eq!(param(&events[16], "increment"), Some(&ParamValue::Int(3)));
    assert_eq!(
        param(&events[17], "stanza_type"),
        Some(&s("xmppIqReceived"))
    );
    assert_eq!(param(&events[17], "total"), Some(&ParamValue::Int(4)));
    assert_eq!(param(&events[17], "increment"), Some(&ParamValue::Int(4)));
}

#[test]
fn report_is_deterministic_and_privacy_clean() {
    let a = api::build_report(&full_node_info()).unwrap();
    let b = api::build_report(&full_node_info()).unwrap();
    assert_eq!(a, b);
    let json = String::from_utf8(mongoose_system_metrics_engine::wire::json::pretty(&a)).unwrap();
    for leak in ["acme", "udp", "mod_ping"] {
        assert!(!json.contains(leak), "{leak} leaked into {json}");
    }
}

#[test]
fn empty_node_info_still_reports_the_always_sent_events() {
    let events = api::build_report(&map(vec![])).unwrap();
    assert_eq!(
        names(&events),
        [
            "custom_module_count",
            "cluster",
            "http_api",
            "transport_mechanism"
        ]
    );
    assert!(events[2].params.is_empty() && events[3].params.is_empty());
}

#[test]
fn option_values_off_the_allowlist_become_custom_and_unknown_names_are_dropped() {
    let info = map(vec![(
        "modules",
        list(vec![
            module(
                "mod_mam",
                vec![
                    ("backend", bin("acme_db")),
                    ("host", bin("secret.example.com")),
                ],
            ),
            module("mod_vcard", vec![("backend", int(5))]),
            module("mod_muc", vec![("backend", atom("true"))]),
            module("mod_adhoc", vec![("backend", atom("rdbms"))]),
        ]),
    )]);
    let events = api::build_report(&info).unwrap();
    let mods: Vec<&Event> = events
        .iter()
        .filter(|e| e.name == "module_with_opt")
        .collect();
    assert_eq!(param(mods[0], "backend"), Some(&s("custom")));
    assert_eq!(param(mods[0], "host"), None);
    assert_eq!(param(mods[1], "backend"), Some(&s("custom")));
    assert_eq!(param(mods[2], "backend"), Some(&s("custom")));
    // mod_adhoc reports no backend option.
    assert_eq!(mods[3].params.len(), 1);
}

#[test]
fn list_values_are_sent_as_custom() {
    let info = map(vec![(
        "modules",
        list(vec![module(
            "mod_event_pusher",
            vec![(
                "backend",
                list(vec![
                    atom("sns"),
                    atom("push"),
                    atom("acme1"),
                    atom("acme2"),
                    atom("push"),
                ]),
            )],
        )]),
    )]);
    let events = api::build_report(&info).unwrap();
    let backends: Vec<_> = events
        .iter()
        .filter(|e| e.name == "module_with_opt")
        .map(|e| param(e, "backend").cloned())
        .collect();
    // MongooseIM's collector folds options into one map and GA4 takes no list params.
    assert_eq!(backends, [Some(s("custom"))]);
}

#[test]
fn versions_are_sanitised_in_reports() {
    for (given, sent) in [("6.4.0-acme-prod", "6.4.0"), ("acme", "unknown")] {
        let events = api::build_report(&map(vec![("version", bin(given))])).unwrap();
        let cluster = events.iter().find(|e| e.name == "cluster").unwrap();
        assert_eq!(param(cluster, "version"), Some(&s(sent)));
    }
}

#[test]
fn input_errors_name_their_path() {
    let cases: Vec<(Value, Vec<PathElem>)> = vec![
        (atom("x"), vec![]),
        (map(vec![("bogus", int(1))]), vec![key("bogus")]),
        (map(vec![("version", atom("x"))]), vec![key("version")]),
        (
            map(vec![("uptime_seconds", int(-1))]),
            vec![key("uptime_seconds")],
        ),
        (map(vec![("node_count", int(0))]), vec![key("node_count")]),
        (
            map(vec![("config_type", atom("yaml"))]),
            vec![key("config_type")],
        ),
        (
            map(vec![("host_type_count", bin("1"))]),
            vec![key("host_type_count")],
        ),
        (
            map(vec![("domain_count", Value::Float(1.0))]),
            vec![key("domain_count")],
        ),
        (
            map(vec![("component_count", int(-3))]),
            vec![key("component_count")],
        ),
        (map(vec![("modules", atom("x"))]), vec![key("modules")]),
        (
            map(vec![(
                "modules",
                list(vec![module("a", vec![]), map(vec![])]),
            )]),
            vec![key("modules"), idx(2)],
        ),
        (
            map(vec![(
                "modules",
                list(vec![
                    module("a", vec![]),
                    module("b", vec![]),
                    module("c", vec![("backend", Value::Other("tuple"))]),
                ]),
            )]),
            vec![key("modules"), idx(3), key("opts"), key("backend")],
        ),
        (
            map(vec![(
                "modules",
                list(vec![module("a", vec![("backend", list(vec![int(1)]))])]),
            )]),
            vec![key("modules"), idx(1), key("opts"), key("backend"), idx(1)],
        ),
        (
            map(vec![("http_handlers", list(vec![atom("a"), bin("b")]))]),
            vec![key("http_handlers"), idx(2)],
        ),
        (
            map(vec![(
                "c2s_listeners",
                list(vec![map(vec![(
                    "tls",
                    map(vec![("mode", atom("tls")), ("module", atom("just_tls"))]),
                )])]),
            )]),
            vec![key("c2s_listeners"), idx(1)],
        ),
        (
            map(vec![(
                "c2s_listeners",
                list(vec![map(vec![
                    ("proto", atom("tcp")),
                    ("tls", map(vec![("mode", atom("tls"))])),
                ])]),
            )]),
            vec![key("c2s_listeners"), idx(1), key("tls")],
        ),
        (
            map(vec![("outgoing_pools", list(vec![Value::Other("pid")]))]),
            vec![key("outgoing_pools"), idx(1)],
        ),
        (
            map(vec![("stanza_counts", map(vec![("xmppIqSent", int(-1))]))]),
            vec![key("stanza_counts"), key("xmppIqSent")],
        ),
        (
            map(vec![(
                "previous_stanza_counts",
                Value::Map(vec![(bin("x"), int(1))]),
            )]),
            vec![key("previous_stanza_counts")],
        ),
        (
            map(vec![("version", Value::Binary(vec![0xff, 0xfe]))]),
            vec![key("version")],
        ),
    ];
    for (input, path) in cases {
        let err = api::build_report(&input).unwrap_err();
        assert_eq!(err.path, path, "input {input:?}: {err}");
        assert!(!err.reason.is_empty());
    }
}

fn opts(extra: Vec<(&str, Value)>) -> Value {
    let mut pairs = vec![
        ("client_id", bin("cluster-id-1")),
        (
            "tracking_ids",
            list(vec![map(vec![
                ("id", bin("G-TEST1")),
                ("secret", bin("very-secret-value")),
            ])]),
        ),
        ("url", bin("http://127.0.0.1:9/mp/collect")),
    ];
    for (k, v) in extra {
        pairs.retain(|(name, _)| *name != k);
        pairs.push((k, v));
    }
    map(pairs)
}

fn events_value(n: usize) -> Value {
    list(
        (0..n)
            .map(|i| {
                map(vec![
                    ("name", bin("outgoing_pool")),
                    (
                        "params",
                        Value::Map(vec![(
                            bin("value"),
                            bin(if i % 2 == 0 { "rdbms" } else { "redis" }),
                        )]),
                    ),
                ])
            })
            .collect(),
    )
}

#[test]
fn batches_hold_at_most_25_events() {
    let p = api::plan_send(&events_value(60), &opts(vec![])).unwrap();
    let counts: Vec<usize> = p.trackings[0].requests.iter().map(|r| r.events).collect();
    assert_eq!(counts, [25, 25, 10]);
    let body: serde_json::Value = serde_json::from_slice(&p.trackings[0].requests[2].body).unwrap();
    assert_eq!(body["client_id"], "cluster-id-1");
    assert_eq!(body["events"].as_array().unwrap().len(), 10);
    assert!(body.get("validation_behavior").is_none());
}

#[test]
fn batches_stay_under_130_kb() {
    // Events GA4 accepts cannot fill 130 kB in 25 (25 params of 100 chars is ~4 kB each), so
    // the splitter is checked directly with oversized ~10 kB events.
    let mut big = Event::new::<i64>("x", []);
    big.params
        .insert("param".into(), ParamValue::Str("v".repeat(10_000).into()));
    let events = vec![big; 100];
    let bodies = plan::batch_bodies(&events, "cid", Mode::Collect).unwrap();
    let total: usize = bodies.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 100);
    for (body, n) in &bodies {
        assert!(body.len() < 130_000, "body of {} bytes", body.len());
        assert!(*n <= 25);
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["events"].as_array().unwrap().len(), *n);
    }
    // Cut by size, not count: 12 events of ~10 kB fit under 130 kB, a 13th would not.
    assert_eq!(bodies[0].1, 12);
}

#[test]
fn plan_urls_modes_and_duplicate_tracking_ids() {
    let two = list(vec![
        map(vec![("id", bin("G-ONE")), ("secret", bin("s1"))]),
        map(vec![
            ("id", bin("UA-EXTRA-TRACKING-ID")),
            ("secret", bin("s2")),
        ]),
        map(vec![("id", bin("G-ONE")), ("secret", bin("s3"))]),
    ]);
    let p = api::plan_send(&events_value(3), &opts(vec![("tracking_ids", two.clone())])).unwrap();
    let ids: Vec<&str> = p.trackings.iter().map(|t| t.tracking_id.as_str()).collect();
    assert_eq!(ids, ["G-ONE", "UA-EXTRA-TRACKING-ID"]);
    let url = &p.trackings[1].requests[0].url;
    assert_eq!(
        url.masked(),
        "http://127.0.0.1:9/mp/collect?measurement_id=UA-EXTRA-TRACKING-ID&api_secret=***"
    );
    assert!(url.expose().as_str().ends_with("api_secret=s2"));

    let v = api::plan_send(&events_value(1), &opts(vec![("mode", atom("validate"))])).unwrap();
    let req = &v.trackings[0].requests[0];
    assert!(req
        .url
        .masked()
        .starts_with("http://127.0.0.1:9/debug/mp/collect?"));
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["validation_behavior"], "ENFORCE_RECOMMENDATIONS");

    let d = api::plan_send(
        &events_value(1),
        &map(vec![("client_id", bin("c")), ("tracking_ids", two)]),
    )
    .unwrap();
    assert!(d.trackings[0].requests[0]
        .url
        .masked()
        .starts_with("https://www.google-analytics.com/mp/collect?"));
    assert_eq!(d.timeout.as_millis(), 5000);
    assert_eq!(d.max_retries, 2);
}

#[test]
fn option_errors_name_their_path_and_never_quote_the_secret() {
    let secret_list = |secret: Value| list(vec![map(vec![("id", bin("G-1")), ("secret", secret)])]);
    let cases: Vec<(Value, Vec<PathElem>)> = vec![
        (
            map(vec![("tracking_ids", secret_list(bin("s")))]),
            vec![key("opts")],
        ),
        (
            opts(vec![("client_id", bin(""))]),
            vec![key("opts"), key("client_id")],
        ),
        (
            opts(vec![("client_id", bin("a b"))]),
            vec![key("opts"), key("client_id")],
        ),
        (
            opts(vec![("tracking_ids", list(vec![]))]),
            vec![key("opts"), key("tracking_ids")],
        ),
        (
            opts(vec![(
                "tracking_ids",
                list(vec![map(vec![("id", bin("G-1"))])]),
            )]),
            vec![key("opts"), key("tracking_ids"), idx(1)],
        ),
        (
            opts(vec![("url", bin("ftp://127.0.0.1/x"))]),
            vec![key("opts"), key("url")],
        ),
        (
            opts(vec![("url", bin("not a url"))]),
            vec![key("opts"), key("url")],
        ),
        (
            opts(vec![("mode", atom("debug"))]),
            vec![key("opts"), key("mode")],
        ),
        (
            opts(vec![("timeout_ms", int(0))]),
            vec![key("opts"), key("timeout_ms")],
        ),
        (
            opts(vec![("max_retries", int(-1))]),
            vec![key("opts"), key("max_retries")],
        ),
        (
            opts(vec![("cacertfile", bin(""))]),
            vec![key("opts"), key("cacertfile")],
        ),
        (
            opts(vec![("notify", atom("me"))]),
            vec![key("opts"), key("notify")],
        ),
        (
            opts(vec![("bogus", int(1))]),
            vec![key("opts"), key("bogus")],
        ),
    ];
    for (o, path) in cases {
        let err = api::plan_send(&events_value(1), &o).unwrap_err();
        assert_eq!(err.path, path, "{err}");
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("break-secret") && !shown.contains("very-secret"),
            "{shown}"
        );
    }
    // Debug of checked options and of a plan masks the secret.
    let p = api::plan_send(&events_value(1), &opts(vec![])).unwrap();
    assert!(!format!("{p:?}").contains("very-secret-value"));
}

#[test]
fn sends_carry_only_what_build_report_could_produce() {
    let bad_events = [
        ("module_with_opt", vec![("module", bin("mod_acme"))]),
        (
            "module_with_opt",
            vec![("module", bin("mod_mam")), ("host", bin("x"))],
        ),
        (
            "module_with_opt",
            vec![("module", bin("mod_mam")), ("backend", bin("acme"))],
        ),
        ("cluster", vec![("version", bin("6.4.0-acme"))]),
        ("cluster", vec![("uptime", bin("yesterday"))]),
        ("http_api", vec![("acme_handler", bin("enabled"))]),
        (
            "tls_option",
            vec![("mode", bin("tls")), ("module", bin("acme_tls"))],
        ),
        ("outgoing_pool", vec![("value", bin("acme"))]),
        (
            "xmpp_stanza_count",
            vec![("stanza_type", bin("xmppIqSent")), ("total", int(1))],
        ),
        ("page_view", vec![]),
        ("host_count", vec![("value", bin("1"))]),
    ];
    for (name, params) in bad_events {
        let ev = list(vec![
            map(vec![
                ("name", bin("host_count")),
                ("params", Value::Map(vec![(bin("value"), int(1))])),
            ]),
            map(vec![
                ("name", bin(name)),
                (
                    "params",
                    Value::Map(params.into_iter().map(|(k, v)| (bin(k), v)).collect()),
                ),
            ]),
        ]);
        let err = api::plan_send(&ev, &opts(vec![])).unwrap_err();
        assert_eq!(err.path, vec![key("events"), idx(2)], "{name}: {err}");
        let err = api::encode_json(&ev).unwrap_err();
        assert_eq!(err.path, vec![idx(2)], "{name}: {err}");
    }
    // What build_report makes passes.
    let built = api::build_report(&full_node_info()).unwrap();
    plan::check_events(&built).unwrap();
}

#[test]
fn encode_json_is_a_pretty_array_that_round_trips() {
    let built = api::build_report(&full_node_info()).unwrap();
    let as_value = list(
        built
            .iter()
            .map(|e| {
                map(vec![
                    ("name", bin(&e.name)),
                    (
                        "params",
                        Value::Map(
                            e.params
                                .iter()
                                .map(|(k, v)| {
                                    (
                                        bin(k),
                                        match v {
                                            ParamValue::Str(x) => bin(x),
                                            ParamValue::Int(n) => int(*n),
                                        },
                                    )
                                })
                                .collect(),
                        ),
                    ),
                ])
            })
            .collect(),
    );
    let json = api::encode_json(&as_value).unwrap();
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(
        text.starts_with("[\n  {\n    \"name\": \"host_count\""),
        "{text}"
    );
    let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), built.len());
    assert_eq!(parsed[8]["params"]["uptime"], "0003-01:02:03");
}

/// What MongooseIM 6.1-6.5 and 6.6+ name in `http_api` and `transport_mechanism`, written
/// from their collectors' allowlists.
#[test]
fn http_handlers_are_named_as_the_release_names_them() {
    let handlers = list(
        [
            "mod_bosh",
            "mod_websockets",
            "mongoose_client_api",
            "mongoose_admin_api",
            "mongoose_bosh_handler",
            "mongoose_graphql_handler",
            "mongoose_websocket_handler",
            "acme_handler",
        ]
        .into_iter()
        .map(atom)
        .collect(),
    );
    let keys = |version: &str, event: &str| -> Vec<String> {
        let info = map(vec![
            ("version", bin(version)),
            ("http_handlers", handlers.clone()),
        ]);
        let events = api::build_report(&info).unwrap();
        let e = events.iter().find(|e| e.name == event).unwrap();
        e.params.keys().map(|k| k.to_string()).collect()
    };
    for v in ["6.1.0", "6.3.3", "6.5.0"] {
        assert_eq!(
            keys(v, "http_api"),
            [
                "mod_bosh",
                "mod_websockets",
                "mongoose_admin_api",
                "mongoose_client_api"
            ],
            "{v}"
        );
        assert_eq!(
            keys(v, "transport_mechanism"),
            ["mod_bosh", "mod_websockets"],
            "{v}"
        );
    }
    for v in ["6.6.0", "6.8.0"] {
        assert_eq!(
            keys(v, "http_api"),
            [
                "mongoose_bosh_handler",
                "mongoose_graphql_handler",
                "mongoose_websocket_handler"
            ],
            "{v}"
        );
        assert_eq!(
            keys(v, "transport_mechanism"),
            ["mongoose_bosh_handler", "mongoose_websocket_handler"],
            "{v}"
        );
    }
}

/// A module is named only when the node's release names it (mod_bosh up to 6.5,
/// mod_pubsub_old from 6.8); otherwise it is counted as custom.
#[test]
fn modules_are_named_as_the_release_names_them() {
    let info = |version: &str| {
        map(vec![
            ("version", bin(version)),
            (
                "modules",
                list(vec![
                    module("mod_bosh", vec![("backend", atom("cets"))]),
                    module("mod_pubsub_old", vec![]),
                    module("mod_vcard", vec![]),
                ]),
            ),
        ])
    };
    let summary = |version: &str| {
        let events = api::build_report(&info(version)).unwrap();
        let named: Vec<ParamValue> = events
            .iter()
            .filter(|e| e.name == "module_with_opt")
            .map(|e| param(e, "module").cloned().unwrap())
            .collect();
        let custom = events
            .iter()
            .find(|e| e.name == "custom_module_count")
            .and_then(|e| param(e, "value").cloned());
        (named, custom)
    };
    assert_eq!(
        summary("6.5.0"),
        (
            vec![s("mod_bosh"), s("mod_vcard")],
            Some(ParamValue::Int(1))
        )
    );
    assert_eq!(
        summary("6.8.0"),
        (
            vec![s("mod_pubsub_old"), s("mod_vcard")],
            Some(ParamValue::Int(1))
        )
    );
}

/// Each tracking id stands alone: an invalid one (a typo in the id, a broken secret) is
/// planned as nothing and the others as usual; more than 16 is an input error.
#[test]
fn invalid_tracking_ids_stand_alone() {
    let ids = list(vec![
        map(vec![("id", bin("G-TYPO ")), ("secret", bin("typo-secret"))]),
        map(vec![("id", bin("G-GOOD")), ("secret", bin("good-secret"))]),
        map(vec![
            ("id", bin("G-BROKEN")),
            ("secret", bin("line\nbreak-secret")),
        ]),
        // The same id twice: the valid entry is the one kept.
        map(vec![("id", bin("G-DUP")), ("secret", bin(""))]),
        map(vec![("id", bin("G-DUP")), ("secret", bin("dup-secret"))]),
    ]);
    let plan = api::plan_send(&events_value(1), &opts(vec![("tracking_ids", ids)])).unwrap();
    let summary: Vec<(&str, bool, usize)> = plan
        .trackings
        .iter()
        .map(|t| (t.tracking_id.as_str(), t.valid, t.requests.len()))
        .collect();
    assert_eq!(
        summary,
        [
            ("G-TYPO ", false, 0),
            ("G-GOOD", true, 1),
            ("G-BROKEN", false, 0),
            ("G-DUP", true, 1)
        ]
    );
    let shown = format!("{plan:?}");
    assert!(!shown.contains("typo-secret") && !shown.contains("break-secret"));

    let many = list(
        (0..17)
            .map(|i| map(vec![("id", bin(&format!("G-{i}"))), ("secret", bin("s"))]))
            .collect(),
    );
    let err = api::plan_send(&events_value(1), &opts(vec![("tracking_ids", many)])).unwrap_err();
    assert_eq!(err.path, vec![key("opts"), key("tracking_ids")]);
}

#[test]
fn new_client_ids_are_random_v4_uuids() {
    let (a, b) = (api::new_client_id(), api::new_client_id());
    assert_ne!(a, b);
    let uuid = uuid::Uuid::parse_str(&a).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 4);
    // The hyphenated lowercase text the Erlang side persisted before.
    assert_eq!(a, uuid.hyphenated().to_string());
    assert_eq!(a.len(), 36);
}

/// The set-up the NIF does when it loads builds and plans a report (every
/// table touched once), sends nothing and starts no runtime.
#[test]
fn prepare_builds_and_plans_without_starting_a_runtime() {
    use mongoose_system_metrics_engine::delivery::dispatch::Dispatcher;
    let dispatcher = Dispatcher::new();
    assert_eq!(api::prepare(), 1);
    assert_eq!(api::prepare(), 1);
    assert!(!dispatcher.is_started());
}

#[test]
fn configure_accepts_max_in_flight_only_within_its_range() {
    assert_eq!(api::max_in_flight(&map(vec![])).unwrap(), None);
    let one = |v: Value| api::max_in_flight(&map(vec![("max_in_flight", v)]));
    assert_eq!(one(int(1)).unwrap(), Some(1));
    assert_eq!(one(int(1_000_000)).unwrap(), Some(1_000_000));
    for bad in [int(0), int(-5), int(1_000_001), bin("64"), atom("infinity")] {
        assert_eq!(one(bad).unwrap_err().path, vec![key("max_in_flight")]);
    }
    let other = map(vec![("max_in_flight", int(5)), ("other", int(1))]);
    assert_eq!(api::max_in_flight(&other).unwrap_err().path, vec![]);
    assert_eq!(
        api::max_in_flight(&map(vec![("other", int(1))]))
            .unwrap_err()
            .path,
        vec![]
    );
    assert_eq!(
        api::max_in_flight(&atom("not_a_map")).unwrap_err().reason,
        "expected a map"
    );
}

#[test]
fn build_and_plan_builds_the_report_and_plans_it_with_argument_paths() {
    let opts = map(vec![
        ("client_id", bin("client-1")),
        (
            "tracking_ids",
            list(vec![map(vec![
                ("id", bin("G-ABC123")),
                ("secret", bin("s3cret")),
            ])]),
        ),
        ("url", bin("http://127.0.0.1:9/mp/collect")),
    ]);
    let info = map(vec![(
        "outgoing_pools",
        list(vec![atom("rdbms"), atom("http")]),
    )]);
    let (events, plan) = api::build_and_plan(&info, &opts).unwrap();
    assert_eq!(
        names(&events),
        vec![
            "custom_module_count",
            "cluster",
            "http_api",
            "transport_mechanism",
            "outgoing_pool",
            "outgoing_pool"
        ]
    );
    assert_eq!(plan.trackings.len(), 1);
    assert_eq!(plan.trackings[0].tracking_id, "G-ABC123");
    assert_eq!(plan.trackings[0].requests.len(), 1);
    let bad_info = map(vec![("modules", atom("oops"))]);
    let err = api::build_and_plan(&bad_info, &opts).unwrap_err();
    assert_eq!(err.path, vec![key("node_info"), key("modules")]);
    let bad_opts = map(vec![("client_id", bin("bad id!"))]);
    let err = api::build_and_plan(&info, &bad_opts).unwrap_err();
    assert_eq!(err.path[0], key("opts"));
}
