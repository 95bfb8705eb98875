//! `[services.service_mongoose_system_metrics]`: the service's own section, checked as the
//! service's `config_spec/0` (`mongoose_system_metrics_options`) checks it, and what the
//! preview needs of it: whether reporting is on, the configured tracking id, the endpoint and
//! the mode. The secret is kept in the engine's [`Secret`], which never prints it.

use mongoose_system_metrics_engine::wire::secret::Secret;
use toml::{Table, Value};

use crate::mim_config::{invalid, table, text, ConfigError};

/// The section's name under `[services]`.
pub const SECTION: &str = "service_mongoose_system_metrics";

/// GA4's EU endpoint, chosen by `region = "eu"` (as `mongoose_system_metrics_options`
/// chooses it; the preview suite checks that both agree).
pub const EU_URL: &str = "https://region1.google-analytics.com/mp/collect";

/// The section, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSection {
    /// `report`: unset, `true` or `false`.
    pub report: Option<bool>,
    /// `tracking_id.id` and `tracking_id.secret`.
    pub tracking_id: Option<(String, Secret)>,
    /// `url`.
    pub url: Option<String>,
    /// `region = "eu"`.
    pub region_eu: bool,
    /// `validate = true`: every report goes to GA4's validation server.
    pub validate: bool,
    /// `initial_report`, ms (default 300,000).
    pub initial_report: i64,
    /// `periodic_report`, ms (default 10,800,000).
    pub periodic_report: i64,
    /// `cluster_report = true`: one node of the cluster reports (default `false`: each).
    pub cluster_report: bool,
}

/// The option's value type and check, as in `config_spec/0`.
enum Check {
    NonNegative,
    Positive,
    Boolean,
    NonEmptyText,
    Region,
}

/// Every option of the section.
const OPTIONS: [(&str, Check); 10] = [
    ("initial_report", Check::NonNegative),
    ("periodic_report", Check::NonNegative),
    ("report", Check::Boolean),
    ("url", Check::NonEmptyText),
    ("region", Check::Region),
    ("validate", Check::Boolean),
    ("timeout", Check::Positive),
    ("max_retries", Check::NonNegative),
    ("cacertfile", Check::NonEmptyText),
    ("cluster_report", Check::Boolean),
];

impl ServiceSection {
    /// Reads and checks the section; an unknown option or a value of the wrong type is an
    /// error (MongooseIM would not start with it). Errors never quote a value.
    pub fn read(value: &Value) -> Result<ServiceSection, ConfigError> {
        let path = format!("services.{SECTION}");
        let section = table(value, &path)?;
        for (name, v) in section {
            let key = format!("{path}.{name}");
            if name == "tracking_id" {
                continue;
            }
            let Some((_, check)) = OPTIONS.iter().find(|(n, _)| n == name) else {
                return Err(invalid(&key, "unknown option"));
            };
            checked(v, check, &key)?;
        }
        let tracking_id = match section.get("tracking_id") {
            Some(v) => Some(tracking_id(v, &format!("{path}.tracking_id"))?),
            None => None,
        };
        let int = |k: &str, default: i64| {
            section
                .get(k)
                .and_then(Value::as_integer)
                .unwrap_or(default)
        };
        Ok(ServiceSection {
            report: section.get("report").and_then(Value::as_bool),
            tracking_id,
            url: section
                .get("url")
                .and_then(Value::as_str)
                .map(str::to_string),
            region_eu: section.get("region").and_then(Value::as_str) == Some("eu"),
            validate: section.get("validate").and_then(Value::as_bool) == Some(true),
            initial_report: int("initial_report", 300_000),
            periodic_report: int("periodic_report", 10_800_000),
            cluster_report: section.get("cluster_report").and_then(Value::as_bool) == Some(true),
        })
    }

