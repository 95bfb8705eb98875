//! A MongooseIM TOML configuration, read into the parts a node's system metrics depend on:
//! host types (`general.hosts`, `general.host_types`), modules (`[modules.mod_x]`, replaced
//! per host type by `[[host_config]]`'s `modules`), listeners (`[[listen.c2s]]`,
//! `[[listen.http]]` and their handlers), outgoing pools, instrumentation handlers, and the
//! service's own section. What the release does not know (a section, a listener or pool
//! type) is a warning and is left out, as it would never reach the node's collector; a
//! value of the wrong shape where one is read is an error naming its key.

use std::collections::BTreeMap;

use toml::{Table, Value};

use crate::printable::printable;
use crate::release::Release;
use crate::service::{self, ServiceSection};
pub use crate::toml_text::{invalid, parse_toml, ConfigError, Position};

/// Modules by name, each with its TOML options.
pub type ModuleMap = BTreeMap<String, Table>;

/// The parts of a configuration that the system metrics depend on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MimConfig {
    /// `general.hosts`: static domains, each its own host type.
    pub hosts: Vec<String>,
    /// `general.host_types`: host types whose domains are added at run time.
    pub host_types: Vec<String>,
    /// `[modules]`: the modules of every host type without a `host_config` of its own.
    pub modules: ModuleMap,
    /// `[[host_config]]` entries, in the file's order.
    pub host_config: Vec<HostConfig>,
    /// Listeners of known types, in MongooseIM's order (by type, then as written).
    pub listeners: Vec<Listener>,
    /// Outgoing pools of known types, in MongooseIM's order (by type, then tag).
    pub pools: Vec<Pool>,
    /// Instrumentation handlers configured (`[instrumentation.NAME]`).
    pub instrumentation: Vec<String>,
    /// `[services.service_mongoose_system_metrics]`, when present.
    pub service: Option<ServiceSection>,
    /// What was left out, one sentence each.
    pub warnings: Vec<String>,
}

/// One `[[host_config]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct HostConfig {
    /// Its `host_type`, else its `host`.
    pub host_type: String,
    /// Its `modules`, which replace the top-level ones for that host type.
    pub modules: Option<ModuleMap>,
}

/// A listener.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    /// `c2s`, `http`, `s2s`, ...
    pub kind: String,
    /// `proto` (default `tcp`).
    pub proto: String,
    /// The `tls` section, when written.
    pub tls: Option<Table>,
    /// HTTP handler modules (`[[listen.http.handlers.NAME]]`), each once per entry.
    pub handlers: Vec<String>,
}

/// An outgoing pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// `rdbms`, `http`, ...
    pub kind: String,
    /// Its tag (`default`, ...).
    pub tag: String,
}

impl MimConfig {
    /// Reads a parsed configuration as `release` would.
    pub fn read(root: &Table, release: &Release) -> Result<MimConfig, ConfigError> {
        let mut cfg = MimConfig::default();
        let known = release.known_sections();
        for (name, value) in root {
            if !known.contains(&name.as_str()) {
                cfg.warnings.push(format!(
                    "unknown section [{}]: MongooseIM {} has no such section; left out",
                    printable(name),
                    release.line.name()
                ));
                continue;
            }
            match name.as_str() {
                "general" => cfg.read_general(table(value, name)?)?,
                "modules" => cfg.modules = modules(value, name)?,
                "host_config" => cfg.read_host_config(value)?,
                "listen" => cfg.read_listen(table(value, name)?, release)?,
                "outgoing_pools" => cfg.read_pools(table(value, name)?, release)?,
                "instrumentation" => {
                    cfg.instrumentation = table(value, name)?
                        .iter()
                        .filter(|(_, v)| v.is_table())
                        .map(|(k, _)| k.clone())
                        .collect()
                }
                "services" => {
                    let services = table(value, name)?;
                    if let Some(section) = services.get(service::SECTION) {
                        cfg.service = Some(ServiceSection::read(section)?);
                    }
                }
                _ => {}
            }
        }
        Ok(cfg)
    }

