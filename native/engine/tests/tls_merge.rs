//! The `cacertfile` CA is added to the system roots, not used instead of them.
//!
//! Its own test binary because it replaces the "system roots" through `SSL_CERT_FILE`
//! (honoured by rustls-native-certs), which is process-wide. Only 127.0.0.1 is contacted.

mod support;

use std::time::Duration;

use mongoose_system_metrics_engine::delivery::client::ClientCache;
use mongoose_system_metrics_engine::delivery::outcome::SendError;
use mongoose_system_metrics_engine::delivery::sender::execute;
use mongoose_system_metrics_engine::wire::ga4::Mode;
use mongoose_system_metrics_engine::wire::plan::{PlannedRequest, SendPlan, TrackingPlan};
use mongoose_system_metrics_engine::wire::secret::{Secret, SecretUrl};
use support::TestPki;
use tokio_util::sync::CancellationToken;

fn plan(url: &str, cacertfile: Option<std::path::PathBuf>) -> SendPlan {
    let base = reqwest::Url::parse(url).unwrap();
    SendPlan {
        trackings: vec![TrackingPlan {
            tracking_id: "G-ONE".into(),
            valid: true,
            requests: vec![PlannedRequest {
                url: SecretUrl::new(&base, "G-ONE", &Secret::new("s3cret")),
                body: bytes::Bytes::from_static(
                    br#"{"client_id":"c","events":[{"name":"e","params":{}}]}"#,
                ),
                events: 1,
            }],
        }],
        mode: Mode::Collect,
        timeout: Duration::from_secs(5),
        max_retries: 0,
        cacertfile,
    }
}

#[tokio::test]
async fn cacertfile_is_merged_with_the_system_roots() {
    let system_ca = TestPki::generate();
    let extra_ca = TestPki::generate();
    let dir = std::env::temp_dir().join(format!("msm-tls-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let system_file = dir.join("system.pem");
    let extra_file = dir.join("extra.pem");
    std::fs::write(&system_file, &system_ca.ca_pem).unwrap();
    std::fs::write(&extra_file, &extra_ca.ca_pem).unwrap();
    // The only test in this binary: nothing else reads the environment concurrently.
    std::env::set_var("SSL_CERT_FILE", &system_file);
    std::env::remove_var("SSL_CERT_DIR");

    let system_server = system_ca.start_server().await;
    let extra_server = extra_ca.start_server().await;
    let clients = ClientCache::new();
    let send = |url: String, ca: Option<std::path::PathBuf>| {
        let clients = &clients;
        async move {
            let results = execute(plan(&url, ca), clients, CancellationToken::new()).await;
            results[0].result
        }
    };

    // Without cacertfile: the "system" CA only.
    assert_eq!(
        send(system_server.https_url("/mp/collect"), None).await,
        Ok(())
    );
    assert_eq!(
        send(extra_server.https_url("/mp/collect"), None).await,
        Err(SendError::TlsError)
    );
    // With cacertfile: both.
    let extra = Some(extra_file.clone());
    assert_eq!(
        send(extra_server.https_url("/mp/collect"), extra.clone()).await,
        Ok(())
    );
    assert_eq!(
        send(system_server.https_url("/mp/collect"), extra).await,
        Ok(())
    );
    assert_eq!(clients.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
