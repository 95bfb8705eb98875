//! What differs between MongooseIM releases, in one table keyed by the release line the node
//! runs (`6.MINOR`, read from its version). Supported: 6.1 to 6.8, every release line since
//! MongooseIM moved to GA4. Each rule here is checked against MongooseIM's own sources of
//! every supported release by the Common Test suites (`mongooseim_diff_SUITE`).

/// A MongooseIM release line, `6.minor`: the key of every per-release rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReleaseLine {
    minor: u8,
}

/// How MongooseIM's collector reads the XMPP stanza counters in a release line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StanzaCounters {
    /// 6.1-6.2: exometer entries `['_', StanzaType]` (e.g. `xmppMessageSent`), always read.
    ExometerByType,
    /// 6.3: exometer entries `['_', c2s_element_in | c2s_element_out, message_count | ...]`,
    /// always read.
    ExometerC2s,
    /// 6.4-6.5: exometer entries `['_', xmpp_element_in | xmpp_element_out, '_', ...]`, read
    /// only when the `instrumentation.exometer` option is set.
    ExometerWhenConfigured,
    /// 6.6+: prometheus counters (`xmpp_element_in_message_count`, ...) when the
    /// `instrumentation.prometheus` option is set, else the 6.4 exometer entries when
    /// `instrumentation.exometer` is, else none.
    Instrumentation,
}

impl StanzaCounters {
    /// The name the Erlang collector matches on.
    pub fn as_str(self) -> &'static str {
        match self {
            StanzaCounters::ExometerByType => "exometer_by_type",
            StanzaCounters::ExometerC2s => "exometer_c2s",
            StanzaCounters::ExometerWhenConfigured => "exometer_when_configured",
            StanzaCounters::Instrumentation => "instrumentation",
        }
    }
}

/// Modules that declare `-behaviour(mongoose_module_metrics)` in MongooseIM's sources, with
/// the first and last release line (minor number) that has them. Only what the node's own
/// release reports is named; any other module is counted as custom.
const REPORTED_MODULES: [(&str, u8, u8); 54] = [
    ("mod_adhoc", 1, 8),
    ("mod_amp", 1, 8),
    ("mod_auth_token", 1, 8),
    ("mod_blocking", 1, 8),
    ("mod_bosh", 1, 5),
    ("mod_broadcast", 8, 8),
    ("mod_caps", 1, 6),
    ("mod_carboncopy", 1, 8),
    ("mod_csi", 1, 8),
    ("mod_disco", 1, 8),
    ("mod_event_pusher", 1, 8),
    ("mod_event_pusher_http", 1, 8),
    ("mod_event_pusher_push", 1, 8),
    ("mod_event_pusher_rabbit", 1, 8),
    ("mod_global_distrib", 1, 8),
    ("mod_global_distrib_bounce", 1, 8),
    ("mod_global_distrib_disco", 1, 8),
    ("mod_global_distrib_hosts_refresher", 1, 8),
    ("mod_global_distrib_mapping", 1, 8),
    ("mod_global_distrib_receiver", 1, 8),
    ("mod_global_distrib_sender", 1, 8),
    ("mod_http_upload", 1, 8),
    ("mod_inbox", 1, 8),
    ("mod_jingle_sip", 1, 6),
    ("mod_keystore", 1, 8),
    ("mod_last", 1, 8),
    ("mod_mam", 1, 8),
    ("mod_mam_cache_user", 1, 8),
    ("mod_mam_cassandra_arch", 1, 8),
    ("mod_mam_elasticsearch_arch", 1, 8),
    ("mod_mam_muc_rdbms_arch", 1, 8),
    ("mod_mam_pm", 1, 8),
    ("mod_mam_rdbms_arch", 1, 8),
    ("mod_mam_riak_timed_arch_yz", 1, 1),
    ("mod_muc", 1, 8),
    ("mod_muc_light", 1, 8),
    ("mod_muc_log", 1, 7),
    ("mod_offline", 1, 8),
    ("mod_offline_chatmarkers", 1, 8),
    ("mod_offline_stub", 1, 8),
    ("mod_privacy", 1, 8),
    ("mod_private", 1, 8),
    ("mod_pubsub", 1, 7),
    ("mod_pubsub_old", 8, 8),
    ("mod_push_service_mongoosepush", 1, 8),
    ("mod_register", 1, 8),
    ("mod_roster", 1, 8),
    ("mod_shared_roster_ldap", 1, 8),
    ("mod_sic", 1, 8),
    ("mod_stream_management", 1, 8),
    ("mod_time", 1, 8),
    ("mod_vcard", 1, 8),
    ("mod_version", 1, 8),
    ("service_translations", 3, 7),
];

/// Every module name any supported release reports: the privacy allowlist of module names.
pub fn all_reported_modules() -> impl Iterator<Item = &'static str> {
    REPORTED_MODULES.iter().map(|(m, _, _)| *m)
}

