//! The sender and the dispatcher against a real HTTP/1.1 server on 127.0.0.1.
//! No other address is ever contacted. No test asserts a duration: results, the server's own
//! log (requests in order, what was open at once) and answers are what is checked; waits
//! have bounds that only guard against hanging (the one time compared is the gap between two
//! requests the server logged, where `Retry-After` asks for one).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use mongoose_system_metrics_engine::delivery::client::ClientCache;
use mongoose_system_metrics_engine::delivery::dispatch::{DispatchError, Dispatcher};
use mongoose_system_metrics_engine::delivery::outcome::{SendError, TrackingResult};
use mongoose_system_metrics_engine::delivery::sender::execute;
use mongoose_system_metrics_engine::wire::ga4::Mode;
use mongoose_system_metrics_engine::wire::plan::{PlannedRequest, SendPlan, TrackingPlan};
use mongoose_system_metrics_engine::wire::secret::{Secret, SecretUrl};
use support::{Action, TestServer};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "TOPSECRET-k3y_value";

/// How long a test waits for an answer or an event: only a guard against hanging.
const WAIT: Duration = Duration::from_secs(60);

/// A send cancelled while it waits out a `Retry-After` of 30 s must not wait it out: its
/// answer is awaited for less than that wait.
const SHORTER_THAN_THE_WAIT: Duration = Duration::from_secs(20);

/// Request bodies for `n` events, 25 per batch, as the planner would make them.
fn batches(n: usize) -> Vec<(Vec<u8>, usize)> {
    let events: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"name":"event_{i}","params":{{"value":{i}}}}}"#))
        .collect();
    events
        .chunks(25)
        .map(|chunk| {
            let body = format!(
                r#"{{"client_id":"test-client","events":[{}]}}"#,
                chunk.join(",")
            );
            (body.into_bytes(), chunk.len())
        })
        .collect()
}

fn tracking(base: &str, id: &str, events: usize) -> TrackingPlan {
    let base = reqwest::Url::parse(base).unwrap();
    TrackingPlan {
        tracking_id: id.to_string(),
        valid: true,
        requests: batches(events)
            .into_iter()
            .map(|(body, events)| PlannedRequest {
                url: SecretUrl::new(&base, id, &Secret::new(SECRET)),
                body: body.into(),
                events,
            })
            .collect(),
    }
}

fn plan(
    server: &TestServer,
    trackings: &[(&str, usize)],
    timeout_ms: u64,
    max_retries: u32,
) -> SendPlan {
    plan_at(
        &server.url("/mp/collect"),
        trackings,
        timeout_ms,
        max_retries,
    )
}

fn plan_at(base: &str, trackings: &[(&str, usize)], timeout_ms: u64, max_retries: u32) -> SendPlan {
    SendPlan {
        trackings: trackings
            .iter()
            .map(|(id, events)| tracking(base, id, *events))
            .collect(),
        mode: Mode::Collect,
        timeout: Duration::from_millis(timeout_ms),
        max_retries,
        cacertfile: None,
    }
}

/// A client cache whose default client is already built.
async fn warm_clients() -> ClientCache {
    let clients = ClientCache::new();
    clients.get(None).await.expect("default client");
    clients
}

async fn run(plan: SendPlan) -> Vec<TrackingResult> {
    run_with(plan, &warm_clients().await).await
}

async fn run_with(plan: SendPlan, clients: &ClientCache) -> Vec<TrackingResult> {
    let results = execute(plan, clients, CancellationToken::new()).await;
    assert_no_secret(&results);
    results
}

fn assert_no_secret(results: &[TrackingResult]) {
    let shown = format!("{results:?}");
    assert!(!shown.contains(SECRET), "secret leaked: {shown}");
    for r in results {
        if let Err(e) = &r.result {
            assert!(!format!("{e} {e:?}").contains(SECRET));
        }
    }
}

fn one(results: Vec<TrackingResult>) -> TrackingResult {
    assert_eq!(results.len(), 1, "{results:?}");
    results.into_iter().next().unwrap()
}

fn retry_after(status: u16, value: &str) -> Action {
    Action::StatusWith(status, vec![("Retry-After".into(), value.into())])
}

// ---------------------------------------------------------------------------------------------
// sender::execute

#[tokio::test]
async fn success_is_counted_and_the_request_is_as_planned() {
    let server = TestServer::start().await;
    let p = plan(&server, &[("G-ONE", 3)], 2000, 2);
    let expected_body = p.trackings[0].requests[0].body.clone();
    let r = one(run(p).await);
    assert_eq!(r.tracking_id, "G-ONE");
    assert_eq!(r.result, Ok(()));
    assert_eq!((r.batches, r.requests, r.events), (1, 1, 3));
    assert_eq!(r.validation_messages, None);

    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/mp/collect");
    assert_eq!(seen[0].param("measurement_id").as_deref(), Some("G-ONE"));
    assert_eq!(seen[0].param("api_secret").as_deref(), Some(SECRET));
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(seen[0].body, expected_body);
}

