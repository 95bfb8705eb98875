//! Property tests of the input model: random and mutated terms never panic the engine, and
//! strings planted in every field never reach an event, the JSON or a request body.

mod oracle;

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::node::value::Value;
use mongoose_system_metrics_engine::report::event::{Event, ParamValue};
use mongoose_system_metrics_engine::wire::json;
use oracle::{readme_allows, Val};
use proptest::prelude::*;

/// Whether the README ("What is sent", written out by hand in `oracle`) allows the event.
fn allowed(event: &Event) -> bool {
    let params: Vec<(String, Val)> = event
        .params
        .iter()
        .map(|(k, v)| {
            let v = match v {
                ParamValue::Str(s) => Val::Str(s.to_string()),
                ParamValue::Int(n) => Val::Int(*n),
            };
            (k.to_string(), v)
        })
        .collect();
    readme_allows(&event.name, &params)
}

const KEYS: [&str; 16] = [
    "version",
    "uptime_seconds",
    "node_count",
    "component_count",
    "config_type",
    "host_type_count",
    "domain_count",
    "modules",
    "http_handlers",
    "c2s_listeners",
    "outgoing_pools",
    "stanza_counts",
    "previous_stanza_counts",
    "module",
    "opts",
    "backend",
];

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop::sample::select(KEYS.to_vec()).prop_map(|k| Value::Atom(k.into())),
        "[a-z_]{0,12}".prop_map(Value::Atom),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Binary),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        prop::sample::select(vec!["pid", "fun", "tuple", "improper list", "bitstring"])
            .prop_map(Value::Other),
    ];
    leaf.prop_recursive(6, 200, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            prop::collection::vec((inner.clone(), inner), 0..8).prop_map(Value::Map),
        ]
    })
}

/// A well-formed NodeInfo whose every free-text field carries `planted`.
fn planted_node_info() -> impl Strategy<Value = (Value, String)> {
    ("[a-z]{6,10}", 0usize..4).prop_map(|(word, variant)| {
        let planted = format!("planted{word}");
        let atom = |s: &str| Value::Atom(s.into());
        let bin = |s: &str| Value::Binary(s.as_bytes().to_vec());
        let map = |pairs: Vec<(&str, Value)>| {
            Value::Map(pairs.into_iter().map(|(k, v)| (atom(k), v)).collect())
        };
        let p = planted.as_str();
        let version = match variant {
            0 => format!("6.4.0-{p}-prod"),
            1 => format!("{p}-6.4.0"),
            2 => format!("6.4.0-12-g{p}"),
            _ => format!("6.4.0-12-gabcdef1{p}"),
        };
        let info = map(vec![
            ("version", bin(&version)),
            (
                "modules",
                Value::List(vec![
                    map(vec![("module", atom(p))]),
                    map(vec![
                        ("module", atom("mod_mam")),
                        (
                            "opts",
                            map(vec![
                                ("backend", bin(p)),
                                ("host", bin(&format!("{p}.example.com"))),
                                ("room", bin(&format!("user@{p}.example.com/res"))),
                            ]),
                        ),
                    ]),
                    map(vec![
                        ("module", atom("mod_event_pusher")),
                        (
                            "opts",
                            map(vec![("backend", Value::List(vec![atom(p), atom("sns")]))]),
                        ),
                    ]),
                ]),
            ),
            ("http_handlers", Value::List(vec![atom(p)])),
            (
                "c2s_listeners",
                Value::List(vec![map(vec![
                    ("proto", atom(p)),
                    ("tls", map(vec![("mode", atom(p)), ("module", atom(p))])),
                ])]),
            ),
            ("outgoing_pools", Value::List(vec![atom(p)])),
            ("stanza_counts", map(vec![(p, Value::Int(5))])),
        ]);
        (info, planted)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_terms_never_panic(v in any_value(), o in any_value()) {
        let _ = api::build_report(&v);
        let _ = api::encode_json(&v);
        let _ = api::plan_send(&v, &o);
    }

    #[test]
    fn random_node_info_shapes_never_panic(
        pairs in prop::collection::vec((prop::sample::select(KEYS.to_vec()), any_value()), 0..10)
    ) {
        let v = Value::Map(pairs.into_iter().map(|(k, v)| (Value::Atom(k.into()), v)).collect());
        if let Ok(events) = api::build_report(&v) {
            // Whatever is built is what the README allows, and passes the send-time check.
            for e in &events {
                prop_assert!(allowed(e), "{:?}", e);
            }
            prop_assert!(mongoose_system_metrics_engine::wire::plan::check_events(&events).is_ok());
        }
    }

    #[test]
    fn planted_strings_never_leave((info, planted) in planted_node_info()) {
        let events = api::build_report(&info).expect("well-formed input");
        for e in &events {
            prop_assert!(allowed(e), "{:?}", e);
        }
        let text = String::from_utf8(json::pretty(&events)).unwrap();
        prop_assert!(!text.contains(&planted), "{} leaked: {}", planted, text);
        prop_assert!(!text.contains("example.com"));
    }
}
