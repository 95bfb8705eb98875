//! The send-time check against the README's "What is sent", written out by hand
//! (`oracle`): an event is refused at send time (and when written) exactly when the README
//! does not allow it, whatever its values; an unknown param name is refused even with the
//! value `custom` that off-list option values are sent as.

mod oracle;

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::node::value::Value;
use oracle::{readme_allows, Val};
use proptest::prelude::*;

fn bin(s: &str) -> Value {
    Value::Binary(s.as_bytes().to_vec())
}

/// The events as Erlang gives them: `[#{name => <<..>>, params => #{<<..>> => ..}}]`.
fn events_term(events: &[(String, Vec<(String, Val)>)]) -> Value {
    Value::List(
        events
            .iter()
            .map(|(name, params)| {
                let params = params
                    .iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Val::Str(s) => bin(s),
                            Val::Int(n) => Value::Int(*n),
                        };
                        (bin(k), v)
                    })
                    .collect();
                Value::Map(vec![
                    (Value::Atom("name".into()), bin(name)),
                    (Value::Atom("params".into()), Value::Map(params)),
                ])
            })
            .collect(),
    )
}

fn send_opts() -> Value {
    Value::Map(vec![
        (Value::Atom("client_id".into()), bin("send-check-client")),
        (
            Value::Atom("tracking_ids".into()),
            Value::List(vec![Value::Map(vec![
                (Value::Atom("id".into()), bin("G-CHECK")),
                (Value::Atom("secret".into()), bin("s")),
            ])]),
        ),
        (
            Value::Atom("url".into()),
            bin("http://127.0.0.1:1/mp/collect"),
        ),
    ])
}

/// Whether one event passes the send-time check, and the check before the file is written
/// (both must agree).
fn engine_takes(name: &str, params: &[(String, Val)]) -> bool {
    let term = events_term(&[(name.to_string(), params.to_vec())]);
    let sent = api::plan_send(&term, &send_opts()).is_ok();
    let written = api::encode_json(&term).is_ok();
    assert_eq!(sent, written, "{name} {params:?}");
    sent
}

fn s(v: &str) -> Val {
    Val::Str(v.to_string())
}

fn p(pairs: &[(&str, Val)]) -> Vec<(String, Val)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Param names that no event has.
const UNKNOWN_PARAMS: &[&str] = &[
    "host",
    "custom",
    "bogus",
    "acme_option",
    "module_name",
    "jid",
];

#[test]
fn the_oracle_sorts_its_own_samples() {
    assert!(oracle::GOOD_VERSIONS
        .iter()
        .all(|v| oracle::version_form(v)));
    assert!(!oracle::BAD_VERSIONS.iter().any(|v| oracle::version_form(v)));
    assert!(oracle::GOOD_UPTIMES.iter().all(|u| oracle::uptime_form(u)));
    assert!(!oracle::BAD_UPTIMES.iter().any(|u| oracle::uptime_form(u)));
}

#[test]
fn unknown_params_are_refused_whatever_the_value() {
    let valid: Vec<(&str, Vec<(String, Val)>)> = vec![
        ("host_count", p(&[("value", Val::Int(2))])),
        ("domain_count", p(&[("value", Val::Int(2))])),
        ("custom_module_count", p(&[("value", Val::Int(0))])),
        ("module_with_opt", p(&[("module", s("mod_mam"))])),
        (
            "module_with_opt",
            p(&[("module", s("mod_muc")), ("backend", s("custom"))]),
        ),
        ("cluster", p(&[("node_number", Val::Int(1))])),
        ("http_api", p(&[])),
        ("transport_mechanism", p(&[("tcp", s("enabled"))])),
        (
            "tls_option",
            p(&[("mode", s("tls")), ("module", s("just_tls"))]),
        ),
        ("outgoing_pool", p(&[("value", s("rdbms"))])),
        (
            "xmpp_stanza_count",
            p(&[
                ("stanza_type", s("xmppIqSent")),
                ("total", Val::Int(3)),
                ("increment", Val::Int(1)),
            ]),
        ),
    ];
    for (name, params) in valid {
        assert!(readme_allows(name, &params), "{name} {params:?}");
        assert!(engine_takes(name, &params), "{name} {params:?}");
        for unknown in UNKNOWN_PARAMS {
            for value in [s("custom"), s("enabled"), s("rdbms"), Val::Int(1)] {
                let mut more = params.clone();
                more.push((unknown.to_string(), value.clone()));
                assert!(!readme_allows(name, &more));
                assert!(
                    !engine_takes(name, &more),
                    "{name} with {unknown} = {value:?} was taken"
                );
            }
        }
    }
}

