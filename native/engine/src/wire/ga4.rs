//! GA4 Measurement Protocol rules (names, sizes, reserved words) and its endpoints.

use reqwest::Url;

use crate::report::event::{Event, ParamValue};

/// GA4's collection endpoint.
pub const DEFAULT_URL: &str = "https://www.google-analytics.com/mp/collect";

/// Where the request goes: GA4's collection endpoint or its validation server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `/mp/collect`: events are recorded.
    Collect,
    /// `/debug/mp/collect` with `ENFORCE_RECOMMENDATIONS`: events are only checked.
    Validate,
}

/// The validation server's URL for a collection endpoint: `/mp/collect` becomes
/// `/debug/mp/collect`; any other path gets `/debug/mp/collect` appended.
pub fn validation_url(url: &Url) -> Url {
    let mut u = url.clone();
    let p = url.path().trim_end_matches('/');
    let new_path = match p.strip_suffix("/mp/collect") {
        Some(prefix) => format!("{prefix}/debug/mp/collect"),
        None => format!("{p}/debug/mp/collect"),
    };
    u.set_path(&new_path);
    u
}

/// Most events in one request.
pub const MAX_EVENTS_PER_REQUEST: usize = 25;
/// A request body must be smaller than this many bytes.
pub const MAX_BODY_BYTES: usize = 130_000;
/// Most params in one event.
pub const MAX_PARAMS: usize = 25;
/// Longest event or param name.
pub const MAX_NAME_CHARS: usize = 40;
/// Longest string param value.
pub const MAX_VALUE_CHARS: usize = 100;

/// Prefixes GA4 keeps for itself.
const RESERVED_PREFIXES: [&str; 5] = ["_", "firebase_", "ga_", "google_", "gtag."];
/// Event names GA4 keeps for itself, sorted.
const RESERVED_EVENT_NAMES: [&str; 46] = [
    "ad_activeview",
    "ad_click",
    "ad_exposure",
    "ad_impression",
    "ad_query",
    "ad_reward",
    "adunit_exposure",
    "app_background",
    "app_clear_data",
    "app_exception",
    "app_install",
    "app_remove",
    "app_store_refund",
    "app_store_subscription_cancel",
    "app_store_subscription_convert",
    "app_store_subscription_renew",
    "app_uninstall",
    "app_update",
    "app_upgrade",
    "click",
    "dynamic_link_app_open",
    "dynamic_link_app_update",
    "dynamic_link_first_open",
    "error",
    "file_download",
    "firebase_campaign",
    "first_open",
    "first_visit",
    "form_start",
    "form_submit",
    "in_app_purchase",
    "notification_dismiss",
    "notification_foreground",
    "notification_open",
    "notification_receive",
    "os_update",
    "page_view",
    "screen_view",
    "scroll",
    "session_start",
    "session_start_with_rollout",
    "user_engagement",
    "video_complete",
    "video_progress",
    "video_start",
    "view_search_results",
];

/// Whether `name` is a valid event or param name: 1-40 chars of `[A-Za-z][A-Za-z0-9_]*`, no
/// reserved prefix.
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.len() <= MAX_NAME_CHARS
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether `name` is one of GA4's reserved event names.
fn is_reserved_event_name(name: &str) -> bool {
    RESERVED_EVENT_NAMES.contains(&name)
}

/// Checks one event against GA4's rules; returns a short reason when it breaks one.
pub fn check_event(event: &Event) -> Result<(), String> {
    if !is_valid_name(&event.name) {
        return Err("event name breaks GA4's naming rules".into());
    }
    if is_reserved_event_name(&event.name) {
        return Err("event name is reserved by GA4".into());
    }
    if event.params.len() > MAX_PARAMS {
        return Err(format!("more than {MAX_PARAMS} params"));
    }
    for (name, value) in &event.params {
        if !is_valid_name(name) {
            return Err("param name breaks GA4's naming rules".into());
        }
        if let ParamValue::Str(s) = value {
            // A char takes at least one byte: only a long value needs its chars counted.
            if s.len() > MAX_VALUE_CHARS && s.chars().count() > MAX_VALUE_CHARS {
                return Err(format!(
                    "param {name} is longer than {MAX_VALUE_CHARS} characters"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "module_with_opt", "xmppIqSent", &"a".repeat(40)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "_x",
            "ga_x",
            "google_x",
            "firebase_x",
            "a-b",
            "a.b",
            "zażółć",
            &"a".repeat(41),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn reserved_names_are_sorted() {
        // So a reviewer finds a name at a glance.
        assert!(RESERVED_EVENT_NAMES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn reserved_name_filter_finds_every_reserved_name_and_no_near_miss() {
        for w in RESERVED_EVENT_NAMES {
            assert!(w.len() < 64 && w.as_bytes()[0].is_ascii_lowercase(), "{w}");
            assert!(is_reserved_event_name(w), "{w}");
            let longer = format!("{w}x");
            let shorter = &w[..w.len() - 1];
            let upper = w.to_ascii_uppercase();
            for near in [longer.as_str(), shorter, upper.as_str()] {
                assert!(!is_reserved_event_name(near), "{near}");
            }
        }
        for ok in ["", "module_with_opt", "clicks", "Click", &"a".repeat(100)] {
            assert!(!is_reserved_event_name(ok), "{ok}");
        }
    }

    #[test]
    fn names_agree_with_the_plain_rules() {
        // The rules against a second writing of them, on the edge cases: prefixes, every byte.
        let plain = |name: &str| {
            let b = name.as_bytes();
            !b.is_empty()
                && b.len() <= MAX_NAME_CHARS
                && b[0].is_ascii_alphabetic()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
                && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        };
        let mut names: Vec<String> = Vec::new();
        for a in ["", "a", "f", "g", "G", "_", "1", "é", "ga", "gtag"] {
            for b in [
                "", "_", ".", "a", "9", "-", "irebase_", "a_", "oogle_", "tag.", " ", "ż",
            ] {
                names.push(format!("{a}{b}"));
                names.push(format!("{a}{b}x"));
            }
        }
        for c in 0..=255u8 {
            names.push(format!("a{}", c as char));
            names.push(format!("{}a", c as char));
        }
        for n in [39, 40, 41] {
            names.push("g".repeat(n));
        }
        for n in &names {
            assert_eq!(is_valid_name(n), plain(n), "{n:?}");
        }
    }

    #[test]
    fn events() {
        assert!(check_event(&Event::new("host_count", [("value", 1i64)])).is_ok());
        assert!(check_event(&Event::new("page_view", [("value", 1i64)])).is_err());
        assert!(check_event(&Event::new("x", [("bad-name", 1i64)])).is_err());
        assert!(check_event(&Event::new("x", [("v", "a".repeat(100))])).is_ok());
        assert!(check_event(&Event::new("x", [("v", "a".repeat(101))])).is_err());
        let mut many = Event::new::<i64>("x", []);
        for i in 0..26 {
            many.params
                .insert(format!("p{i}").into(), ParamValue::Int(i));
        }
        assert!(check_event(&many).is_err());
        many.params.remove("p0");
        assert!(check_event(&many).is_ok());
    }
}
