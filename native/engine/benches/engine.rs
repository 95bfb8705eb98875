//! `cargo bench -p mongoose_system_metrics_engine`: the engine's pure work, without the NIF's
//! term decoding/encoding (bench/run.sh measures those through the real NIF).
//!
//! Inputs mirror bench/msm_bench.erl: a realistic node (2 host types x 30 modules = 60 module
//! entries, 10 outgoing pools, 4 c2s listeners) and a node with 1,000 module entries.

use criterion::{criterion_group, criterion_main, Criterion};
use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::node::value::Value;
use mongoose_system_metrics_engine::report::event::{Event, ParamValue};
use mongoose_system_metrics_engine::wire::ga4::Mode;
use mongoose_system_metrics_engine::wire::json;
use mongoose_system_metrics_engine::wire::plan;
use std::hint::black_box;
use std::time::Duration;

fn atom(s: &str) -> Value {
    Value::Atom(s.into())
}
fn bin(s: &str) -> Value {
    Value::Binary(s.as_bytes().to_vec())
}
fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (atom(k), v)).collect())
}
fn module(name: &str, opts: &[(&str, Value)]) -> Value {
    map(vec![("module", atom(name)), ("opts", map(opts.to_vec()))])
}

fn base_info(modules: Vec<Value>, host_types: i64, pools: &[&str]) -> Value {
    let stanzas = [
        "xmppMessageSent",
        "xmppMessageReceived",
        "xmppIqSent",
        "xmppIqReceived",
        "xmppPresenceSent",
        "xmppPresenceReceived",
    ];
    let counts = |base: i64, step: i64| {
        map(stanzas
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, Value::Int(base + (i as i64 + 1) * step)))
            .collect())
    };
    let tls = |mode: &str, module: &str| {
        map(vec![
            ("proto", atom("tcp")),
            (
                "tls",
                map(vec![("mode", atom(mode)), ("module", atom(module))]),
            ),
        ])
    };
    map(vec![
        ("version", bin("6.4.0-12-gabc1234")),
        ("uptime_seconds", Value::Int(3 * 86_400 + 3_723)),
        ("node_count", Value::Int(3)),
        ("component_count", Value::Int(2)),
        ("config_type", atom("toml")),
        ("host_type_count", Value::Int(host_types)),
        ("domain_count", Value::Int(40)),
        ("modules", Value::List(modules)),
        (
            "http_handlers",
            Value::List(
                [
                    "mongoose_bosh_handler",
                    "mongoose_websocket_handler",
                    "mongoose_graphql_handler",
                    "mongoose_admin_api",
                ]
                .iter()
                .map(|h| atom(h))
                .collect(),
            ),
        ),
        (
            "c2s_listeners",
            Value::List(vec![
                tls("starttls", "just_tls"),
                tls("tls", "fast_tls"),
                tls("starttls_required", "just_tls"),
                map(vec![("proto", atom("tcp"))]),
            ]),
        ),
        (
            "outgoing_pools",
            Value::List(pools.iter().map(|p| atom(p)).collect()),
        ),
        ("stanza_counts", counts(100_000, 7)),
        ("previous_stanza_counts", counts(90_000, 1)),
    ])
}

fn realistic() -> Value {
    let with_backend = |b: &str| vec![("backend", atom(b))];
    let mut known: Vec<(&str, Vec<(&str, Value)>)> = vec![
        (
            "mod_mam",
            vec![("backend", atom("rdbms")), ("async_writer", atom("true"))],
        ),
        ("mod_mam_pm", vec![]),
        (
            "mod_muc",
            vec![
                ("backend", atom("mnesia")),
                ("online_backend", atom("cets")),
                ("host", bin("muc.@HOST@")),
            ],
        ),
        (
            "mod_inbox",
            vec![
                ("backend", atom("rdbms")),
                ("reset_markers", Value::List(vec![atom("displayed")])),
            ],
        ),
        (
            "mod_http_upload",
            vec![
                ("backend", atom("s3")),
                ("max_file_size", Value::Int(10_485_760)),
            ],
        ),
        (
            "mod_event_pusher",
            vec![("backend", Value::List(vec![atom("push"), atom("http")]))],
        ),
        (
            "mod_push_service_mongoosepush",
            vec![("api_version", atom("v3"))],
        ),
    ];
    for (m, b) in [
        ("mod_muc_light", "rdbms"),
        ("mod_offline", "rdbms"),
        ("mod_privacy", "rdbms"),
        ("mod_private", "rdbms"),
        ("mod_roster", "rdbms"),
        ("mod_vcard", "ldap"),
        ("mod_last", "rdbms"),
        ("mod_auth_token", "rdbms"),
        ("mod_event_pusher_push", "mnesia"),
        ("mod_stream_management", "mnesia"),
    ] {
        known.push((m, with_backend(b)));
    }
    for m in [
        "mod_adhoc",
        "mod_blocking",
        "mod_carboncopy",
        "mod_csi",
        "mod_disco",
        "mod_time",
        "mod_version",
        "mod_register",
    ] {
        known.push((m, vec![]));
    }
    for m in ["mod_ping", "mod_caps", "mod_bind2", "mod_sasl2"] {
        known.push((m, vec![]));
    }
    known.push(("mod_acme_billing", with_backend("rdbms")));
    let modules = (0..2)
        .flat_map(|_| known.iter().map(|(m, o)| module(m, o)))
        .collect();
    base_info(
        modules,
        2,
        &[
            "rdbms",
            "rdbms",
            "rdbms",
            "rdbms",
            "redis",
            "redis",
            "http",
            "http",
            "rabbit",
            "cassandra",
        ],
    )
}

