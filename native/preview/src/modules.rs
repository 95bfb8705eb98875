//! What MongooseIM's modules are and report, release by release, read from each release's
//! sources: whether a module declares `mongoose_module_metrics` (the engine's table of
//! release rules says which do), which option keys its `config_metrics/1` reports, and the
//! defaults its `config_spec/0` gives the options that matter here (the reported keys, and
//! those that decide which modules start with it, see [`crate::deps`]).
//!
//! Defaults are the same in every release 6.1-6.8 except where noted; the preview suite
//! checks each reported key's default against every release's sources.

use toml::{Table, Value};

use crate::release::Release;

/// A module's options, as MongooseIM holds them after its config spec (only the options
/// that matter here are given defaults).
pub type Opts = Table;

/// How MongooseIM's collector sees a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Declares `mongoose_module_metrics`: named in reports (the node's release names it).
    Metrics,
    /// A `gen_mod` only: counted as a custom module.
    GenMod,
    /// Neither: not a module the collector counts (`mod_mam_muc` up to 6.2, a helper that
    /// `mod_mam` starts).
    Uncounted,
}

/// What a module's `config_metrics/1` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// These option keys, all or nothing (`mongoose_module_metrics:opts_for_module/3`).
    Keys(&'static [&'static str]),
    /// `mod_event_pusher`: one `backend` per configured pusher.
    Pushers,
}

/// Modules whose `config_metrics/1` reports `backend`, with its default.
const BACKEND_DEFAULTS: [(&str, &str); 17] = [
    ("mod_auth_token", "rdbms"),
    ("mod_blocking", "mnesia"),
    ("mod_bosh", "mnesia"),
    ("mod_event_pusher_push", "mnesia"),
    ("mod_http_upload", "s3"),
    ("mod_inbox", "rdbms"),
    ("mod_last", "mnesia"),
    ("mod_mam", "rdbms"),
    ("mod_muc", "mnesia"),
    ("mod_muc_light", "mnesia"),
    ("mod_offline", "mnesia"),
    ("mod_privacy", "mnesia"),
    ("mod_private", "rdbms"),
    ("mod_pubsub", "mnesia"),
    ("mod_pubsub_old", "mnesia"),
    ("mod_roster", "mnesia"),
    ("mod_vcard", "mnesia"),
];

/// How the collector sees `module` on `release`. Any module not known to be otherwise is
/// a `gen_mod` (MongooseIM starts only those from `[modules]`).
pub fn kind(release: &Release, module: &str) -> Kind {
    if release.line.reported_module(module).is_some() {
        Kind::Metrics
    } else if module == "mod_mam_muc" && release.minor() <= 2 {
        Kind::Uncounted
    } else {
        Kind::GenMod
    }
}

/// What `module`'s `config_metrics/1` reports on `release`; `None` when it has none (a
/// bare module in reports). Only asked of [`Kind::Metrics`] modules.
pub fn reported(release: &Release, module: &str) -> Option<Reported> {
    match module {
        "mod_event_pusher" => Some(Reported::Pushers),
        "mod_muc" if release.minor() >= 2 => Some(Reported::Keys(&["backend", "online_backend"])),
        "mod_push_service_mongoosepush" => Some(Reported::Keys(&["api_version"])),
        // mod_blocking shares mod_privacy's options but reports nothing itself.
        "mod_blocking" => None,
        m if BACKEND_DEFAULTS.iter().any(|(b, _)| *b == m) => Some(Reported::Keys(&["backend"])),
        _ => None,
    }
}

/// Whether a reported key's value is text in MongooseIM's options (a binary) rather than
/// an atom.
pub fn is_text_option(key: &str) -> bool {
    key == "api_version"
}