    fn read_general(&mut self, general: &Table) -> Result<(), ConfigError> {
        if let Some(v) = general.get("hosts") {
            self.hosts = strings(v, "general.hosts")?;
        }
        if let Some(v) = general.get("host_types") {
            self.host_types = strings(v, "general.host_types")?;
        }
        Ok(())
    }

    fn read_host_config(&mut self, value: &Value) -> Result<(), ConfigError> {
        const ITEMS: [&str; 9] = [
            "host",
            "host_type",
            "general",
            "auth",
            "modules",
            "outgoing_pools",
            "acl",
            "access",
            "s2s",
        ];
        for (i, item) in tables(value, "host_config")?.into_iter().enumerate() {
            let key = format!("host_config[{}]", i + 1);
            let name = match (item.get("host_type"), item.get("host")) {
                (Some(v), _) => text(v, &format!("{key}.host_type"))?,
                (None, Some(v)) => text(v, &format!("{key}.host"))?,
                (None, None) => return Err(invalid(&key, "needs host_type or host")),
            };
            for other in item.keys().filter(|k| !ITEMS.contains(&k.as_str())) {
                self.warnings.push(format!(
                    "unknown section {key}.{}: host_config has no such section; left out",
                    printable(other)
                ));
            }
            let modules = match item.get("modules") {
                Some(v) => Some(modules(v, &format!("{key}.modules"))?),
                None => None,
            };
            self.host_config.push(HostConfig {
                host_type: name.to_string(),
                modules,
            });
        }
        Ok(())
    }

    fn read_listen(&mut self, listen: &Table, release: &Release) -> Result<(), ConfigError> {
        for (kind, value) in listen {
            if !release.listener_types().contains(&kind.as_str()) {
                self.warnings.push(format!(
                    "unknown listener type [[listen.{}]]: MongooseIM {} has no such \
                     listener; left out",
                    printable(kind),
                    release.line.name()
                ));
                continue;
            }
            for (i, item) in tables(value, &format!("listen.{kind}"))?
                .into_iter()
                .enumerate()
            {
                let key = format!("listen.{kind}[{}]", i + 1);
                let proto = match item.get("proto") {
                    Some(v) => text(v, &format!("{key}.proto"))?.to_string(),
                    None => "tcp".to_string(),
                };
                let tls = match item.get("tls") {
                    Some(v) => Some(table(v, &format!("{key}.tls"))?.clone()),
                    None => None,
                };
                let handlers = match item.get("handlers") {
                    Some(v) if kind == "http" => handlers(v, &format!("{key}.handlers"))?,
                    _ => Vec::new(),
                };
                self.listeners.push(Listener {
                    kind: kind.clone(),
                    proto,
                    tls,
                    handlers,
                });
            }
        }
        Ok(())
    }

    fn read_pools(&mut self, pools: &Table, release: &Release) -> Result<(), ConfigError> {
        for (kind, value) in pools {
            if !release.pool_types().contains(&kind.as_str()) {
                self.warnings.push(format!(
                    "unknown outgoing pool type [outgoing_pools.{}]: MongooseIM {} has no \
                     such pool; left out",
                    printable(kind),
                    release.line.name()
                ));
                continue;
            }
            for (tag, pool) in table(value, &format!("outgoing_pools.{kind}"))? {
                table(pool, &format!("outgoing_pools.{kind}.{tag}"))?;
                self.pools.push(Pool {
                    kind: kind.clone(),
                    tag: tag.clone(),
                });
            }
        }
        Ok(())
    }

    /// Every host type: the hosts, then the host types (MongooseIM's `?ALL_HOST_TYPES`).
    pub fn all_host_types(&self) -> Vec<String> {
        self.hosts.iter().chain(&self.host_types).cloned().collect()
    }

    /// The modules configured for a host type: its `host_config`'s when that has a
    /// `modules` section (the last such entry), else the top-level ones.
    pub fn modules_of(&self, host_type: &str) -> &ModuleMap {
        self.host_config
            .iter()
            .rev()
            .filter(|h| h.host_type == host_type)
            .find_map(|h| h.modules.as_ref())
            .unwrap_or(&self.modules)
    }
}