#[tokio::test]
async fn sixty_events_go_in_three_ordered_batches() {
    let server = TestServer::start().await;
    let p = plan(&server, &[("G-ONE", 60)], 2000, 2);
    let bodies: Vec<Vec<u8>> = p.trackings[0]
        .requests
        .iter()
        .map(|r| r.body.to_vec())
        .collect();
    let r = one(run(p).await);
    assert_eq!(r.result, Ok(()));
    assert_eq!((r.batches, r.requests, r.events), (3, 3, 60));
    let seen: Vec<Vec<u8>> = server.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(seen, bodies);
    let counts: Vec<usize> = seen
        .iter()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_slice(b).unwrap();
            v["events"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(counts, vec![25, 25, 10]);
}

#[tokio::test]
async fn tracking_ids_are_sent_in_parallel_and_reported_in_order() {
    // The server holds each request until two are open at once: only a sender that sends the
    // two tracking ids in parallel gets both answered before the guard gives up on them.
    let (url, max_open) = counting_server(2, WAIT).await;
    let results = run(plan_at(&url, &[("G-A", 5), ("G-B", 30)], 120_000, 0)).await;
    assert_eq!(max_open.load(Ordering::SeqCst), 2);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].tracking_id, "G-A");
    assert_eq!(results[1].tracking_id, "G-B");
    assert_eq!(
        (results[0].batches, results[0].requests, results[0].events),
        (1, 1, 5)
    );
    assert_eq!(
        (results[1].batches, results[1].requests, results[1].events),
        (2, 2, 30)
    );
    assert!(results.iter().all(|r| r.result.is_ok()));
}

#[tokio::test]
async fn one_failing_tracking_id_does_not_affect_another() {
    let server = TestServer::start().await;
    server.script("G-BAD", vec![Action::Status(400)]);
    let results = run(plan(&server, &[("G-BAD", 2), ("G-GOOD", 2)], 2000, 1)).await;
    assert_eq!(results[0].result, Err(SendError::HttpStatus(400)));
    assert_eq!(results[1].result, Ok(()));
    assert_eq!(results[1].events, 2);
}

#[tokio::test]
async fn a_500_then_200_is_retried() {
    let server = TestServer::start().await;
    server.script("G-ONE", vec![Action::Status(500)]);
    let r = one(run(plan(&server, &[("G-ONE", 4)], 2000, 2)).await);
    assert_eq!(r.result, Ok(()));
    assert_eq!((r.batches, r.requests, r.events), (1, 2, 4));
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn a_503_until_retries_run_out_is_http_status_503() {
    let server = TestServer::start().await;
    server.set_default(Action::Status(503));
    let r = one(run(plan(&server, &[("G-ONE", 4)], 2000, 2)).await);
    assert_eq!(r.result, Err(SendError::HttpStatus(503)));
    assert_eq!((r.batches, r.requests, r.events), (1, 3, 0));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_429_exhausted_is_rate_limited() {
    let server = TestServer::start().await;
    server.set_default(Action::Status(429));
    let r = one(run(plan(&server, &[("G-ONE", 1)], 2000, 1)).await);
    assert_eq!(r.result, Err(SendError::RateLimited));
    assert_eq!(r.requests, 2);
}

#[tokio::test]
async fn retry_after_one_second_is_honoured() {
    let server = TestServer::start().await;
    server.script("G-ONE", vec![retry_after(429, "1")]);
    let r = one(run(plan(&server, &[("G-ONE", 1)], 2000, 2)).await);
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.requests, 2);
    // The server's own log: the retry came at least the second asked for after the request
    // answered with it (the backoff alone would allow 0 to 500 ms).
    let seen = server.requests();
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
}

#[tokio::test]
async fn retry_after_beyond_the_cap_is_rate_limited_at_once() {
    let server = TestServer::start().await;
    server.script("G-ONE", vec![retry_after(429, "3600")]);
    // Waiting the hour asked for would outlast the guard.
    let r = one(guarded(run(plan(&server, &[("G-ONE", 1)], 2000, 2))).await);
    assert_eq!(r.result, Err(SendError::RateLimited));
    assert_eq!(r.requests, 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_400_is_not_retried_and_the_next_batches_are_still_sent() {
    // As MongooseIM's sender: every batch is posted, whatever the previous one got.
    let server = TestServer::start().await;
    server.script(
        "G-ONE",
        vec![
            Action::Status(200),
            Action::Status(400),
            Action::Status(204),
        ],
    );
    let r = one(run(plan(&server, &[("G-ONE", 60)], 2000, 3)).await);
    assert_eq!(r.result, Err(SendError::HttpStatus(400)));
    assert_eq!((r.batches, r.requests, r.events), (3, 3, 35));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = TestServer::start().await;
    let location = server.url("/elsewhere");
    server.script(
        "G-ONE",
        vec![Action::StatusWith(302, vec![("Location".into(), location)])],
    );
    let r = one(run(plan(&server, &[("G-ONE", 1)], 2000, 2)).await);
    assert_eq!(r.result, Err(SendError::HttpStatus(302)));
    assert_eq!(r.requests, 1);
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/mp/collect");
}

#[tokio::test]
async fn connection_refused_is_connect_error_after_retries() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}/mp/collect");
    let r = one(run(plan_at(&base, &[("G-ONE", 1)], 1000, 1)).await);
    assert_eq!(r.result, Err(SendError::ConnectError));
    assert_eq!((r.batches, r.requests, r.events), (1, 2, 0));
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let server = TestServer::start().await;
    server.script("G-ONE", vec![Action::Reset]);
    let r = one(run(plan(&server, &[("G-ONE", 1)], 2000, 1)).await);
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.requests, 2);
}