#[test]
fn module_options_only_where_the_module_reports_them() {
    for &module in oracle::MODULES {
        let bare = p(&[("module", s(module))]);
        assert!(engine_takes("module_with_opt", &bare), "{module}");
        for (opt, values) in [
            ("backend", oracle::BACKENDS),
            ("online_backend", oracle::ONLINE_BACKENDS),
            ("api_version", oracle::API_VERSIONS),
        ] {
            for &v in values {
                let params = p(&[("module", s(module)), (opt, s(v))]);
                assert_eq!(
                    engine_takes("module_with_opt", &params),
                    readme_allows("module_with_opt", &params),
                    "{module} {opt} = {v}"
                );
            }
        }
    }
    for module in ["mod_ping", "mod_acme", "custom", "Mod_mam", "mod_mam_"] {
        let params = p(&[("module", s(module))]);
        assert!(!engine_takes("module_with_opt", &params), "{module}");
    }
}

#[test]
fn every_listed_value_is_taken() {
    let one = |name: &str, params: Vec<(String, Val)>| {
        assert!(readme_allows(name, &params), "{name} {params:?}");
        assert!(engine_takes(name, &params), "{name} {params:?}");
    };
    for &h in oracle::HTTP_API {
        one("http_api", p(&[(h, s("enabled"))]));
    }
    for &t in oracle::TRANSPORTS {
        one("transport_mechanism", p(&[(t, s("enabled"))]));
    }
    for &mode in oracle::TLS_MODES {
        for &module in oracle::TLS_MODULES {
            one("tls_option", p(&[("mode", s(mode)), ("module", s(module))]));
        }
    }
    for &pool in oracle::POOLS {
        one("outgoing_pool", p(&[("value", s(pool))]));
    }
    for &t in oracle::STANZA_TYPES {
        one(
            "xmpp_stanza_count",
            p(&[
                ("stanza_type", s(t)),
                ("total", Val::Int(0)),
                ("increment", Val::Int(0)),
            ]),
        );
    }
    for &c in oracle::CONFIG_TYPES {
        one("cluster", p(&[("config_type", s(c))]));
    }
    for &v in oracle::GOOD_VERSIONS {
        one("cluster", p(&[("version", s(v))]));
    }
    for &u in oracle::GOOD_UPTIMES {
        one("cluster", p(&[("uptime", s(u))]));
    }
    for &v in oracle::BAD_VERSIONS {
        assert!(!engine_takes("cluster", &p(&[("version", s(v))])), "{v}");
    }
    for &u in oracle::BAD_UPTIMES {
        assert!(!engine_takes("cluster", &p(&[("uptime", s(u))])), "{u}");
    }
}

// -----------------------------------------------------------------------------------------
// Random events: the engine takes one exactly when the README allows it.

const PARAM_NAMES: &[&str] = &[
    "value",
    "module",
    "backend",
    "online_backend",
    "api_version",
    "uptime",
    "version",
    "component",
    "node_number",
    "config_type",
    "mode",
    "stanza_type",
    "total",
    "increment",
    "mongoose_bosh_handler",
    "mod_websockets",
    "mongoose_client_api",
    "tcp",
    "udp",
    "host",
    "custom",
    "bogus",
];

fn words() -> Vec<&'static str> {
    let mut w: Vec<&'static str> = [
        oracle::MODULES,
        oracle::BACKENDS,
        oracle::ONLINE_BACKENDS,
        oracle::API_VERSIONS,
        oracle::HTTP_API,
        oracle::TRANSPORTS,
        oracle::TLS_MODES,
        oracle::TLS_MODULES,
        oracle::POOLS,
        oracle::STANZA_TYPES,
        oracle::CONFIG_TYPES,
        oracle::GOOD_VERSIONS,
        oracle::BAD_VERSIONS,
        oracle::GOOD_UPTIMES,
        oracle::BAD_UPTIMES,
    ]
    .concat();
    w.extend([
        "custom",
        "enabled",
        "acme",
        "mod_ping",
        "udp",
        "example.com",
    ]);
    w
}