fn kind(v: &Value) -> &'static str {
    v.type_str()
}

/// `v` as a table.
pub fn table<'a>(v: &'a Value, key: &str) -> Result<&'a Table, ConfigError> {
    v.as_table()
        .ok_or_else(|| invalid(key, format!("expected a table, got {}", kind(v))))
}

/// `v` as a string.
pub fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, ConfigError> {
    v.as_str()
        .ok_or_else(|| invalid(key, format!("expected a string, got {}", kind(v))))
}

fn strings(v: &Value, key: &str) -> Result<Vec<String>, ConfigError> {
    let items = v.as_array().ok_or_else(|| {
        invalid(
            key,
            format!("expected an array of strings, got {}", kind(v)),
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| text(item, &format!("{key}[{}]", i + 1)).map(str::to_string))
        .collect()
}

fn tables<'a>(v: &'a Value, key: &str) -> Result<Vec<&'a Table>, ConfigError> {
    let items = v.as_array().ok_or_else(|| {
        invalid(
            key,
            format!("expected an array of tables ([[{key}]]), got {}", kind(v)),
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| table(item, &format!("{key}[{}]", i + 1)))
        .collect()
}

fn modules(v: &Value, key: &str) -> Result<ModuleMap, ConfigError> {
    table(v, key)?
        .iter()
        .map(|(name, opts)| Ok((name.clone(), table(opts, &format!("{key}.{name}"))?.clone())))
        .collect()
}

/// Handler modules: one entry per `[[...handlers.NAME]]` table.
fn handlers(v: &Value, key: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for (name, entries) in table(v, key)? {
        let n = tables(entries, &format!("{key}.{name}"))?.len();
        out.extend(std::iter::repeat_n(name.clone(), n));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_line_and_column_without_the_text() {
        let text = "[general]\n  hosts = [\"localhost\"]\n  x = \"s3cret\n";
        match parse_toml(text) {
            Err(ConfigError::Parse {
                at: Position::At { line, column },
                message,
            }) => {
                assert_eq!(line, 3, "{message}");
                assert!(column > 1);
                assert!(!message.contains("s3cret"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// The parser places no error past its recursion limit (a dotted key or a table name of
    /// too many parts): the line is found by reading the file up to some of its lines.
    #[test]
    fn errors_without_a_position_name_their_line() {
        let deep = vec!["k"; 200].join(".");
        let text = format!("[general]\nhosts = [\"a\"]\n\n# a comment\n{deep} = 1\nx = 2\n");
        let e = parse_toml(&text).unwrap_err();
        assert_eq!(e.to_string(), "line 5: recursion limit");
        let table = format!("[general]\n[{deep}]\n");
        assert_eq!(
            parse_toml(&table).unwrap_err().to_string(),
            "line 2: recursion limit"
        );
        let long = format!("{}x = 1\n{deep} = 1\n", "# padding\n".repeat(10_000));
        assert_eq!(
            parse_toml(&long).unwrap_err().to_string(),
            "line 10002: recursion limit"
        );
        let unplaced = ConfigError::Parse {
            at: Position::Unknown,
            message: "recursion limit".into(),
        };
        assert_eq!(
            unplaced.to_string(),
            "at an unknown position: recursion limit"
        );
    }

    #[test]
    fn shapes_are_checked_where_read() {
        let release = Release::latest();
        let cases = [
            ("general.hosts = \"localhost\"", "general.hosts"),
            ("general.hosts = [\"a\", 2]", "general.hosts[2]"),
            ("modules.mod_vcard = 1", "modules.mod_vcard"),
            ("listen.c2s = 1", "listen.c2s"),
            ("[[host_config]]\nmodules = {}", "host_config[1]"),
        ];
        for (text, key) in cases {
            let root = parse_toml(text).unwrap();
            match MimConfig::read(&root, &release) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