fn many_modules(n: usize) -> Value {
    let names = [
        "mod_adhoc",
        "mod_amp",
        "mod_auth_token",
        "mod_blocking",
        "mod_broadcast",
        "mod_carboncopy",
        "mod_csi",
        "mod_disco",
        "mod_event_pusher",
        "mod_http_upload",
        "mod_inbox",
        "mod_last",
        "mod_mam",
        "mod_muc",
        "mod_muc_light",
        "mod_offline",
        "mod_privacy",
        "mod_private",
        "mod_roster",
        "mod_vcard",
        "mod_version",
        "mod_time",
        "mod_register",
        "mod_sic",
        "mod_stream_management",
        "mod_acme_a",
        "mod_acme_b",
        "mod_acme_c",
        "mod_ping",
        "mod_caps",
    ];
    let opts = [("backend", atom("rdbms")), ("iqdisc", atom("one_queue"))];
    let modules = (0..n)
        .map(|i| module(names[i % names.len()], &opts))
        .collect();
    base_info(
        modules,
        (n / names.len()).max(1) as i64,
        &["rdbms", "redis"],
    )
}

/// Events as the NIF decodes them from `build_report/1`'s answer.
fn events_value(events: &[Event]) -> Value {
    Value::List(
        events
            .iter()
            .map(|e| {
                Value::Map(vec![
                    (atom("name"), bin(&e.name)),
                    (
                        atom("params"),
                        Value::Map(
                            e.params
                                .iter()
                                .map(|(k, v)| {
                                    let v = match v {
                                        ParamValue::Str(s) => bin(s),
                                        ParamValue::Int(n) => Value::Int(*n),
                                    };
                                    (bin(k), v)
                                })
                                .collect(),
                        ),
                    ),
                ])
            })
            .collect(),
    )
}

fn send_opts() -> Value {
    map(vec![
        ("client_id", bin("4a8e4f7e-0d3c-4c5e-9a51-3c1e2f6d7b80")),
        (
            "tracking_ids",
            Value::List(vec![map(vec![
                ("id", bin("G-BENCH00001")),
                ("secret", bin("bench-secret")),
            ])]),
        ),
        ("url", bin("http://127.0.0.1:8080/mp/collect")),
    ])
}

fn benches(c: &mut Criterion) {
    let node = realistic();
    let big = many_modules(1000);
    let events = api::build_report(&node).expect("realistic node builds");
    let big_events = api::build_report(&big).expect("1,000 modules build");
    let ev_value = events_value(&events);
    let big_ev_value = events_value(&big_events);
    let opts = send_opts();

    let mut g = c.benchmark_group("build");
    g.bench_function("realistic", |b| {
        b.iter(|| api::build_report(black_box(&node)))
    });
    g.bench_function("1000_modules", |b| {
        b.iter(|| api::build_report(black_box(&big)))
    });
    g.finish();

    let mut g = c.benchmark_group("validate");
    g.bench_function("realistic", |b| {
        b.iter(|| {
            let e = Event::list_from_value(black_box(&ev_value)).unwrap();
            plan::check_events(&e)
        })
    });
    g.bench_function("1000_modules", |b| {
        b.iter(|| {
            let e = Event::list_from_value(black_box(&big_ev_value)).unwrap();
            plan::check_events(&e)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("plan");
    g.bench_function("realistic", |b| {
        b.iter(|| api::plan_send(black_box(&ev_value), black_box(&opts)))
    });
    g.bench_function("1000_modules", |b| {
        b.iter(|| api::plan_send(black_box(&big_ev_value), black_box(&opts)))
    });
    g.finish();

    let mut g = c.benchmark_group("encode");
    g.bench_function("pretty_realistic", |b| {
        b.iter(|| json::pretty(black_box(&events)))
    });
    g.bench_function("bodies_realistic", |b| {
        b.iter(|| plan::batch_bodies(black_box(&events), "client", Mode::Collect))
    });
    g.bench_function("pretty_1000_modules", |b| {
        b.iter(|| json::pretty(black_box(&big_events)))
    });
    g.finish();
}

criterion_group! {
    name = engine;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = benches
}
criterion_main!(engine);
