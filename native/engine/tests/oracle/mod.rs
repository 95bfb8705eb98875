//! The README's "What is sent" table, written out again by hand as literal lists: the
//! oracle the tests hold the engine's own allowlists and send-time check against. Nothing
//! here is read from the engine.

#![allow(dead_code)]

/// A param value as an event carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Str(String),
    Int(i64),
}

/// The events that may be sent.
pub const EVENTS: &[&str] = &[
    "host_count",
    "domain_count",
    "module_with_opt",
    "custom_module_count",
    "cluster",
    "http_api",
    "transport_mechanism",
    "tls_option",
    "outgoing_pool",
    "xmpp_stanza_count",
];

/// Modules named in reports: the union over MongooseIM 6.1-6.8.
pub const MODULES: &[&str] = &[
    "mod_adhoc",
    "mod_amp",
    "mod_auth_token",
    "mod_blocking",
    "mod_bosh",
    "mod_broadcast",
    "mod_caps",
    "mod_carboncopy",
    "mod_csi",
    "mod_disco",
    "mod_event_pusher",
    "mod_event_pusher_http",
    "mod_event_pusher_push",
    "mod_event_pusher_rabbit",
    "mod_global_distrib",
    "mod_global_distrib_bounce",
    "mod_global_distrib_disco",
    "mod_global_distrib_hosts_refresher",
    "mod_global_distrib_mapping",
    "mod_global_distrib_receiver",
    "mod_global_distrib_sender",
    "mod_http_upload",
    "mod_inbox",
    "mod_jingle_sip",
    "mod_keystore",
    "mod_last",
    "mod_mam",
    "mod_mam_cache_user",
    "mod_mam_cassandra_arch",
    "mod_mam_elasticsearch_arch",
    "mod_mam_muc_rdbms_arch",
    "mod_mam_pm",
    "mod_mam_rdbms_arch",
    "mod_mam_riak_timed_arch_yz",
    "mod_muc",
    "mod_muc_light",
    "mod_muc_log",
    "mod_offline",
    "mod_offline_chatmarkers",
    "mod_offline_stub",
    "mod_privacy",
    "mod_private",
    "mod_pubsub",
    "mod_pubsub_old",
    "mod_push_service_mongoosepush",
    "mod_register",
    "mod_roster",
    "mod_shared_roster_ldap",
    "mod_sic",
    "mod_stream_management",
    "mod_time",
    "mod_vcard",
    "mod_version",
    "service_translations",
];

/// Modules that report a `backend`.
pub const BACKEND_MODULES: &[&str] = &[
    "mod_auth_token",
    "mod_bosh",
    "mod_event_pusher",
    "mod_event_pusher_push",
    "mod_http_upload",
    "mod_inbox",
    "mod_last",
    "mod_mam",
    "mod_muc",
    "mod_muc_light",
    "mod_offline",
    "mod_privacy",
    "mod_private",
    "mod_pubsub",
    "mod_pubsub_old",
    "mod_roster",
    "mod_vcard",
];

/// `backend` values, and `custom` for any other.
pub const BACKENDS: &[&str] = &[
    "mnesia",
    "rdbms",
    "rdbms_async",
    "cassandra",
    "elasticsearch",
    "ldap",
    "riak",
    "s3",
    "push",
    "http",
    "rabbit",
    "sns",
    "cets",
    "redis",
    "custom",
];
pub const ONLINE_BACKENDS: &[&str] = &["mnesia", "cets", "custom"];
pub const API_VERSIONS: &[&str] = &["v2", "v3", "custom"];
/// HTTP handler names of the releases (6.1-6.5, then 6.6+).
pub const HTTP_API: &[&str] = &[
    "mod_bosh",
    "mod_websockets",
    "mongoose_client_api",
    "mongoose_admin_api",
    "mongoose_bosh_handler",
    "mongoose_graphql_handler",
    "mongoose_websocket_handler",
];
pub const TRANSPORTS: &[&str] = &[
    "mod_bosh",
    "mod_websockets",
    "mongoose_bosh_handler",
    "mongoose_websocket_handler",
    "tcp",
];
pub const TLS_MODES: &[&str] = &["tls", "starttls", "starttls_required"];
pub const TLS_MODULES: &[&str] = &["just_tls", "fast_tls"];
pub const POOLS: &[&str] = &[
    "cassandra",
    "elastic",
    "http",
    "ldap",
    "rabbit",
    "rdbms",
    "redis",
    "riak",
];
pub const STANZA_TYPES: &[&str] = &[
    "xmppMessageSent",
    "xmppMessageReceived",
    "xmppIqSent",
    "xmppIqReceived",
    "xmppPresenceSent",
    "xmppPresenceReceived",
];
pub const CONFIG_TYPES: &[&str] = &["toml", "cfg", "unknown_config_type"];

