//! Whatever the file holds, a preview either succeeds or names what is wrong: it never
//! panics, on any release line. Inputs are arbitrary text, and configurations assembled from
//! MongooseIM's sections and keys with values of every TOML type in every place.

use mongoose_system_metrics_preview::preview::{preview_text, PreviewError};
use mongoose_system_metrics_preview::release::Release;
use proptest::prelude::*;

const VERSIONS: [&str; 8] = [
    "6.1.0", "6.2.1", "6.3.3", "6.4.0", "6.5.0", "6.6.0", "6.7.0", "6.8.0",
];

/// Table headers a configuration may have, known or not.
const HEADERS: [&str; 24] = [
    "[general]",
    "[modules.mod_mam]",
    "[modules.mod_mam.pm]",
    "[modules.mod_mam.muc]",
    "[modules.mod_event_pusher.push]",
    "[modules.mod_event_pusher.sns]",
    "[modules.mod_muc]",
    "[modules.mod_muc_light.cache_affs]",
    "[modules.mod_global_distrib]",
    "[modules.mod_global_distrib.bounce]",
    "[modules.mod_pubsub_old]",
    "[modules.mod_blocking]",
    "[modules.mod_acme]",
    "[[host_config]]",
    "[host_config.modules.mod_vcard]",
    "[[listen.c2s]]",
    "[[listen.http]]",
    "[[listen.http.handlers.mod_bosh]]",
    "[[listen.service]]",
    "[outgoing_pools.rdbms.default]",
    "[outgoing_pools.riak.x]",
    "[instrumentation.exometer]",
    "[services.service_mongoose_system_metrics]",
    "[colours]",
];

/// Keys read somewhere, and others.
const KEYS: [&str; 22] = [
    "hosts",
    "host_types",
    "host",
    "host_type",
    "backend",
    "online_backend",
    "api_version",
    "user_prefs_store",
    "cache_users",
    "async_writer.enabled",
    "cache.module",
    "global_host",
    "plugins",
    "proto",
    "tls.mode",
    "tls.module",
    "report",
    "url",
    "region",
    "tracking_id.id",
    "tracking_id.secret",
    "modules",
];

/// Values of every TOML type.
const VALUES: [&str; 12] = [
    "\"localhost\"",
    "[\"localhost\", \"premium\"]",
    "[]",
    "[1, 2]",
    "5",
    "-1",
    "true",
    "1.5",
    "{}",
    "{id = \"G-1\", secret = \"s\"}",
    "\"pep\"",
    "1979-05-27T07:32:00Z",
];

/// A table: a header and keys each given once (so that most files are valid TOML).
fn table() -> impl Strategy<Value = String> {
    (
        prop::sample::select(HEADERS.to_vec()),
        prop::collection::btree_map(
            prop::sample::select(KEYS.to_vec()),
            prop::sample::select(VALUES.to_vec()),
            0..5,
        ),
    )
        .prop_map(|(header, keys)| {
            let body: Vec<String> = keys.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!("{header}\n{}", body.join("\n"))
        })
}

fn previews_or_names_the_problem(text: &str, version: &str) {
    let release = Release::parse(version).unwrap();
    match preview_text(text, Some("toml"), &release) {
        Ok(_) | Err(PreviewError::Config(_)) => {}
        Err(e) => panic!("{version}: {e}\n{text}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text(text in ".{0,400}", v in prop::sample::select(VERSIONS.to_vec())) {
        previews_or_names_the_problem(&text, v);
    }

    #[test]
    fn configurations_of_known_and_unknown_parts(
        tables in prop::collection::vec(table(), 0..12),
        v in prop::sample::select(VERSIONS.to_vec()),
    ) {
        previews_or_names_the_problem(&tables.join("\n"), v);
    }
}
