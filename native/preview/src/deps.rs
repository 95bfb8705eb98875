//! The modules MongooseIM starts for a host type: the configured ones and, recursively,
//! the modules each needs (its `deps/2`), resolved as `gen_mod_deps:resolve_deps/2` does
//! when the configuration is loaded. A dependency started by several modules gets their
//! options merged, the later ones winning. Each module's `deps/2` is read from the sources
//! of every release 6.1-6.8; only what decides which modules start is mirrored. (Optional
//! dependencies start nothing new and are left out.)

use std::collections::{BTreeMap, VecDeque};

use toml::{Table, Value};

use crate::modules::Opts;
use crate::release::Release;

/// Every module started on `host_type`, with its options, given the configured modules
/// (options already completed by [`crate::modules::with_defaults`]).
pub fn resolve(
    release: &Release,
    host_type: &str,
    configured: &BTreeMap<String, Opts>,
) -> BTreeMap<String, Opts> {
    let mut queue: VecDeque<(String, Opts)> = configured
        .iter()
        .map(|(m, o)| (m.clone(), o.clone()))
        .collect();
    let mut known: BTreeMap<String, Opts> = BTreeMap::new();
    while let Some((module, opts)) = queue.pop_front() {
        let opts = match known.get(&module) {
            Some(previous) => {
                let mut merged = previous.clone();
                merged.extend(opts);
                if merged == *previous {
                    continue;
                }
                merged
            }
            None => opts,
        };
        // The dependencies go first in the queue, in their given order.
        for dep in deps(release, &module, host_type, &opts).into_iter().rev() {
            queue.push_front(dep);
        }
        known.insert(module, opts);
    }
    known
}