/// `options` of a configured `module` with the defaults of its config spec that matter
/// here filled in.
pub fn with_defaults(release: &Release, module: &str, options: &Table) -> Opts {
    let mut opts = options.clone();
    if let Some((_, backend)) = BACKEND_DEFAULTS.iter().find(|(m, _)| *m == module) {
        put_default(&mut opts, "backend", text(backend));
    }
    match module {
        "mod_muc" if release.minor() >= 2 => {
            put_default(&mut opts, "online_backend", text("mnesia"))
        }
        "mod_push_service_mongoosepush" => put_default(&mut opts, "api_version", text("v3")),
        "mod_event_pusher" => {
            // Each pusher's section is its module's config spec (mod_event_pusher_push's
            // has the backend).
            if let Some(Value::Table(push)) = opts.get_mut("push") {
                put_default(push, "backend", text("mnesia"));
            }
        }
        "mod_mam" => {
            put_default(&mut opts, "cache_users", Value::Boolean(true));
            // `cache` and `async_writer` are always there at the top level.
            section_default(&mut opts, "cache", "module", text("internal"));
            section_default(&mut opts, "async_writer", "enabled", Value::Boolean(true));
            for kind in ["pm", "muc"] {
                if let Some(Value::Table(sub)) = opts.get_mut(kind) {
                    if let Some(Value::Table(writer)) = sub.get_mut("async_writer") {
                        put_default(writer, "enabled", Value::Boolean(true));
                    }
                }
            }
        }
        "mod_global_distrib" => {
            section_default(&mut opts, "bounce", "enabled", Value::Boolean(true))
        }
        "mod_pubsub" | "mod_pubsub_old" => {
            put_default(&mut opts, "plugins", Value::Array(vec![text("flat")]))
        }
        _ => {}
    }
    opts
}

fn text(s: &str) -> Value {
    Value::String(s.to_string())
}

fn put_default(opts: &mut Table, key: &str, value: Value) {
    opts.entry(key.to_string()).or_insert(value);
}

/// A section that is always present, with one default inside.
fn section_default(opts: &mut Table, section: &str, key: &str, value: Value) {
    let entry = opts
        .entry(section.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    if let Value::Table(t) = entry {
        put_default(t, key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(v: &str) -> Release {
        Release::parse(v).unwrap()
    }

    #[test]
    fn kinds_follow_the_release() {
        assert_eq!(kind(&rel("6.3.3"), "mod_bosh"), Kind::Metrics);
        assert_eq!(kind(&rel("6.6.0"), "mod_bosh"), Kind::GenMod);
        assert_eq!(kind(&rel("6.8.0"), "mod_presence"), Kind::GenMod);
        assert_eq!(kind(&rel("6.8.0"), "mod_acme"), Kind::GenMod);
        assert_eq!(kind(&rel("6.2.1"), "mod_mam_muc"), Kind::Uncounted);
        assert_eq!(kind(&rel("6.3.3"), "mod_mam_muc"), Kind::GenMod);
    }

    #[test]
    fn reported_keys_and_defaults() {
        let r61 = rel("6.1.0");
        let r68 = rel("6.8.0");
        assert_eq!(
            reported(&r61, "mod_muc"),
            Some(Reported::Keys(&["backend"]))
        );
        assert_eq!(
            reported(&r68, "mod_muc"),
            Some(Reported::Keys(&["backend", "online_backend"]))
        );
        assert_eq!(reported(&r68, "mod_mam_pm"), None);
        let muc = with_defaults(&r68, "mod_muc", &Table::new());
        assert_eq!(muc.get("online_backend"), Some(&text("mnesia")));
        assert_eq!(
            with_defaults(&r61, "mod_muc", &Table::new()).get("online_backend"),
            None
        );
        let mut given = Table::new();
        given.insert("backend".into(), text("rdbms"));
        assert_eq!(
            with_defaults(&r68, "mod_vcard", &given).get("backend"),
            Some(&text("rdbms"))
        );
        assert_eq!(
            with_defaults(&r68, "mod_http_upload", &Table::new()).get("backend"),
            Some(&text("s3"))
        );
    }
}