fn any_val() -> impl Strategy<Value = Val> {
    prop_oneof![
        3 => prop::sample::select(words()).prop_map(|w| Val::Str(w.to_string())),
        1 => prop::sample::select(vec![-1i64, 0, 1, 2, 30]).prop_map(Val::Int),
    ]
}

/// An event the README allows, picked among templates of each kind.
fn allowed_event() -> impl Strategy<Value = (String, Vec<(String, Val)>)> {
    let sel = |l: &'static [&'static str]| prop::sample::select(l.to_vec());
    prop_oneof![
        (
            sel(&["host_count", "domain_count", "custom_module_count"]),
            0i64..5
        )
            .prop_map(|(n, v)| (n.to_string(), p(&[("value", Val::Int(v))]))),
        sel(oracle::MODULES).prop_map(|m| ("module_with_opt".into(), p(&[("module", s(m))]))),
        (sel(oracle::BACKEND_MODULES), sel(oracle::BACKENDS)).prop_map(|(m, b)| (
            "module_with_opt".into(),
            p(&[("module", s(m)), ("backend", s(b))])
        )),
        (sel(oracle::BACKENDS), sel(oracle::ONLINE_BACKENDS)).prop_map(|(b, o)| (
            "module_with_opt".into(),
            p(&[
                ("module", s("mod_muc")),
                ("backend", s(b)),
                ("online_backend", s(o))
            ])
        )),
        (
            sel(oracle::GOOD_UPTIMES),
            sel(oracle::GOOD_VERSIONS),
            0i64..3,
            1i64..4,
            sel(oracle::CONFIG_TYPES)
        )
            .prop_map(|(u, v, c, n, t)| (
                "cluster".into(),
                p(&[
                    ("uptime", s(u)),
                    ("version", s(v)),
                    ("component", Val::Int(c)),
                    ("node_number", Val::Int(n)),
                    ("config_type", s(t))
                ])
            )),
        prop::sample::subsequence(oracle::HTTP_API.to_vec(), 0..4).prop_map(|hs| (
            "http_api".into(),
            hs.iter().map(|h| (h.to_string(), s("enabled"))).collect()
        )),
        prop::sample::subsequence(oracle::TRANSPORTS.to_vec(), 0..4).prop_map(|ts| (
            "transport_mechanism".into(),
            ts.iter().map(|t| (t.to_string(), s("enabled"))).collect()
        )),
        (sel(oracle::TLS_MODES), sel(oracle::TLS_MODULES))
            .prop_map(|(m, t)| ("tls_option".into(), p(&[("mode", s(m)), ("module", s(t))]))),
        sel(oracle::POOLS).prop_map(|v| ("outgoing_pool".into(), p(&[("value", s(v))]))),
        (sel(oracle::STANZA_TYPES), 0i64..9, 0i64..9).prop_map(|(t, a, b)| (
            "xmpp_stanza_count".into(),
            p(&[
                ("stanza_type", s(t)),
                ("total", Val::Int(a)),
                ("increment", Val::Int(b))
            ])
        )),
    ]
}

/// An allowed event, or one changed once: a param added (any name, any value), a param's
/// value replaced, a param removed, or the event renamed.
fn near_event() -> impl Strategy<Value = (String, Vec<(String, Val)>)> {
    (
        allowed_event(),
        0u8..5,
        prop::sample::select(PARAM_NAMES.to_vec()),
        any_val(),
        any::<prop::sample::Index>(),
        prop::sample::select(
            [
                oracle::EVENTS,
                &["page_view", "custom", "module_with_opts"][..],
            ]
            .concat(),
        ),
    )
        .prop_map(|((name, mut params), change, pname, val, at, other)| {
            match change {
                0 => {}
                1 => {
                    params.retain(|(k, _)| k != pname);
                    params.push((pname.to_string(), val));
                }
                2 if !params.is_empty() => {
                    let i = at.index(params.len());
                    params[i].1 = val;
                }
                3 if !params.is_empty() => {
                    params.remove(at.index(params.len()));
                }
                _ => return (other.to_string(), params),
            }
            (name, params)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_takes_an_event_exactly_when_the_readme_allows_it((name, params) in near_event()) {
        prop_assert_eq!(engine_takes(&name, &params), readme_allows(&name, &params),
                        "{} {:?}", name, params);
    }
}