/// Versions as sent (the release number, a git-describe suffix, or `unknown`) and not.
pub const GOOD_VERSIONS: &[&str] = &["6.4.0", "6.4", "6.4.0-12-gabc1234", "10.0.1", "unknown"];
pub const BAD_VERSIONS: &[&str] = &[
    "6.4.0-acme-prod",
    "6.4.0-12-gabc1234acme",
    "acme",
    "6",
    "",
    "6.4.0-12-gABC1234",
];
/// Uptimes as MongooseIM writes them (`DDDD-HH:MM:SS`) and not.
pub const GOOD_UPTIMES: &[&str] = &["0000-00:00:00", "0012-03:04:05", "12345-23:59:59"];
pub const BAD_UPTIMES: &[&str] = &["1-00:00:00", "0000-00:00", "00:00:00", "0000-0a:00:00"];

/// `DDDD-HH:MM:SS`: days (at least four digits), hours, minutes and seconds.
pub fn uptime_form(s: &str) -> bool {
    let Some((days, hms)) = s.split_once('-') else {
        return false;
    };
    let two = |t: &str, max: u32| t.len() == 2 && t.parse::<u32>().is_ok_and(|n| n <= max);
    let parts: Vec<&str> = hms.split(':').collect();
    days.len() >= 4
        && days.bytes().all(|c| c.is_ascii_digit())
        && parts.len() == 3
        && two(parts[0], 23)
        && two(parts[1], 59)
        && two(parts[2], 59)
}

/// `unknown`, or `MAJOR.MINOR[.PATCH]` with an optional git-describe suffix `-N-gHEX`
/// (7 to 40 lowercase hex digits).
pub fn version_form(s: &str) -> bool {
    let number = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    let (release, suffix) = match s.split_once('-') {
        Some((r, rest)) => (r, Some(rest)),
        None => (s, None),
    };
    let dots: Vec<&str> = release.split('.').collect();
    let release_ok = (dots.len() == 2 || dots.len() == 3) && dots.iter().all(|d| number(d));
    let suffix_ok = match suffix {
        None => true,
        Some(rest) => match rest.split_once("-g") {
            Some((n, hex)) => {
                number(n)
                    && (7..=40).contains(&hex.len())
                    && hex
                        .bytes()
                        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            }
            None => false,
        },
    };
    s == "unknown" || (release_ok && suffix_ok)
}

fn str_in(v: Option<&Val>, list: &[&str]) -> bool {
    matches!(v, Some(Val::Str(s)) if list.contains(&s.as_str()))
}

fn int_at_least(v: Option<&Val>, min: i64) -> bool {
    matches!(v, Some(Val::Int(n)) if *n >= min)
}

/// Whether the README allows an event with this name and these params (each name once).
pub fn readme_allows(name: &str, params: &[(String, Val)]) -> bool {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let only = |keys: &[&str]| params.iter().all(|(k, _)| keys.contains(&k.as_str()));
    let all_enabled = |names: &[&str]| {
        params
            .iter()
            .all(|(k, v)| names.contains(&k.as_str()) && *v == Val::Str("enabled".into()))
    };
    match name {
        "host_count" | "domain_count" | "custom_module_count" => {
            only(&["value"]) && int_at_least(get("value"), 0)
        }
        "module_with_opt" => {
            let Some(Val::Str(module)) = get("module") else {
                return false;
            };
            MODULES.contains(&module.as_str())
                && params.iter().all(|(k, v)| match k.as_str() {
                    "module" => true,
                    "backend" => {
                        BACKEND_MODULES.contains(&module.as_str()) && str_in(Some(v), BACKENDS)
                    }
                    "online_backend" => module == "mod_muc" && str_in(Some(v), ONLINE_BACKENDS),
                    "api_version" => {
                        module == "mod_push_service_mongoosepush" && str_in(Some(v), API_VERSIONS)
                    }
                    _ => false,
                })
        }
        "cluster" => params.iter().all(|(k, v)| match (k.as_str(), v) {
            ("uptime", Val::Str(u)) => uptime_form(u),
            ("version", Val::Str(v)) => version_form(v),
            ("uptime" | "version", Val::Int(_)) => false,
            ("component", v) => int_at_least(Some(v), 0),
            ("node_number", v) => int_at_least(Some(v), 1),
            ("config_type", v) => str_in(Some(v), CONFIG_TYPES),
            _ => false,
        }),
        "http_api" => all_enabled(HTTP_API),
        "transport_mechanism" => all_enabled(TRANSPORTS),
        "tls_option" => {
            only(&["mode", "module"])
                && str_in(get("mode"), TLS_MODES)
                && str_in(get("module"), TLS_MODULES)
        }
        "outgoing_pool" => only(&["value"]) && str_in(get("value"), POOLS),
        "xmpp_stanza_count" => {
            only(&["stanza_type", "total", "increment"])
                && str_in(get("stanza_type"), STANZA_TYPES)
                && int_at_least(get("total"), 0)
                && int_at_least(get("increment"), 0)
        }
        _ => false,
    }
}
