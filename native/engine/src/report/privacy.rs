//! The privacy rules: how the allowlists ([`allowlists`](super::allowlists)) are applied when
//! a report is built, the version and uptime rules, and the check every send makes that an
//! event is one a report could have carried.

use crate::report::allowlists::{
    C2S_TRANSPORTS, CLUSTER_PARAMS, CONFIG_TYPES, CUSTOM, ENABLED, EVENT_NAMES, MODULE_OPTIONS,
    POOL_TYPES, STANZA_COUNT_PARAMS, STANZA_TYPES, TLS_MODES, TLS_MODULES, TLS_OPTION_PARAMS,
    UNKNOWN_VERSION, VALUE_PARAMS,
};
use crate::report::event::{Event, ParamValue};
use crate::report::release;

/// The entry of `list` equal to `s`: the list's own `'static` copy, which events borrow.
pub fn find_in(list: &[&'static str], s: &str) -> Option<&'static str> {
    list.iter().find(|w| **w == s).copied()
}

/// Whether some supported release names `module` in its reports: the allowlist of module
/// names is the union of [`release`]'s table.
pub fn is_known_module(module: &str) -> bool {
    release::all_reported_modules().any(|m| m == module)
}

/// Whether some supported release names the HTTP handler `name` in `http_api`.
pub fn is_http_api_handler(name: &str) -> bool {
    release::all_http_api_handlers().any(|h| h == name)
}

/// Whether `name` is a transport some supported release names in `transport_mechanism`: an
/// HTTP transport or a c2s protocol.
pub fn is_transport(name: &str) -> bool {
    release::all_http_transports().any(|t| t == name) || C2S_TRANSPORTS.contains(&name)
}

/// Option `opt` of `module` as a `'static` name with the allowlist of its values, or `None`
/// when the option is never sent ([`MODULE_OPTIONS`]).
pub fn option_spec(module: &str, opt: &str) -> Option<(&'static str, &'static [&'static str])> {
    MODULE_OPTIONS
        .iter()
        .find(|(name, modules, _)| *name == opt && modules.contains(&module))
        .map(|(name, _, values)| (*name, *values))
}

/// An option value as sent: itself when on the allowlist `allowed`, else [`CUSTOM`].
pub fn option_value(allowed: &[&'static str], value: &str) -> &'static str {
    find_in(allowed, value).unwrap_or(CUSTOM)
}

/// Keeps only the release part of a version: `MAJOR.MINOR[.PATCH]` with an optional
/// git-describe suffix `-N-gHEX` (7-40 hex digits). A suffix that runs on into other
/// characters is dropped; no digits at all give `unknown`. "6.4.0-acme-prod" -> "6.4.0".
pub fn sanitize_version(version: &str) -> String {
    release_part(version).to_string()
}

/// What [`sanitize_version`] keeps of `version`, without copying it.
fn release_part(version: &str) -> &str {
    let b = version.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    // Each number is capped so a hostile version cannot exceed GA4's 100-char value limit.
    const MAX_DIGITS: usize = 9;
    let number_at = |at: usize| {
        let n = digits(at);
        (1..=MAX_DIGITS).contains(&n).then_some(at + n)
    };
    let Some(mut end) = number_at(0) else {
        return UNKNOWN_VERSION;
    };
    let Some(after_minor) = (b.get(end) == Some(&b'.'))
        .then(|| number_at(end + 1))
        .flatten()
    else {
        return UNKNOWN_VERSION;
    };
    end = after_minor;
    if b.get(end) == Some(&b'.') {
        if let Some(after_patch) = number_at(end + 1) {
            end = after_patch;
        }
    }
    // Optional "-N-gHEX", accepted only when it ends the string or is followed by a
    // non-alphanumeric character (e.g. "-dirty"), so no trailing word leaks into it.
    if b.get(end) == Some(&b'-') {
        if let Some(after_n) = number_at(end + 1) {
            if b.get(after_n..after_n + 2) == Some(b"-g") {
                let hex_start = after_n + 2;
                let hex = b[hex_start..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
                    .count();
                let hex_end = hex_start + hex;
                let boundary = b.get(hex_end).is_none_or(|c| !c.is_ascii_alphanumeric());
                if (7..=40).contains(&hex) && boundary {
                    end = hex_end;
                }
            }
        }
    }
    &version[..end]
}

/// `DDDD-HH:MM:SS`, as MongooseIM formats uptime.
pub fn format_uptime(seconds: i64) -> String {
    let s = seconds.max(0);
    let (days, rest) = (s / 86_400, s % 86_400);
    format!(
        "{:04}-{:02}:{:02}:{:02}",
        days,
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// Whether `s` is an uptime as [`format_uptime`] writes it.
pub fn is_uptime(s: &str) -> bool {
    let Some((days, hms)) = s.split_once('-') else {
        return false;
    };
    // Exactly three ':'-separated parts of two digits each: "HH:MM:SS".
    let digit = |c: &u8| c.is_ascii_digit();
    let hms = hms.as_bytes();
    days.len() >= 4
        && days.len() <= 15
        && days.bytes().all(|c| c.is_ascii_digit())
        && hms.len() == 8
        && hms[2] == b':'
        && hms[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| digit(&hms[i]))
}

/// What [`check_event`] says of an event name off [`EVENT_NAMES`].
const NOT_SENT: &str = "event name is not one this engine sends";

/// Checks that `event` is one that `build_report` could have produced: a known name, and only
/// allowlisted params and values. Returns a short reason when it is not.
pub fn check_event(event: &Event) -> Result<(), String> {
    let p = &event.params;
    let str_in = |key: &str, allowed: &[&str]| match p.get(key) {
        Some(ParamValue::Str(s)) if allowed.contains(&s.as_ref()) => Ok(()),
        Some(_) => Err(format!("param {key} has a value that is not allowed")),
        None => Err(format!("param {key} is missing")),
    };
    let count = |key: &str, min: i64| match p.get(key) {
        Some(ParamValue::Int(n)) if *n >= min => Ok(()),
        Some(_) => Err(format!("param {key} must be an integer >= {min}")),
        None => Err(format!("param {key} is missing")),
    };
    let only = |keys: &[&str]| match p.keys().find(|k| !keys.contains(&k.as_ref())) {
        Some(k) => Err(format!("param {k} is not allowed in {}", event.name)),
        None => Ok(()),
    };
    let all_enabled = |allowed: fn(&str) -> bool| {
        p.iter().try_for_each(|(k, v)| match v {
            ParamValue::Str(s) if s == ENABLED && allowed(k) => Ok(()),
            _ => Err(format!("param {k} is not allowed in {}", event.name)),
        })
    };
    if !EVENT_NAMES.contains(&event.name.as_ref()) {
        return Err(NOT_SENT.into());
    }
    match event.name.as_ref() {
        "host_count" | "domain_count" | "custom_module_count" => {
            only(VALUE_PARAMS)?;
            count("value", 0)
        }
        "module_with_opt" => {
            let module = match p.get("module") {
                Some(ParamValue::Str(m)) if is_known_module(m) => m.as_ref(),
                Some(_) => return Err("param module names a module that is not allowed".into()),
                None => return Err("param module is missing".into()),
            };
            p.iter()
                .filter(|(k, _)| k.as_ref() != "module")
                .try_for_each(|(k, v)| match (option_spec(module, k), v) {
                    (Some((_, allowed)), ParamValue::Str(s))
                        if s == CUSTOM || allowed.contains(&s.as_ref()) =>
                    {
                        Ok(())
                    }
                    _ => Err(format!("param {k} is not allowed for {module}")),
                })
        }
        "cluster" => {
            only(CLUSTER_PARAMS)?;
            if let Some(v) = p.get("uptime") {
                match v {
                    ParamValue::Str(s) if is_uptime(s) => {}
                    _ => return Err("param uptime must look like DDDD-HH:MM:SS".into()),
                }
            }
            if let Some(v) = p.get("version") {
                match v {
                    ParamValue::Str(s) if release_part(s) == s.as_ref() => {}
                    _ => return Err("param version is not a release version".into()),
                }
            }
            if p.contains_key("component") {
                count("component", 0)?;
            }
            if p.contains_key("node_number") {
                count("node_number", 1)?;
            }
            if p.contains_key("config_type") {
                str_in("config_type", CONFIG_TYPES)?;
            }
            Ok(())
        }
        "http_api" => all_enabled(is_http_api_handler),
        "transport_mechanism" => all_enabled(is_transport),
        "tls_option" => {
            only(TLS_OPTION_PARAMS)?;
            str_in("mode", TLS_MODES)?;
            str_in("module", TLS_MODULES)
        }
        "outgoing_pool" => {
            only(VALUE_PARAMS)?;
            str_in("value", POOL_TYPES)
        }
        "xmpp_stanza_count" => {
            only(STANZA_COUNT_PARAMS)?;
            str_in("stanza_type", STANZA_TYPES)?;
            count("total", 0)?;
            count("increment", 0)
        }
        _ => Err(NOT_SENT.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::allowlists::{
        API_VERSION_VALUES, BACKEND_MODULES, BACKEND_VALUES, ONLINE_BACKEND_VALUES,
    };

    #[test]
    fn versions_keep_only_release_and_describe_suffix() {
        let cases = [
            ("6.4.0", "6.4.0"),
            ("6.4", "6.4"),
            ("6.4.0-12-gabc1234", "6.4.0-12-gabc1234"),
            ("6.4.0-12-gabc1234-dirty", "6.4.0-12-gabc1234"),
            ("6.4.0-acme-prod", "6.4.0"),
            ("6.4.0-12-gabc1234acme", "6.4.0"),
            ("6.4.0-12-gabc12", "6.4.0"),
            ("6.4.0.1", "6.4.0"),
            ("6.4-rc1", "6.4"),
            ("acme-6.4.0", "unknown"),
            ("6", "unknown"),
            ("", "unknown"),
            ("1234567890.1", "unknown"),
            ("6.4.0-12-gABC1234", "6.4.0"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_version(input), want, "input {input:?}");
        }
    }

    #[test]
    fn sanitized_versions_are_fixed_points() {
        for v in [
            "6.4.0-acme",
            "7.1-3-g0123456789",
            "x",
            "6.4.0-12-gabc1234-dirty",
        ] {
            let s = sanitize_version(v);
            assert_eq!(sanitize_version(&s), s);
        }
    }

    #[test]
    fn uptime_is_mongooseim_format() {
        assert_eq!(format_uptime(0), "0000-00:00:00");
        assert_eq!(format_uptime(90_061), "0001-01:01:01");
        assert_eq!(format_uptime(86_400 * 12_345), "12345-00:00:00");
        assert!(is_uptime(&format_uptime(1_000_000_000)));
        assert!(!is_uptime("1-00:00:00"));
        assert!(!is_uptime("0000-00:00"));
    }

    /// One byte more, one less, the last or the middle one changed, and upper case.
    fn near_misses(w: &str) -> Vec<String> {
        let flip = |at: usize| {
            let mut b = w.as_bytes().to_vec();
            b[at] ^= 1;
            String::from_utf8(b).unwrap_or_default()
        };
        vec![
            format!("{w}_"),
            w[..w.len() - 1].to_string(),
            flip(w.len() - 1),
            flip(w.len() / 2),
            w.to_ascii_uppercase(),
        ]
    }

    #[test]
    fn each_allowlist_word_is_found_and_near_misses_are_not() {
        let modules: Vec<&str> = release::all_reported_modules().collect();
        let handlers: Vec<&str> = release::all_http_api_handlers().collect();
        let transports: Vec<&str> = release::all_http_transports().collect();
        let lists: [&[&'static str]; 17] = [
            EVENT_NAMES,
            VALUE_PARAMS,
            CLUSTER_PARAMS,
            TLS_OPTION_PARAMS,
            STANZA_COUNT_PARAMS,
            BACKEND_MODULES,
            BACKEND_VALUES,
            ONLINE_BACKEND_VALUES,
            API_VERSION_VALUES,
            C2S_TRANSPORTS,
            TLS_MODES,
            TLS_MODULES,
            POOL_TYPES,
            STANZA_TYPES,
            CONFIG_TYPES,
            &modules,
            &handlers,
        ];
        for list in lists.iter().copied().chain([&transports[..]]) {
            for &w in list {
                assert_eq!(find_in(list, w), Some(w));
                for near in near_misses(w) {
                    if !list.contains(&near.as_str()) {
                        assert_eq!(find_in(list, &near), None, "{near:?}");
                    }
                }
            }
            for w in [
                "mod_acme_billing",
                "",
                "Mod_mam",
                "mod_mam ",
                &"x".repeat(300),
            ] {
                assert_eq!(find_in(list, w), None, "{w}");
            }
        }
        for &m in &modules {
            assert!(is_known_module(m), "{m}");
            for near in near_misses(m) {
                assert_eq!(is_known_module(&near), modules.contains(&near.as_str()));
            }
        }
        let distinct: std::collections::BTreeSet<&str> = modules.iter().copied().collect();
        assert_eq!(distinct.len(), 54);
        for m in [
            "mod_zzz",
            "mod_ping",
            "mnesia",
            "module_with_opt",
            "mod_mam_",
        ] {
            assert!(!is_known_module(m), "{m}");
        }
        for &h in &handlers {
            assert!(is_http_api_handler(h), "{h}");
            assert!(!is_http_api_handler(&format!("{h}_")), "{h}");
        }
        for &t in transports.iter().chain(C2S_TRANSPORTS) {
            assert!(is_transport(t), "{t}");
            assert!(!is_transport(&t.to_ascii_uppercase()), "{t}");
        }
        assert!(!is_transport("udp") && !is_http_api_handler("mod_ping"));
    }

    /// An event named `name` with string params.
    fn event(name: &'static str, params: &[(&'static str, &str)]) -> Event {
        Event::new(
            name,
            params
                .iter()
                .map(|(k, v)| (*k, ParamValue::from(v.to_string()))),
        )
    }

    #[test]
    fn the_send_check_takes_each_allowlisted_value_and_refuses_near_misses() {
        // (param, its allowlist, an event carrying a value for it)
        type Check = (&'static str, &'static [&'static str], fn(&str) -> Event);
        let checks: [Check; 5] = [
            ("mode", TLS_MODES, |v| {
                event("tls_option", &[("mode", v), ("module", "just_tls")])
            }),
            ("module", TLS_MODULES, |v| {
                event("tls_option", &[("mode", "tls"), ("module", v)])
            }),
            ("value", POOL_TYPES, |v| {
                event("outgoing_pool", &[("value", v)])
            }),
            ("config_type", CONFIG_TYPES, |v| {
                event("cluster", &[("config_type", v)])
            }),
            ("stanza_type", STANZA_TYPES, |v| {
                let mut e = event("xmpp_stanza_count", &[("stanza_type", v)]);
                e.params.insert("total".into(), ParamValue::Int(3));
                e.params.insert("increment".into(), ParamValue::Int(1));
                e
            }),
        ];
        for (param, list, make) in checks {
            for &w in list {
                assert_eq!(check_event(&make(w)), Ok(()), "{param} {w}");
                for near in near_misses(w) {
                    assert_eq!(
                        check_event(&make(&near)),
                        Err(format!("param {param} has a value that is not allowed")),
                        "{param} {near:?}"
                    );
                }
            }
        }
        for (opt, modules, values) in MODULE_OPTIONS {
            for &module in *modules {
                for &v in values.iter().chain([&CUSTOM]) {
                    let e = event("module_with_opt", &[("module", module), (opt, v)]);
                    assert_eq!(check_event(&e), Ok(()), "{module} {opt} {v}");
                }
                for near in values.iter().flat_map(|v| near_misses(v)) {
                    if values.contains(&near.as_str()) {
                        continue;
                    }
                    let e = event("module_with_opt", &[("module", module), (opt, &near)]);
                    let refused = format!("param {opt} is not allowed for {module}");
                    assert_eq!(check_event(&e), Err(refused), "{module} {opt} {near}");
                }
            }
        }
        let http_api = |h: &'static str| event("http_api", &[(h, ENABLED)]);
        for h in release::all_http_api_handlers() {
            assert_eq!(check_event(&http_api(h)), Ok(()), "{h}");
        }
        let transport = |t: &'static str| event("transport_mechanism", &[(t, ENABLED)]);
        for t in release::all_http_transports().chain(C2S_TRANSPORTS.iter().copied()) {
            assert_eq!(check_event(&transport(t)), Ok(()), "{t}");
        }
        for off in ["mod_ping", "udp", "mongoose_bosh_handler_"] {
            assert!(check_event(&http_api(off)).is_err(), "{off}");
            assert!(check_event(&transport(off)).is_err(), "{off}");
        }
    }

    #[test]
    fn every_event_name_has_its_rule() {
        for &name in EVENT_NAMES {
            let refused = check_event(&Event::new::<i64>(name, []));
            assert_ne!(refused, Err(NOT_SENT.into()), "{name}");
        }
        for name in ["page_view", "host_counts", "", "Cluster"] {
            let e = Event {
                name: name.to_string().into(),
                params: Default::default(),
            };
            assert_eq!(check_event(&e), Err(NOT_SENT.into()), "{name}");
        }
    }

    #[test]
    fn module_and_option_allowlists() {
        let option_values = |module, opt| option_spec(module, opt).map(|(_, values)| values);
        assert!(is_known_module("mod_mam"));
        assert!(is_known_module("mod_bosh"));
        assert!(!is_known_module("mod_ping"));
        assert!(!is_known_module("mod_acme_billing"));
        assert_eq!(option_values("mod_mam", "backend"), Some(BACKEND_VALUES));
        assert_eq!(option_values("mod_mam", "online_backend"), None);
        assert_eq!(
            option_values("mod_muc", "online_backend"),
            Some(ONLINE_BACKEND_VALUES)
        );
        assert_eq!(
            option_values("mod_push_service_mongoosepush", "api_version"),
            Some(API_VERSION_VALUES)
        );
        assert_eq!(option_values("mod_adhoc", "backend"), None);
        assert_eq!(option_values("mod_mam", "host"), None);
        assert_eq!(option_value(BACKEND_VALUES, "rdbms"), "rdbms");
        assert_eq!(option_value(BACKEND_VALUES, "acme_db"), CUSTOM);
        assert_eq!(option_value(BACKEND_VALUES, "v2"), CUSTOM);
        assert_eq!(option_value(API_VERSION_VALUES, "v1"), CUSTOM);
        assert_eq!(option_value(API_VERSION_VALUES, "v3"), "v3");
        assert_eq!(
            option_spec("mod_mam", "backend"),
            Some(("backend", BACKEND_VALUES))
        );
        assert_eq!(option_spec("mod_ping", "backend"), None);
        assert_eq!(option_values("mod_sic", "backend"), None);
    }
}
