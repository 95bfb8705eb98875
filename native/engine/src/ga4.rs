//! GA4 Measurement Protocol rules (names, sizes, reserved words) and endpoint constants.

use crate::event::{Event, ParamValue};

/// GA4's collection endpoint.
pub const DEFAULT_URL: &str = "https://www.google-analytics.com/mp/collect";
/// GA4's EU data-residency endpoint.
pub const EU_URL: &str = "https://region1.google-analytics.com/mp/collect";
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

const RESERVED_PREFIXES: [&str; 5] = ["_", "firebase_", "ga_", "google_", "gtag."];
/// Sorted (looked up by binary search).
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
    !b.is_empty()
        && b.len() <= MAX_NAME_CHARS
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Checks one event against GA4's rules; returns a short reason when it breaks one.
pub fn check_event(event: &Event) -> Result<(), String> {
    if !is_valid_name(&event.name) {
        return Err("event name breaks GA4's naming rules".into());
    }
    if RESERVED_EVENT_NAMES
        .binary_search(&event.name.as_ref())
        .is_ok()
    {
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
            if s.chars().count() > MAX_VALUE_CHARS {
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
    fn reserved_names_are_sorted_for_binary_search() {
        assert!(RESERVED_EVENT_NAMES.windows(2).all(|w| w[0] < w[1]));
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
