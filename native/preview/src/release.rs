//! The MongooseIM release a configuration is previewed for. The engine's table of release
//! lines ([`ReleaseLine`]) gives the reporting rules; this module adds what the release's
//! TOML configuration accepts (sections, listener and pool types, TLS defaults), read from
//! each release's `mongoose_config_spec.erl`.

use mongoose_system_metrics_engine::report::allowlists::POOL_TYPES;
use mongoose_system_metrics_engine::report::release::{ReleaseLine, StanzaCounters};

/// A MongooseIM release: the version a node running it reports, and its release line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The version, e.g. `6.3.3` (what the `cluster` event's `version` is made from).
    pub version: String,
    /// The release line whose rules apply (the engine's choice for this version).
    pub line: ReleaseLine,
    /// The line's minor number (`6.MINOR`).
    minor: u8,
    /// Whether the version names a supported release line (6.1 to 6.8) itself; otherwise
    /// the engine applies the rules of the nearest line.
    pub supported: bool,
}

/// A version that does not look like a MongooseIM release number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MongooseIM version (expected e.g. 6.8.0 or 6.4.0-12-gabc1234)")]
pub struct BadVersion(pub String);

impl Release {
    /// The latest supported release, `6.MINOR.0` of the engine's latest line.
    pub fn latest() -> Release {
        Release::parse(&format!("{}.0", ReleaseLine::LATEST.name()))
            .expect("the engine's latest line is a version")
    }

    /// A release from its version: `MAJOR.MINOR[.PATCH]`, optionally followed by `-` and a
    /// suffix of letters, digits, dots and dashes (a git-describe suffix).
    pub fn parse(version: &str) -> Result<Release, BadVersion> {
        let bad = || BadVersion(version.to_string());
        let (number, suffix) = version.split_once('-').unwrap_or((version, ""));
        let parts: Vec<&str> = number.split('.').collect();
        let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(numeric) {
            return Err(bad());
        }
        if version.contains('-')
            && (suffix.is_empty()
                || !suffix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        {
            return Err(bad());
        }
        let line = ReleaseLine::of_version(Some(version));
        let minor = line_minor(line);
        let supported = parts[0] == "6" && parts[1].parse::<u32>().ok() == Some(u32::from(minor));
        Ok(Release {
            version: version.to_string(),
            line,
            minor,
            supported,
        })
    }

    /// The line's minor number: 1 for 6.1, 8 for 6.8.
    pub fn minor(&self) -> u8 {
        self.minor
    }

    /// Top-level sections of the release's TOML configuration.
    pub fn known_sections(&self) -> Vec<&'static str> {
        let mut sections = vec![
            "general",
            "listen",
            "auth",
            "outgoing_pools",
            "services",
            "modules",
            "shaper",
            "acl",
            "access",
            "s2s",
            "host_config",
        ];
        if self.minor >= 2 {
            sections.push("internal_databases");
        }
        if self.minor >= 3 {
            sections.push("instrumentation");
        }
        sections
    }

    /// Listener types of `[[listen.TYPE]]`: `service` became `component` in 6.4.
    pub fn listener_types(&self) -> &'static [&'static str] {
        if self.minor <= 3 {
            &["c2s", "s2s", "service", "http"]
        } else {
            &["c2s", "s2s", "component", "http"]
        }
    }

    /// Outgoing pool types of `[outgoing_pools.TYPE.TAG]`: those the engine may name
    /// (MongooseIM's, 6.1-6.8), `riak` in 6.1 only.
    pub fn pool_types(&self) -> Vec<&'static str> {
        POOL_TYPES
            .iter()
            .copied()
            .filter(|t| self.minor == 1 || *t != "riak")
            .collect()
    }

    /// The TLS module a c2s listener's `tls` section defaults to: `fast_tls` up to 6.2,
    /// `just_tls` in 6.3; none from 6.4, whose listeners have no TLS module (and so report
    /// no TLS option).
    pub fn c2s_tls_module_default(&self) -> Option<&'static str> {
        match self.minor {
            1 | 2 => Some("fast_tls"),
            3 => Some("just_tls"),
            _ => None,
        }
    }

    /// Whether a node of this release reads its stanza counters, given the instrumentation
    /// handlers configured (`[instrumentation.exometer]`, `[instrumentation.prometheus]`).
    pub fn reads_stanza_counts(&self, instrumentation: &[String]) -> bool {
        let has = |h: &str| instrumentation.iter().any(|i| i == h);
        match self.line.stanza_counters() {
            StanzaCounters::ExometerByType | StanzaCounters::ExometerC2s => true,
            StanzaCounters::ExometerWhenConfigured => has("exometer"),
            StanzaCounters::Instrumentation => has("prometheus") || has("exometer"),
        }
    }
}

/// The minor number of a line named `6.MINOR`.
fn line_minor(line: ReleaseLine) -> u8 {
    line.name()
        .strip_prefix("6.")
        .and_then(|m| m.parse().ok())
        .expect("release lines are named 6.MINOR")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_give_lines_and_support() {
        let cases = [
            ("6.3.3", 3, true),
            ("6.8.0", 8, true),
            ("6.1", 1, true),
            ("6.4.0-12-gabc1234", 4, true),
            ("6.9.0", 8, false),
            ("7.0.0", 8, false),
            ("6.0.0", 1, false),
        ];
        for (v, minor, supported) in cases {
            let r = Release::parse(v).unwrap();
            assert_eq!((r.minor(), r.supported), (minor, supported), "{v}");
        }
        assert_eq!(Release::latest().version, "6.8.0");
    }

    #[test]
    fn non_versions_are_refused() {
        for v in [
            "",
            "6",
            "six.one",
            "6.x.0",
            "6.1.0-",
            "6.1.0-a b",
            "6..1",
            "6.1.0.1",
        ] {
            assert_eq!(Release::parse(v), Err(BadVersion(v.to_string())), "{v:?}");
        }
    }

    #[test]
    fn toml_differences_between_lines() {
        let r61 = Release::parse("6.1.0").unwrap();
        let r63 = Release::parse("6.3.3").unwrap();
        let r68 = Release::parse("6.8.0").unwrap();
        assert!(r61.pool_types().contains(&"riak"));
        assert!(!r68.pool_types().contains(&"riak"));
        assert!(r63.listener_types().contains(&"service"));
        assert!(r68.listener_types().contains(&"component"));
        assert!(!r61.known_sections().contains(&"instrumentation"));
        assert_eq!(r63.c2s_tls_module_default(), Some("just_tls"));
        assert_eq!(r68.c2s_tls_module_default(), None);
        assert!(r63.reads_stanza_counts(&[]));
        assert!(!r68.reads_stanza_counts(&["log".to_string()]));
        assert!(r68.reads_stanza_counts(&["prometheus".to_string()]));
        let r64 = Release::parse("6.4.0").unwrap();
        assert!(!r64.reads_stanza_counts(&["prometheus".to_string()]));
        assert!(r64.reads_stanza_counts(&["exometer".to_string()]));
    }
}