#[tokio::test]
async fn a_reset_connection_until_retries_run_out_is_connect_error() {
    let server = TestServer::start().await;
    server.set_default(Action::Reset);
    let r = one(run(plan(&server, &[("G-ONE", 1)], 2000, 1)).await);
    assert_eq!(r.result, Err(SendError::ConnectError));
    assert_eq!(r.requests, 2);
}

#[tokio::test]
async fn a_hanging_endpoint_times_out_per_attempt() {
    let server = TestServer::start().await;
    server.set_default(Action::Hang);
    let r = one(guarded(run(plan(&server, &[("G-ONE", 1)], 200, 1))).await);
    assert_eq!(r.result, Err(SendError::Timeout));
    assert_eq!(r.requests, 2);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn an_answer_after_the_timeout_is_a_timeout() {
    // The server answers 200 after 3 s; with a timeout of 200 ms each attempt gives up first.
    let server = TestServer::start().await;
    server.set_default(Action::Sleep(
        Duration::from_secs(3),
        Box::new(Action::Status(200)),
    ));
    let r = one(run(plan(&server, &[("G-ONE", 1)], 200, 0)).await);
    assert_eq!(r.result, Err(SendError::Timeout));
    assert_eq!((r.requests, r.events), (1, 0));
}

#[tokio::test]
async fn a_slow_answer_within_the_timeout_is_fine() {
    let server = TestServer::start().await;
    server.set_default(Action::Sleep(
        Duration::from_millis(100),
        Box::new(Action::Status(204)),
    ));
    let r = one(run(plan(&server, &[("G-ONE", 1)], 1000, 0)).await);
    assert_eq!(r.result, Ok(()));
}

#[tokio::test]
async fn cancel_during_a_hanging_attempt_is_final() {
    let server = TestServer::start().await;
    server.set_default(Action::Hang);
    let clients = warm_clients().await;
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    let watched = server.clone();
    // Cancelled once both tracking ids' first requests are at the server (never answered;
    // without the cancel each would time out after two minutes and be retried three times).
    tokio::spawn(async move {
        wait_for(|| watched.requests().len() >= 2).await;
        canceller.cancel();
    });
    let results = guarded(execute(
        plan(&server, &[("G-A", 30), ("G-B", 1)], 120_000, 3),
        &clients,
        cancel,
    ))
    .await;
    assert_no_secret(&results);
    for r in &results {
        assert_eq!(r.result, Err(SendError::Cancelled));
        assert_eq!(r.requests, 1);
        assert_eq!(r.events, 0);
    }
    assert_eq!(results[0].batches, 2);
    // The send is over: the two requests are all the server ever got from it.
    assert_eq!(
        server.requests().len(),
        2,
        "a request was made after the cancel"
    );
}

#[tokio::test]
async fn cancel_during_backoff_is_final() {
    let server = TestServer::start().await;
    server.set_default(retry_after(503, "30"));
    let clients = warm_clients().await;
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    let watched = server.clone();
    // Cancelled once the first 503 was answered: the send is waiting the 30 s it was asked.
    tokio::spawn(async move {
        wait_for(|| watched.answered() >= 1).await;
        canceller.cancel();
    });
    let send = execute(plan(&server, &[("G-ONE", 1)], 2000, 3), &clients, cancel);
    let r = one(tokio::time::timeout(SHORTER_THAN_THE_WAIT, send)
        .await
        .expect("the cancelled send waited out its Retry-After"));
    assert_eq!(r.result, Err(SendError::Cancelled));
    assert_eq!(r.requests, 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn already_cancelled_sends_nothing() {
    let server = TestServer::start().await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let r = one(execute(
        plan(&server, &[("G-ONE", 1)], 2000, 3),
        &ClientCache::new(),
        cancel,
    )
    .await);
    assert_eq!(r.result, Err(SendError::Cancelled));
    assert_eq!((r.batches, r.requests), (1, 0));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn validate_mode_collects_the_messages_of_every_batch() {
    let server = TestServer::start().await;
    server.script(
        "G-ONE",
        vec![
            Action::Json(
                r#"{"validationMessages":[{"fieldPath":"events","description":"Event at index: [3] has invalid name [1bad].","validationCode":"NAME_INVALID"}]}"#.into(),
            ),
            Action::Json(format!(
                r#"{{"validationMessages":[{{"fieldPath":"events.params","description":"{}","validationCode":"VALUE_INVALID"}},{{"fieldPath":"events","description":"x","validationCode":"NAME_RESERVED"}}]}}"#,
                "d".repeat(400)
            )),
            Action::Json(r#"{"validationMessages":[]}"#.into()),
        ],
    );
    let mut p = plan_at(&server.url("/debug/mp/collect"), &[("G-ONE", 60)], 2000, 0);
    p.mode = Mode::Validate;
    let r = one(run(p).await);
    assert_eq!(r.result, Ok(()));
    assert_eq!((r.batches, r.requests, r.events), (3, 3, 60));
    let messages = r.validation_messages.expect("validate mode gives messages");
    let codes: Vec<&str> = messages
        .iter()
        .map(|m| m.validation_code.as_str())
        .collect();
    assert_eq!(
        codes,
        vec!["NAME_INVALID", "VALUE_INVALID", "NAME_RESERVED"]
    );
    assert_eq!(messages[0].field_path, "events");
    assert_eq!(
        messages[0].description,
        "Event at index: [3] has invalid name [1bad]."
    );
    assert_eq!(messages[1].description.len(), 300);
    assert!(server
        .requests()
        .iter()
        .all(|r| r.path == "/debug/mp/collect"));
}

#[tokio::test]
async fn validate_mode_with_a_clean_answer_gives_an_empty_list() {
    let server = TestServer::start().await;
    server.set_default(Action::Json(r#"{"validationMessages":[]}"#.into()));
    let mut p = plan(&server, &[("G-ONE", 2)], 2000, 0);
    p.mode = Mode::Validate;
    let r = one(run(p).await);
    assert_eq!(r.validation_messages, Some(vec![]));
}

#[tokio::test]
async fn a_huge_answer_body_is_not_read_whole() {
    let server = TestServer::start().await;
    let huge = format!(
        r#"{{"validationMessages":[],"pad":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    server.set_default(Action::Json(huge));
    let mut p = plan(&server, &[("G-ONE", 1)], 2000, 0);
    p.mode = Mode::Validate;
    let r = one(run(p).await);
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.validation_messages, Some(vec![]));
}

#[tokio::test]
async fn a_bad_cacertfile_is_tls_error_and_nothing_is_sent() {
    let server = TestServer::start().await;
    let dir = std::env::temp_dir().join(format!("msm-sender-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let broken = dir.join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let missing = dir.join("missing.pem");
    let clients = ClientCache::new();
    for path in [garbage, broken, missing] {
        let mut p = plan(&server, &[("G-ONE", 1), ("G-TWO", 30)], 2000, 2);
        p.cacertfile = Some(path.clone());
        let results = execute(p, &clients, CancellationToken::new()).await;
        assert_no_secret(&results);
        assert_eq!(results.len(), 2);
        for r in &results {
            assert_eq!(r.result, Err(SendError::TlsError), "{path:?}");
            assert_eq!(r.requests, 0);
        }
        assert_eq!(results[1].batches, 2);
    }
    assert!(clients.is_empty());
    assert!(server.requests().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn clients_are_reused_per_cacertfile() {
    let server = TestServer::start().await;
    let clients = ClientCache::new();
    for _ in 0..3 {
        let results = execute(
            plan(&server, &[("G-ONE", 1)], 2000, 0),
            &clients,
            CancellationToken::new(),
        )
        .await;
        assert_eq!(results[0].result, Ok(()));
    }
    assert_eq!(clients.len(), 1);
}

#[tokio::test]
async fn an_empty_plan_sends_nothing() {
    let server = TestServer::start().await;
    let results = run(plan(&server, &[], 2000, 0)).await;
    assert!(results.is_empty());
    let r = one(run(plan(&server, &[("G-ONE", 0)], 2000, 0)).await);
    assert_eq!(r.result, Ok(()));
    assert_eq!((r.batches, r.requests, r.events), (0, 0, 0));
}

#[tokio::test]
async fn the_secret_is_never_shown() {
    let server = TestServer::start().await;
    server.script("G-A", vec![Action::Status(400)]);
    server.set_default(Action::Hang);
    let p = plan(&server, &[("G-A", 1), ("G-B", 1)], 200, 0);
    let plan_debug = format!("{p:?}");
    assert!(!plan_debug.contains(SECRET), "{plan_debug}");
    let results = run(p).await; // asserts on Debug and Display inside
    assert_eq!(results[0].result, Err(SendError::HttpStatus(400)));
    assert_eq!(results[1].result, Err(SendError::Timeout));
    // Also a connection error (reqwest's error would print the URL).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let results = run(plan_at(
        &format!("http://127.0.0.1:{port}/mp/collect"),
        &[("G-A", 1)],
        500,
        0,
    ))
    .await;
    assert_eq!(results[0].result, Err(SendError::ConnectError));
}

// ---------------------------------------------------------------------------------------------
// Dispatcher: it owns its runtime, so these tests are synchronous; the server runs on its own
// runtime.

struct Harness {
    rt: tokio::runtime::Runtime,
    server: TestServer,
}

fn harness() -> Harness {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(TestServer::start());
    Harness { rt, server }
}

type Done = (Vec<u8>, Vec<TrackingResult>, Option<String>);

fn on_done(
    key: &[u8],
    tx: &mpsc::Sender<Done>,
) -> impl FnOnce(Vec<TrackingResult>) + Send + 'static {
    let key = key.to_vec();
    let tx = tx.clone();
    move |results| {
        let thread = std::thread::current().name().map(str::to_string);
        let _ = tx.send((key, results, thread));
    }
}

#[test]
fn dispatcher_answers_once_on_a_runtime_thread() {
    let h = harness();
    let d = Dispatcher::new();
    assert!(!d.is_started());
    let (tx, rx) = mpsc::channel();
    d.submit(
        b"k1".to_vec(),
        plan(&h.server, &[("G-ONE", 30)], 2000, 0),
        on_done(b"k1", &tx),
    )
    .unwrap();
    assert!(d.is_started());
    let (key, results, thread) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(key, b"k1");
    assert_eq!(thread.as_deref(), Some("msm-worker"));
    let r = one(results);
    assert_eq!(r.result, Ok(()));
    assert_eq!((r.batches, r.requests, r.events), (2, 2, 30));
    // The slot is released before the answer: nothing else can answer for this send.
    assert_eq!(d.in_flight(), 0);
    assert!(rx.try_recv().is_err());
    drop(h.rt);
}

#[test]
fn submit_returns_at_once_while_the_endpoint_hangs() {
    let h = harness();
    h.server.set_default(Action::Hang);
    let d = Dispatcher::new();
    let (tx, rx) = mpsc::channel();
    // The first submit creates the runtime.
    d.submit(
        b"warm".to_vec(),
        plan(&h.server, &[("G-W", 1)], 10_000, 0),
        on_done(b"warm", &tx),
    )
    .unwrap();
    let n = 40;
    for i in 0..n {
        let key = format!("job-{i}").into_bytes();
        let p = plan(&h.server, &[("G-ONE", 3), ("G-TWO", 3)], 120_000, 3);
        d.submit(key.clone(), p, on_done(&key, &tx)).unwrap();
    }
    // Submit did not wait for the endpoint: every call came back while nothing was answered.
    // (How fast it returns is a benchmark's business, see BENCHMARKS.md, not a test's.)
    assert!(rx.try_recv().is_err());
    assert_eq!(d.in_flight(), n + 1);

    d.cancel_all();
    // Every send answers once, cancelled (the endpoint never answers; a send that was not
    // cancelled would time out after two minutes, past the guard).
    let mut keys = Vec::new();
    for _ in 0..n + 1 {
        let (key, results, _) = rx.recv_timeout(WAIT).expect("an answer");
        assert!(results
            .iter()
            .all(|r| r.result == Err(SendError::Cancelled)));
        keys.push(key);
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n + 1);
    assert_eq!(d.in_flight(), 0);
    assert!(rx.try_recv().is_err());
}

#[test]
fn past_the_bound_submit_is_overloaded() {
    let h = harness();
    h.server.set_default(Action::Hang);
    let d = Dispatcher::new();
    d.set_max_in_flight(2);
    let (tx, rx) = mpsc::channel();
    for key in [b"a", b"b"] {
        d.submit(
            key.to_vec(),
            plan(&h.server, &[("G-ONE", 1)], 10_000, 0),
            on_done(key, &tx),
        )
        .unwrap();
    }
    let refused = d.submit(
        b"c".to_vec(),
        plan(&h.server, &[("G-ONE", 1)], 10_000, 0),
        on_done(b"c", &tx),
    );
    // Refused at once: the two accepted sends are still hanging, nothing has answered.
    assert_eq!(refused, Err(DispatchError::Overloaded));
    assert!(rx.try_recv().is_err());
    d.cancel(b"a");
    let (key, results, _) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(key, b"a");
    assert_eq!(results[0].result, Err(SendError::Cancelled));
    // A slot is free again.
    d.submit(
        b"d".to_vec(),
        plan(&h.server, &[("G-ONE", 1)], 10_000, 0),
        on_done(b"d", &tx),
    )
    .unwrap();
    d.cancel_all();
    let mut keys: Vec<Vec<u8>> = (0..2).map(|_| rx.recv_timeout(WAIT).unwrap().0).collect();
    keys.sort();
    assert_eq!(keys, vec![b"b".to_vec(), b"d".to_vec()]);
    // Every accepted send has answered; the refused one never does (its callback was
    // dropped by the submit that refused it).
    assert_eq!(d.in_flight(), 0);
    assert!(rx.try_recv().is_err(), "c must never answer");
}

#[test]
fn cancel_all_stops_earlier_sends_only() {
    let h = harness();
    h.server.script("G-HANG", vec![Action::Hang, Action::Hang]);
    let d = Dispatcher::new();
    let (tx, rx) = mpsc::channel();
    for key in [b"one", b"two"] {
        d.submit(
            key.to_vec(),
            plan(&h.server, &[("G-HANG", 1)], 10_000, 0),
            on_done(key, &tx),
        )
        .unwrap();
    }
    // Both hanging requests are at the server.
    block_on_wait(|| h.server.requests_for("G-HANG").len() >= 2);
    // Returns at once; the two hanging sends are stopped on the runtime's thread.
    d.cancel_all();
    // A send submitted after cancel_all goes through (the server answers 200 by default).
    d.submit(
        b"after".to_vec(),
        plan(&h.server, &[("G-LATER", 1)], 10_000, 0),
        on_done(b"after", &tx),
    )
    .unwrap();
    let mut answers: Vec<(Vec<u8>, Result<(), SendError>)> = (0..3)
        .map(|_| {
            let (key, results, _) = rx.recv_timeout(WAIT).expect("an answer");
            (key, results[0].result)
        })
        .collect();
    answers.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        answers,
        vec![
            (b"after".to_vec(), Ok(())),
            (b"one".to_vec(), Err(SendError::Cancelled)),
            (b"two".to_vec(), Err(SendError::Cancelled)),
        ]
    );
    assert_eq!(d.in_flight(), 0);
    assert!(rx.try_recv().is_err());
}

#[test]
fn cancel_stops_only_its_own_send() {
    let h = harness();
    h.server.script("G-SLOW", vec![Action::Hang]);
    // Answered 2 s after it arrives: in flight when the other send is cancelled.
    h.server.script(
        "G-OK",
        vec![Action::Sleep(
            Duration::from_secs(2),
            Box::new(Action::Status(200)),
        )],
    );
    let d = Dispatcher::new();
    let (tx, rx) = mpsc::channel();
    d.submit(
        b"slow".to_vec(),
        plan(&h.server, &[("G-SLOW", 1)], 10_000, 0),
        on_done(b"slow", &tx),
    )
    .unwrap();
    d.submit(
        b"ok".to_vec(),
        plan(&h.server, &[("G-OK", 1)], 10_000, 0),
        on_done(b"ok", &tx),
    )
    .unwrap();
    block_on_wait(|| h.server.requests().len() >= 2);
    d.cancel(b"slow");
    d.cancel(b"unknown-key");
    let mut answers: Vec<(Vec<u8>, Result<(), SendError>)> = (0..2)
        .map(|_| {
            let (key, results, _) = rx.recv_timeout(WAIT).unwrap();
            (key, results[0].result)
        })
        .collect();
    answers.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        answers,
        vec![
            (b"ok".to_vec(), Ok(())),
            (b"slow".to_vec(), Err(SendError::Cancelled)),
        ]
    );
    assert_eq!(d.in_flight(), 0);
}

#[test]
fn a_panicking_task_still_answers_exactly_once() {
    let h = harness();
    let d = Dispatcher::new();
    let (tx, rx) = mpsc::channel();
    d.panic_next_task_for_tests();
    let mut p = plan(&h.server, &[("G-ONE", 60), ("G-TWO", 1)], 2000, 0);
    p.mode = Mode::Validate;
    d.submit(b"boom".to_vec(), p, on_done(b"boom", &tx))
        .unwrap();
    let (key, results, _) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(key, b"boom");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].result, Err(SendError::Internal));
    assert_eq!((results[0].batches, results[0].requests), (3, 0));
    assert_eq!(results[1].batches, 1);
    assert_eq!(results[1].validation_messages, Some(vec![]));
    assert_eq!(d.in_flight(), 0);
    assert!(rx.try_recv().is_err());
    assert!(h.server.requests().is_empty());
    // The dispatcher keeps working.
    d.submit(
        b"after".to_vec(),
        plan(&h.server, &[("G-ONE", 1)], 2000, 0),
        on_done(b"after", &tx),
    )
    .unwrap();
    let (_, results, _) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(results[0].result, Ok(()));
}

#[test]
fn many_mixed_sends_answer_exactly_once_each() {
    let h = harness();
    h.server.script("G-FAIL", vec![Action::Status(400); 10]);
    h.server.script("G-RETRY", vec![Action::Status(500); 10]);
    let d = Dispatcher::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let ids = ["G-OK", "G-FAIL", "G-RETRY"];
    for i in 0..30 {
        let key = format!("m{i}").into_bytes();
        let calls = calls.clone();
        let tx = tx.clone();
        let k = key.clone();
        let p = plan(&h.server, &[(ids[i % 3], 2)], 2000, 1);
        if i == 7 {
            d.panic_next_task_for_tests();
        }
        d.submit(key, p, move |results| {
            calls.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send((k, results, None::<String>));
        })
        .unwrap();
    }
    let mut keys = Vec::new();
    for _ in 0..30 {
        keys.push(rx.recv_timeout(WAIT).unwrap().0);
    }
    // Every slot is released before its answer: with none left in flight, no answer is
    // still to come.
    assert_eq!(d.in_flight(), 0);
    assert_eq!(calls.load(Ordering::SeqCst), 30);
    assert!(rx.try_recv().is_err());
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 30);
    assert_eq!(d.in_flight(), 0);
}

#[test]
fn dropping_the_dispatcher_answers_pending_sends() {
    let h = harness();
    h.server.set_default(Action::Hang);
    let d = Dispatcher::new();
    let (tx, rx) = mpsc::channel();
    d.submit(
        b"x".to_vec(),
        plan(&h.server, &[("G-ONE", 1)], 10_000, 0),
        on_done(b"x", &tx),
    )
    .unwrap();
    block_on_wait(|| !h.server.requests().is_empty());
    drop(d);
    let (_, results, _) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(results[0].result, Err(SendError::Cancelled));
    // One answer: the only sender of the channel's other end went with the dispatcher.
    drop(tx);
    assert!(matches!(
        rx.recv_timeout(WAIT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    ));
}

// ---------------------------------------------------------------------------------------------
// TLS, against a test CA on 127.0.0.1.

fn write_temp(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("msm-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn tls_with_an_unknown_ca_is_tls_error_and_not_retried() {
    let pki = support::TestPki::generate();
    let server = pki.start_server().await;
    let p = plan_at(&server.https_url("/mp/collect"), &[("G-ONE", 1)], 2000, 2);
    let r = one(run(p).await);
    assert_eq!(r.result, Err(SendError::TlsError));
    assert_eq!((r.batches, r.requests, r.events), (1, 1, 0));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn tls_with_the_ca_as_cacertfile_is_ok() {
    let pki = support::TestPki::generate();
    let server = pki.start_server().await;
    let ca = write_temp("good-ca.pem", &pki.ca_pem);
    let clients = ClientCache::new();
    let mut p = plan_at(&server.https_url("/mp/collect"), &[("G-ONE", 30)], 5000, 0);
    p.cacertfile = Some(ca.clone());
    let r = one(run_with(p, &clients).await);
    assert_eq!(r.result, Ok(()));
    assert_eq!((r.batches, r.requests, r.events), (2, 2, 30));
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].param("api_secret").as_deref(), Some(SECRET));

    // The same cache without the cacertfile uses another client, which does not trust the CA.
    let p = plan_at(&server.https_url("/mp/collect"), &[("G-ONE", 1)], 5000, 0);
    let r = one(run_with(p, &clients).await);
    assert_eq!(r.result, Err(SendError::TlsError));
    assert_eq!(clients.len(), 2);

    // Another CA does not help.
    let other = support::TestPki::generate();
    let mut p = plan_at(&server.https_url("/mp/collect"), &[("G-ONE", 1)], 5000, 0);
    p.cacertfile = Some(write_temp("other-ca.pem", &other.ca_pem));
    let r = one(run_with(p, &clients).await);
    assert_eq!(r.result, Err(SendError::TlsError));
    assert_eq!(server.requests().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// At most 4 tracking ids at a time (contract)

/// Counts the requests open at once at a loopback server that holds each request until
/// `hold_until` are open together (from then on nothing is held), or `hold_at_most` has
/// passed (so that a bounded sender is not stuck), and records the most ever open at once.
async fn counting_server(hold_until: usize, hold_at_most: Duration) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Notify;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mp/collect", listener.local_addr().unwrap());
    let open = Arc::new(AtomicUsize::new(0));
    let max_open = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let reached = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let max = max_open.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (open, max, enough, reached) =
                (open.clone(), max.clone(), enough.clone(), reached.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                // Registered before counting itself, so that no wake-up is missed.
                let notified = enough.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                if now >= hold_until || reached.load(Ordering::SeqCst) {
                    reached.store(true, Ordering::SeqCst);
                    enough.notify_waiters();
                } else {
                    // Not an assertion: only how long a request is held at most.
                    let _ = tokio::time::timeout(hold_at_most, notified).await;
                }
                open.fetch_sub(1, Ordering::SeqCst);
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, max_open)
}

#[tokio::test]
async fn at_most_four_tracking_ids_are_sent_at_the_same_time() {
    use mongoose_system_metrics_engine::delivery::sender::MAX_PARALLEL_TRACKING_IDS;
    assert_eq!(MAX_PARALLEL_TRACKING_IDS, 4);
    let (url, max_open) = counting_server(5, Duration::from_millis(300)).await;
    let ids: Vec<String> = (0..16).map(|i| format!("G-ID{i}")).collect();
    let trackings: Vec<(&str, usize)> = ids.iter().map(|id| (id.as_str(), 1)).collect();
    let results = run(plan_at(&url, &trackings, 5000, 0)).await;
    assert_eq!(results.len(), 16);
    assert!(results.iter().all(|r| r.result.is_ok()), "{results:?}");
    let ids_back: Vec<&str> = results.iter().map(|r| r.tracking_id.as_str()).collect();
    assert_eq!(ids_back, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let most = max_open.load(Ordering::SeqCst);
    assert!(most <= 4, "{most} requests were open at the same time");
    assert!(
        most >= 2,
        "tracking ids are still sent in parallel ({most})"
    );
}

// ---------------------------------------------------------------------------------------------
// The client cache: at most 8 kept, least recently used dropped, failed builds not kept

#[tokio::test]
async fn the_client_cache_keeps_at_most_eight_and_no_failed_build() {
    use mongoose_system_metrics_engine::delivery::client::MAX_CLIENTS;
    assert_eq!(MAX_CLIENTS, 8);
    let dir = std::env::temp_dir().join(format!("msm-client-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = support::TestPki::generate();
    let paths: Vec<_> = (0..10)
        .map(|i| {
            let p = dir.join(format!("ca{i}.pem"));
            std::fs::write(&p, &ca.ca_pem).unwrap();
            p
        })
        .collect();
    let clients = ClientCache::new();
    // Failed builds (a missing file, a garbage file) leave nothing behind.
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    for bad in [dir.join("missing.pem"), garbage] {
        assert!(clients.get(Some(&bad)).await.is_err());
        assert_eq!(clients.kept(), 0);
    }
    for p in &paths[..8] {
        clients.get(Some(p)).await.expect("client");
    }
    assert_eq!((clients.len(), clients.kept()), (8, 8));
    // ca0 is used again, so ca1 is now the least recently used: the ninth drops it.
    clients.get(Some(&paths[0])).await.expect("client");
    clients.get(Some(&paths[8])).await.expect("client");
    assert_eq!(clients.kept(), 8);
    assert!(clients.holds(Some(&paths[0])));
    assert!(!clients.holds(Some(&paths[1])));
    assert!(clients.holds(Some(&paths[8])));
    clients.get(Some(&paths[9])).await.expect("client");
    assert_eq!(clients.kept(), 8);
    assert!(!clients.holds(Some(&paths[2])));
    // A failed build does not evict anything either.
    assert!(clients.get(Some(&dir.join("missing.pem"))).await.is_err());
    assert_eq!(clients.kept(), 8);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Waiting for events, with a bound that only guards against hanging.

/// `fut`, or a failure once [`WAIT`] has passed.
async fn guarded<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("no answer within the guard")
}

/// Polls `done` until it holds (or fails at the guard).
async fn wait_for(done: impl Fn() -> bool) {
    guarded(async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// The same, from a plain thread.
fn block_on_wait(done: impl Fn() -> bool) {
    let step = Duration::from_millis(10);
    for _ in 0..(WAIT.as_millis() / step.as_millis()) {
        if done() {
            return;
        }
        std::thread::sleep(step);
    }
    panic!("not within the guard");
}
