//! The allowlists: every name and value an event may carry, as plain data. A value off its
//! list is dropped, counted, or sent as [`CUSTOM`] or [`UNKNOWN_VERSION`], never as given.
//!
//! The names that differ between MongooseIM releases (the modules each release names, its
//! HTTP handlers) are in [`release`](super::release)'s table; their allowlist is the union
//! over the supported releases. How the lists are applied is in [`privacy`](super::privacy).

/// The events this engine sends.
pub const EVENT_NAMES: &[&str] = &[
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

/// The params of `host_count`, `domain_count`, `custom_module_count` and `outgoing_pool`.
pub const VALUE_PARAMS: &[&str] = &["value"];
/// The params of `cluster`.
pub const CLUSTER_PARAMS: &[&str] = &[
    "uptime",
    "version",
    "component",
    "node_number",
    "config_type",
];
/// The params of `tls_option`.
pub const TLS_OPTION_PARAMS: &[&str] = &["mode", "module"];
/// The params of `xmpp_stanza_count`.
pub const STANZA_COUNT_PARAMS: &[&str] = &["stanza_type", "total", "increment"];
// `module_with_opt` carries `module` and the module's options on [`MODULE_OPTIONS`];
// `http_api` and `transport_mechanism` one param per handler or transport, each `enabled`.

/// The module options that are sent: the option, the modules whose `config_metrics/1`
/// reports it, and its values. Any other option is dropped; a value off the list is sent as
/// [`CUSTOM`].
pub const MODULE_OPTIONS: &[(&str, &[&str], &[&str])] = &[
    ("backend", BACKEND_MODULES, BACKEND_VALUES),
    ("online_backend", &["mod_muc"], ONLINE_BACKEND_VALUES),
    (
        "api_version",
        &["mod_push_service_mongoosepush"],
        API_VERSION_VALUES,
    ),
];

/// Modules whose `config_metrics/1` reports `backend`.
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

/// Values of `backend`: every backend that the config specs of MongooseIM 6.1-6.8 accept
/// for a reporting module (`rdbms_async`: mod_inbox; `riak`: 6.1), and mod_event_pusher's
/// pusher names.
pub const BACKEND_VALUES: &[&str] = &[
    "mnesia",
    "rdbms",
    "cassandra",
    "elasticsearch",
    "ldap",
    "s3",
    "push",
    "http",
    "rabbit",
    "sns",
    "cets",
    "redis",
    "rdbms_async",
    "riak",
];
/// Values of mod_muc's `online_backend`.
pub const ONLINE_BACKEND_VALUES: &[&str] = &["mnesia", "cets"];
/// Values of mod_push_service_mongoosepush's `api_version`.
pub const API_VERSION_VALUES: &[&str] = &["v2", "v3"];

/// c2s listener protocols reported as transports (`transport_mechanism`).
pub const C2S_TRANSPORTS: &[&str] = &["tcp"];
/// TLS modes of c2s listeners (`tls_option`'s `mode`).
pub const TLS_MODES: &[&str] = &["tls", "starttls", "starttls_required"];
/// TLS implementations of c2s listeners (`tls_option`'s `module`).
pub const TLS_MODULES: &[&str] = &["just_tls", "fast_tls"];
/// Outgoing pool types (`outgoing_pool`'s `value`; `riak`: 6.1).
pub const POOL_TYPES: &[&str] = &[
    "cassandra",
    "elastic",
    "http",
    "ldap",
    "rabbit",
    "rdbms",
    "redis",
    "riak",
];
/// Stanza counters (`xmpp_stanza_count`'s `stanza_type`), in MongooseIM's order.
pub const STANZA_TYPES: &[&str] = &[
    "xmppMessageSent",
    "xmppMessageReceived",
    "xmppIqSent",
    "xmppIqReceived",
    "xmppPresenceSent",
    "xmppPresenceReceived",
];
/// Config types (`cluster`'s `config_type`).
pub const CONFIG_TYPES: &[&str] = &["toml", "cfg", "unknown_config_type"];

/// What an option value off its allowlist is sent as.
pub const CUSTOM: &str = "custom";
/// The value of every `http_api` and `transport_mechanism` param.
pub const ENABLED: &str = "enabled";
/// What a version that does not look like a release becomes.
pub const UNKNOWN_VERSION: &str = "unknown";
