//! The api_secret never appears in a panic message or in Debug output, captured and checked.
//!
//! One test in its own binary: it installs a process-wide panic hook that records every panic
//! message (instead of printing it), then drives the engine through planning, a send whose
//! task panics, failing sends, and the Debug output of every value that holds the secret.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::delivery::dispatch::Dispatcher;
use mongoose_system_metrics_engine::delivery::outcome::SendError;
use mongoose_system_metrics_engine::node::value::Value;

const SECRET: &str = "PANIC-and-DEBUG-s3cret";

fn atom(s: &str) -> Value {
    Value::Atom(s.into())
}

fn bin(s: &str) -> Value {
    Value::Binary(s.as_bytes().to_vec())
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (atom(k), v)).collect())
}

fn events(n: usize) -> Value {
    Value::List(
        (0..n)
            .map(|_| {
                map(vec![
                    ("name", bin("outgoing_pool")),
                    ("params", Value::Map(vec![(bin("value"), bin("rdbms"))])),
                ])
            })
            .collect(),
    )
}

fn opts(url: &str, extra: Vec<(&str, Value)>) -> Value {
    let mut pairs = vec![
        ("client_id", bin("secrets-test")),
        (
            "tracking_ids",
            Value::List(vec![map(vec![
                ("id", bin("G-SECRETS")),
                ("secret", bin(SECRET)),
            ])]),
        ),
        ("url", bin(url)),
        ("timeout_ms", Value::Int(500)),
        ("max_retries", Value::Int(0)),
    ];
    pairs.extend(extra);
    map(pairs)
}

fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!(
        "http://127.0.0.1:{}/mp/collect",
        l.local_addr().unwrap().port()
    )
}

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains(SECRET), "secret in {what}: {shown}");
}

#[test]
fn the_secret_is_never_in_a_panic_message_or_debug_output() {
    let panics: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorded = panics.clone();
    std::panic::set_hook(Box::new(move |info| {
        recorded.lock().unwrap().push(info.to_string());
    }));

    let url = closed_port_url();
    let plan = api::plan_send(&events(30), &opts(&url, vec![])).expect("valid plan");
    assert_hidden("a plan", &format!("{plan:?}"));
    for t in &plan.trackings {
        for r in &t.requests {
            assert!(
                r.url.expose().as_str().contains(SECRET),
                "the URL carries it"
            );
            assert_hidden(
                "a planned URL",
                &format!("{:?} {} {}", r.url, r.url, r.url.masked()),
            );
        }
    }

    // Bad options that carry the secret: the error names the path, never the value.
    for bad in [
        opts(&url, vec![("mode", bin(SECRET))]),
        opts(&url, vec![("cacertfile", bin(""))]),
        opts(&format!("gopher://{SECRET}/"), vec![]),
        map(vec![(
            "tracking_ids",
            Value::List(vec![map(vec![
                ("id", bin(SECRET)),
                ("secret", bin(SECRET)),
            ])]),
        )]),
    ] {
        let err = api::plan_send(&events(1), &bad).expect_err("invalid options");
        assert_hidden("an input error", &format!("{err:?} {err}"));
    }

    let d = Dispatcher::new();
    let (tx, rx) = mpsc::channel();
    // A send whose task panics: the panic message is recorded, and the answer is internal_error.
    d.panic_next_task_for_tests();
    let tx1 = tx.clone();
    d.submit(b"panics".to_vec(), plan.clone(), move |r| {
        let _ = tx1.send(r);
    })
    .unwrap();
    let results = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(results[0].result, Err(SendError::Internal));
    assert_hidden("results", &format!("{results:?}"));

    // Failing sends: connection refused, a cacertfile that is not a certificate.
    let not_pem = std::env::temp_dir().join(format!("msm-secrets-{}.pem", std::process::id()));
    std::fs::write(&not_pem, SECRET).unwrap();
    let mut bad_ca = plan.clone();
    bad_ca.cacertfile = Some(not_pem.clone());
    for (key, p, want) in [
        (b"refused".to_vec(), plan.clone(), SendError::ConnectError),
        (b"bad-ca".to_vec(), bad_ca, SendError::TlsError),
    ] {
        let tx2 = tx.clone();
        d.submit(key, p, move |r| {
            let _ = tx2.send(r);
        })
        .unwrap();
        let results = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(results[0].result, Err(want));
        assert_hidden("results", &format!("{results:?}"));
    }
    let _ = std::fs::remove_file(&not_pem);
    assert_hidden("the dispatcher", &format!("{d:?}"));

    let _ = std::panic::take_hook();
    let panics = panics.lock().unwrap();
    assert_eq!(panics.len(), 1, "exactly the injected panic: {panics:?}");
    for message in panics.iter() {
        assert_hidden("a panic message", message);
    }
}