    /// The endpoint: `url`, else the EU one for `region = "eu"`, else `None` (the engine's
    /// default, GA4's global endpoint). MongooseIM's `google_analytics_url`, which comes
    /// before the region, cannot be set in the TOML file.
    pub fn endpoint(&self) -> Option<&str> {
        match &self.url {
            Some(url) => Some(url),
            None if self.region_eu => Some(EU_URL),
            None => None,
        }
    }
}

fn checked(v: &Value, check: &Check, key: &str) -> Result<(), ConfigError> {
    let ok = match check {
        Check::NonNegative => v.as_integer().is_some_and(|n| n >= 0),
        Check::Positive => v.as_integer().is_some_and(|n| n > 0),
        Check::Boolean => v.is_bool(),
        Check::NonEmptyText => v.as_str().is_some_and(|s| !s.is_empty()),
        Check::Region => matches!(v.as_str(), Some("global" | "eu")),
    };
    if ok {
        return Ok(());
    }
    Err(invalid(
        key,
        match check {
            Check::NonNegative => "expected a non-negative integer",
            Check::Positive => "expected a positive integer",
            Check::Boolean => "expected true or false",
            Check::NonEmptyText => "expected a non-empty string",
            Check::Region => "expected \"global\" or \"eu\"",
        },
    ))
}

fn tracking_id(v: &Value, key: &str) -> Result<(String, Secret), ConfigError> {
    let t: &Table = table(v, key)?;
    if let Some(other) = t.keys().find(|k| *k != "id" && *k != "secret") {
        return Err(invalid(&format!("{key}.{other}"), "unknown option"));
    }
    let field = |name: &str| -> Result<&str, ConfigError> {
        let k = format!("{key}.{name}");
        let v = t
            .get(name)
            .ok_or_else(|| invalid(&k, "missing (id and secret are both required)"))?;
        let s = text(v, &k).map_err(|_| invalid(&k, "expected a non-empty string"))?;
        if s.is_empty() {
            return Err(invalid(&k, "expected a non-empty string"));
        }
        Ok(s)
    };
    Ok((field("id")?.to_string(), Secret::new(field("secret")?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mim_config::parse_toml;

    fn read(text: &str) -> Result<ServiceSection, ConfigError> {
        ServiceSection::read(&Value::Table(parse_toml(text).unwrap()))
    }

    #[test]
    fn defaults_and_endpoint() {
        let s = read("").unwrap();
        assert_eq!(
            (s.report, s.initial_report, s.periodic_report),
            (None, 300_000, 10_800_000)
        );
        assert_eq!(s.endpoint(), None);
        assert!(!s.cluster_report);
        assert!(read("cluster_report = true").unwrap().cluster_report);
        assert_eq!(read("region = \"eu\"").unwrap().endpoint(), Some(EU_URL));
        let s = read("region = \"eu\"\nurl = \"http://127.0.0.1:1/x\"").unwrap();
        assert_eq!(s.endpoint(), Some("http://127.0.0.1:1/x"));
    }

    #[test]
    fn errors_name_the_key_never_the_secret() {
        let cases = [
            (
                "report = \"no\"",
                "services.service_mongoose_system_metrics.report",
            ),
            (
                "periodic_report = -1",
                "services.service_mongoose_system_metrics.periodic_report",
            ),
            (
                "region = \"mars\"",
                "services.service_mongoose_system_metrics.region",
            ),
            (
                "colour = 1",
                "services.service_mongoose_system_metrics.colour",
            ),
            (
                "tracking_id.id = \"G-1\"",
                "services.service_mongoose_system_metrics.tracking_id.secret",
            ),
            (
                "tracking_id.secret = \"hunter2\"",
                "services.service_mongoose_system_metrics.tracking_id.id",
            ),
        ];
        for (text, key) in cases {
            let e = read(text).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key: k, .. } if k == key),
                "{text}: {e}"
            );
            assert!(!e.to_string().contains("hunter2"));
        }
        let s = read("tracking_id = {id = \"G-1\", secret = \"hunter2\"}").unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