/// HTTP handlers named in `http_api`, up to 6.5 and from 6.6.
const HTTP_API_UP_TO_6_5: [&str; 4] = [
    "mongoose_client_api",
    "mongoose_admin_api",
    "mod_bosh",
    "mod_websockets",
];
const HTTP_API_FROM_6_6: [&str; 3] = [
    "mongoose_bosh_handler",
    "mongoose_graphql_handler",
    "mongoose_websocket_handler",
];
/// HTTP handlers that are XMPP transports (`transport_mechanism`), up to 6.5 and from 6.6.
const HTTP_TRANSPORTS_UP_TO_6_5: [&str; 2] = ["mod_bosh", "mod_websockets"];
const HTTP_TRANSPORTS_FROM_6_6: [&str; 2] = ["mongoose_bosh_handler", "mongoose_websocket_handler"];

/// Every HTTP handler name any supported release reports in `http_api`.
pub fn all_http_api_handlers() -> impl Iterator<Item = &'static str> {
    HTTP_API_UP_TO_6_5.iter().chain(&HTTP_API_FROM_6_6).copied()
}

/// Every HTTP transport name any supported release reports in `transport_mechanism`.
pub fn all_http_transports() -> impl Iterator<Item = &'static str> {
    HTTP_TRANSPORTS_UP_TO_6_5
        .iter()
        .chain(&HTTP_TRANSPORTS_FROM_6_6)
        .copied()
}

impl ReleaseLine {
    /// The oldest supported line, 6.1.
    pub const OLDEST: ReleaseLine = ReleaseLine { minor: 1 };
    /// The latest supported line, 6.8.
    pub const LATEST: ReleaseLine = ReleaseLine { minor: 8 };

    /// The line of a node's version (`6.4.0`, `6.4.0-12-gabc1234`, ...). A version that names
    /// no 6.x release (absent, unparsable, 7.0) gets the latest line's rules; 6.0 the oldest.
    pub fn of_version(version: Option<&str>) -> ReleaseLine {
        let Some(v) = version else {
            return Self::LATEST;
        };
        let mut parts = v.splitn(3, |c: char| !c.is_ascii_digit());
        let major = parts.next().and_then(|p| p.parse::<u32>().ok());
        let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
        match (major, minor) {
            (Some(6), Some(minor)) => ReleaseLine {
                minor: minor.clamp(1, 8) as u8,
            },
            _ => Self::LATEST,
        }
    }

    /// `6.4`.
    pub fn name(self) -> String {
        format!("6.{}", self.minor)
    }

    /// `module` as this line's table spells it, when MongooseIM of this line names it in its
    /// reports.
    pub fn reported_module(self, module: &str) -> Option<&'static str> {
        REPORTED_MODULES
            .iter()
            .find(|(m, first, last)| *m == module && (*first..=*last).contains(&self.minor))
            .map(|(m, _, _)| *m)
    }

    /// The HTTP handlers this line names in `http_api`.
    pub fn http_api_handlers(self) -> &'static [&'static str] {
        if self.minor <= 5 {
            &HTTP_API_UP_TO_6_5
        } else {
            &HTTP_API_FROM_6_6
        }
    }

    /// The HTTP handlers this line names in `transport_mechanism`.
    pub fn http_transports(self) -> &'static [&'static str] {
        if self.minor <= 5 {
            &HTTP_TRANSPORTS_UP_TO_6_5
        } else {
            &HTTP_TRANSPORTS_FROM_6_6
        }
    }

    /// How this line's collector reads the stanza counters.
    pub fn stanza_counters(self) -> StanzaCounters {
        match self.minor {
            1 | 2 => StanzaCounters::ExometerByType,
            3 => StanzaCounters::ExometerC2s,
            4 | 5 => StanzaCounters::ExometerWhenConfigured,
            _ => StanzaCounters::Instrumentation,
        }
    }

    /// The module that knows the connected XMPP components: `ejabberd_router` in 6.1,
    /// `mongoose_component` from 6.2.
    pub fn components_module(self) -> &'static str {
        if self.minor == 1 {
            "ejabberd_router"
        } else {
            "mongoose_component"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_release_lines() {
        let cases = [
            (Some("6.1.0"), "6.1"),
            (Some("6.2.1-12-gabc1234"), "6.2"),
            (Some("6.4"), "6.4"),
            (Some("6.8.0"), "6.8"),
            (Some("6.9.1"), "6.8"),
            (Some("6.0.0"), "6.1"),
            (Some("7.0.0"), "6.8"),
            (Some("unknown"), "6.8"),
            (Some(""), "6.8"),
            (None, "6.8"),
        ];
        for (v, want) in cases {
            assert_eq!(ReleaseLine::of_version(v).name(), want, "version {v:?}");
        }
    }

    #[test]
    fn module_sets_have_the_sizes_of_the_sources() {
        // Counted with grep in each release's src/ (service_translations included).
        let sizes = [
            (1, 51),
            (2, 50),
            (3, 51),
            (4, 51),
            (5, 51),
            (6, 50),
            (7, 48),
            (8, 47),
        ];
        for (minor, want) in sizes {
            let line = ReleaseLine { minor };
            let n = all_reported_modules()
                .filter(|m| line.reported_module(m).is_some())
                .count();
            assert_eq!(n, want, "6.{minor}");
        }
    }
}