/// One module's dependencies, with the options it starts them with.
pub fn deps(release: &Release, module: &str, host_type: &str, opts: &Opts) -> Vec<(String, Opts)> {
    let dep = |m: &str, o: Opts| (m.to_string(), o);
    let minor = release.minor();
    match module {
        "mod_mam" => mam_deps(minor, opts),
        "mod_event_pusher" => ["http", "push", "rabbit", "sns"]
            .iter()
            .filter_map(|p| {
                let section = opts.get(*p)?;
                Some(dep(
                    &format!("mod_event_pusher_{p}"),
                    section.as_table().cloned().unwrap_or_default(),
                ))
            })
            .collect(),
        "mod_blocking" => vec![dep("mod_privacy", opts.clone())],
        "mod_privacy" => vec![dep("mod_presence", Opts::new())],
        "mod_bind2" if minor >= 2 => vec![dep("mod_sasl2", opts.clone())],
        "mod_external_filter" if minor >= 6 => vec![dep("mod_stanzaid", Opts::new())],
        "mod_muc_light" => match opts.get("cache_affs") {
            Some(Value::Table(cache)) => vec![dep("mod_muc_light_cache", cache.clone())],
            _ => Vec::new(),
        },
        "mod_global_distrib" => {
            if opts.get("global_host").and_then(Value::as_str) != Some(host_type) {
                return Vec::new();
            }
            let bounce = opts
                .get("bounce")
                .and_then(|b| b.get("enabled"))
                .and_then(Value::as_bool)
                == Some(true);
            let mut mods = vec![
                "mod_global_distrib_utils",
                "mod_global_distrib_mapping",
                "mod_global_distrib_disco",
                "mod_global_distrib_receiver",
                "mod_global_distrib_hosts_refresher",
            ];
            if bounce {
                mods.push("mod_global_distrib_bounce");
            }
            mods.into_iter().map(|m| dep(m, opts.clone())).collect()
        }
        "mod_global_distrib_mapping" => vec![
            dep("mod_global_distrib_utils", opts.clone()),
            dep("mod_global_distrib_receiver", opts.clone()),
        ],
        "mod_global_distrib_hosts_refresher" => vec![
            dep("mod_global_distrib_utils", opts.clone()),
            dep("mod_global_distrib_mapping", opts.clone()),
        ],
        "mod_global_distrib_bounce"
        | "mod_global_distrib_disco"
        | "mod_global_distrib_receiver" => {
            vec![dep("mod_global_distrib_utils", opts.clone())]
        }
        // The PEP plugin needs mod_caps (6.7's mod_pubsub, 6.8's mod_pubsub_old).
        "mod_pubsub" | "mod_pubsub_old"
            if (module == "mod_pubsub" && minor == 7)
                || (module == "mod_pubsub_old" && minor == 8) =>
        {
            let pep = opts
                .get("plugins")
                .and_then(Value::as_array)
                .is_some_and(|p| p.iter().any(|x| x.as_str() == Some("pep")));
            if pep {
                vec![dep("mod_caps", Opts::new())]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// mod_mam's: for each of `pm` and `muc` configured, its core module and its archive's
/// modules, chosen by the backend (the section's own options over the top-level ones).
fn mam_deps(minor: u8, opts: &Opts) -> Vec<(String, Opts)> {
    let mut deps: BTreeMap<&str, Opts> = BTreeMap::new();
    for kind in ["pm", "muc"] {
        let Some(Value::Table(section)) = opts.get(kind) else {
            continue;
        };
        let mut full: Table = opts.clone();
        full.remove("pm");
        full.remove("muc");
        full.extend(section.clone());
        let pm = kind == "pm";
        let pick = |pm_mod: &'static str, muc_mod: &'static str| if pm { pm_mod } else { muc_mod };
        let mut add = |m: &'static str| {
            deps.entry(m).or_default();
        };
        add(pick("mod_mam_pm", "mod_mam_muc"));
        let backend = full
            .get("backend")
            .and_then(Value::as_str)
            .unwrap_or("rdbms");
        if let Some(store) = full.get("user_prefs_store").and_then(Value::as_str) {
            match (backend, store) {
                ("rdbms", "rdbms") => add("mod_mam_rdbms_prefs"),
                ("cassandra", "cassandra") => add("mod_mam_cassandra_prefs"),
                (_, "mnesia") => add("mod_mam_mnesia_prefs"),
                // MongooseIM refuses to start with any other pair.
                _ => {}
            }
        }
        let flag = |section: &str, key: &str| {
            full.get(section)
                .and_then(|s| s.get(key))
                .and_then(Value::as_bool)
                == Some(true)
        };
        match backend {
            "rdbms" => {
                add(pick("mod_mam_rdbms_arch", "mod_mam_muc_rdbms_arch"));
                add("mod_mam_rdbms_user");
                if full.get("cache_users").and_then(Value::as_bool) == Some(true) {
                    let cache_module = full.get("cache").and_then(|c| c.get("module"));
                    if cache_module.and_then(Value::as_str) == Some("mod_cache_users") {
                        add("mod_cache_users");
                    }
                    add("mod_mam_cache_user");
                }
                if flag("async_writer", "enabled") {
                    add(pick(
                        "mod_mam_rdbms_arch_async",
                        "mod_mam_muc_rdbms_arch_async",
                    ));
                }
            }
            "cassandra" => add(pick("mod_mam_cassandra_arch", "mod_mam_muc_cassandra_arch")),
            "elasticsearch" => add(pick(
                "mod_mam_elasticsearch_arch",
                "mod_mam_muc_elasticsearch_arch",
            )),
            "riak" if minor == 1 => add("mod_mam_riak_timed_arch_yz"),
            _ => {}
        }
    }
    deps.into_iter().map(|(m, o)| (m.to_string(), o)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mim_config::parse_toml;
    use crate::modules::with_defaults;

    /// The modules started, with their options, for `[modules]` in `text` on `version`, on
    /// host type `localhost`.
    fn resolved(version: &str, text: &str) -> BTreeMap<String, Opts> {
        let release = Release::parse(version).unwrap();
        let root = parse_toml(text).unwrap();
        let configured: BTreeMap<String, Opts> = root["modules"]
            .as_table()
            .unwrap()
            .iter()
            .map(|(m, o)| (m.clone(), with_defaults(&release, m, o.as_table().unwrap())))
            .collect();
        resolve(&release, "localhost", &configured)
    }

    /// The names of the modules [`resolved`] starts.
    fn started(version: &str, text: &str) -> Vec<String> {
        resolved(version, text).into_keys().collect()
    }

    // Expected lists written from the modules' deps/2 in MongooseIM's sources.
    #[test]
    fn mam_with_rdbms_defaults() {
        assert_eq!(
            started("6.8.0", "[modules.mod_mam.pm]\n[modules.mod_mam.muc]\n"),
            [
                "mod_mam",
                "mod_mam_cache_user",
                "mod_mam_muc",
                "mod_mam_muc_rdbms_arch",
                "mod_mam_muc_rdbms_arch_async",
                "mod_mam_pm",
                "mod_mam_rdbms_arch",
                "mod_mam_rdbms_arch_async",
                "mod_mam_rdbms_user",
            ]
        );
    }

    #[test]
    fn mam_backends_and_options() {
        let text = "[modules.mod_mam]\nbackend = \"cassandra\"\nuser_prefs_store = \"mnesia\"\n\
                    [modules.mod_mam.pm]\n";
        assert_eq!(
            started("6.4.0", text),
            [
                "mod_mam",
                "mod_mam_cassandra_arch",
                "mod_mam_mnesia_prefs",
                "mod_mam_pm"
            ]
        );
        let text = "[modules.mod_mam]\ncache_users = false\nasync_writer.enabled = false\n\
                    [modules.mod_mam.pm]\nbackend = \"elasticsearch\"\n[modules.mod_mam.muc]\n";
        assert_eq!(
            started("6.2.1", text),
            [
                "mod_mam",
                "mod_mam_elasticsearch_arch",
                "mod_mam_muc",
                "mod_mam_muc_rdbms_arch",
                "mod_mam_pm",
                "mod_mam_rdbms_user",
            ]
        );
        let text = "[modules.mod_mam]\nbackend = \"riak\"\n[modules.mod_mam.pm]\n";
        assert_eq!(
            started("6.1.0", text),
            ["mod_mam", "mod_mam_pm", "mod_mam_riak_timed_arch_yz"]
        );
        // No pm and no muc section: mod_mam alone.
        assert_eq!(started("6.8.0", "[modules.mod_mam]\n"), ["mod_mam"]);
    }

    #[test]
    fn other_modules_dependencies() {
        let text = "[modules.mod_event_pusher.push]\n[modules.mod_event_pusher.sns]\n\
                    [modules.mod_blocking]\n[modules.mod_bind2]\n[modules.mod_muc_light]\n";
        assert_eq!(
            started("6.8.0", text),
            [
                "mod_bind2",
                "mod_blocking",
                "mod_event_pusher",
                "mod_event_pusher_push",
                "mod_event_pusher_sns",
                "mod_muc_light",
                "mod_presence",
                "mod_privacy",
                "mod_sasl2",
            ]
        );
        assert_eq!(started("6.1.0", "[modules.mod_bind2]\n"), ["mod_bind2"]);
        let text = "[modules.mod_pubsub_old]\nplugins = [\"flat\", \"pep\"]\n";
        assert_eq!(started("6.8.0", text), ["mod_caps", "mod_pubsub_old"]);
        let text = "[modules.mod_pubsub]\nplugins = [\"flat\", \"pep\"]\n";
        assert_eq!(started("6.6.0", text), ["mod_pubsub"]);
        assert_eq!(started("6.7.0", text), ["mod_caps", "mod_pubsub"]);
    }

    #[test]
    fn global_distrib_starts_its_parts_on_the_global_host_only() {
        let text = "[modules.mod_global_distrib]\nglobal_host = \"localhost\"\n\
                    local_host = \"a.localhost\"\n";
        assert_eq!(
            started("6.5.0", text),
            [
                "mod_global_distrib",
                "mod_global_distrib_bounce",
                "mod_global_distrib_disco",
                "mod_global_distrib_hosts_refresher",
                "mod_global_distrib_mapping",
                "mod_global_distrib_receiver",
                "mod_global_distrib_utils",
            ]
        );
        let text = "[modules.mod_global_distrib]\nglobal_host = \"elsewhere\"\n";
        assert_eq!(started("6.5.0", text), ["mod_global_distrib"]);
    }

    #[test]
    fn explicit_options_win_over_a_dependency_s() {
        let text = "[modules.mod_blocking]\n[modules.mod_privacy]\nbackend = \"rdbms\"\n";
        let all = resolved("6.8.0", text);
        assert_eq!(all["mod_privacy"]["backend"].as_str(), Some("rdbms"));
        assert_eq!(all["mod_blocking"]["backend"].as_str(), Some("mnesia"));
    }
}
