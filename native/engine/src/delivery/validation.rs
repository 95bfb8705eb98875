//! The answer of GA4's validation server (`/debug/mp/collect`): its messages, read leniently
//! (anything unexpected gives no message, never an error) and made safe to log and keep: the
//! endpoint's text is not trusted. Every secret of the send is masked, control characters are
//! removed, each message is at most [`MAX_VALIDATION_MESSAGE_BYTES`] (its three fields
//! together) and at most [`MAX_VALIDATION_MESSAGES`] are kept per tracking id.

use serde_json::Value as Json;

use crate::delivery::outcome::ValidationMessage;
use crate::wire::secret::MASK;

/// A message's `fieldPath` is cut to this many bytes.
pub const MAX_FIELD_PATH_BYTES: usize = 100;
/// A message's `description` is cut to this many bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 300;
/// A message's `validationCode` is cut to this many bytes.
pub const MAX_VALIDATION_CODE_BYTES: usize = 100;
/// One message, its three fields together, is at most this many bytes.
pub const MAX_VALIDATION_MESSAGE_BYTES: usize =
    MAX_FIELD_PATH_BYTES + MAX_DESCRIPTION_BYTES + MAX_VALIDATION_CODE_BYTES;

/// At most this many validation messages are kept per tracking id.
pub const MAX_VALIDATION_MESSAGES: usize = 25;

/// Parses the validation server's answer:
/// `{"validationMessages": [{"fieldPath", "description", "validationCode"}]}`, masking every
/// text of `secrets` (each as given and as it appears in a URL). Anything unexpected yields no
/// message rather than an error.
pub fn parse_validation_messages(body: &[u8], secrets: &[String]) -> Vec<ValidationMessage> {
    let Ok(json) = serde_json::from_slice::<Json>(body) else {
        return Vec::new();
    };
    let Some(list) = json.get("validationMessages").and_then(Json::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter(|m| m.is_object())
        .take(MAX_VALIDATION_MESSAGES)
        .map(|m| ValidationMessage {
            field_path: field(m, "fieldPath", MAX_FIELD_PATH_BYTES, secrets),
            description: field(m, "description", MAX_DESCRIPTION_BYTES, secrets),
            validation_code: field(m, "validationCode", MAX_VALIDATION_CODE_BYTES, secrets),
        })
        .collect()
}

fn field(message: &Json, name: &str, max_bytes: usize, secrets: &[String]) -> String {
    let text = match message.get(name) {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    truncate_bytes(mask(&clean(&text), secrets), max_bytes)
}

/// `text` without control characters (a forged log line needs a newline).
pub fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// `text` with every non-empty text of `secrets` replaced by [`MASK`]. Control characters are
/// removed first (by the caller), so no secret is rebuilt by removing them afterwards.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate_bytes(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_validation_answers() {
        let body = br#"{"validationMessages":[
            {"fieldPath":"events","description":"Event name is invalid","validationCode":"NAME_INVALID"},
            {"fieldPath":"events.params","validationCode":"VALUE_INVALID","extra":1},
            "junk",
            {"fieldPath":12,"description":null}
        ]}"#;
        let got = parse_validation_messages(body, &[]);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].field_path, "events");
        assert_eq!(got[0].description, "Event name is invalid");
        assert_eq!(got[0].validation_code, "NAME_INVALID");
        assert_eq!(got[1].description, "");
        assert_eq!(got[2].field_path, "12");
        assert!(parse_validation_messages(br#"{"validationMessages":[]}"#, &[]).is_empty());
        assert!(parse_validation_messages(b"", &[]).is_empty());
        assert!(parse_validation_messages(b"{\"validationMessages\":", &[]).is_empty());
        assert!(parse_validation_messages(b"[1,2]", &[]).is_empty());
    }

    #[test]
    fn truncates_fields_on_character_boundaries() {
        let long = "é".repeat(300);
        let body = serde_json::json!({"validationMessages": [{"description": long}]}).to_string();
        let got = parse_validation_messages(body.as_bytes(), &[]);
        assert_eq!(got[0].description.len(), MAX_DESCRIPTION_BYTES);
        assert_eq!(truncate_bytes("abc".into(), 256), "abc");
        assert_eq!(truncate_bytes("aé".into(), 2), "a");
    }

    /// An endpoint that echoes the request cannot put a secret, a forged
    /// log line or unbounded text into results, logs or status.
    #[test]
    fn hostile_messages_are_masked_cleaned_and_bounded() {
        let secrets = vec!["TOPSECRET-k3y".to_string(), "s3cr%26t".to_string()];
        let echo = "url=https://x/mp/collect?api_secret=TOPSECRET-k3y&api_secret=s3cr%26t\n\
                    2026-11-30 [error] forged line TOPSE\u{0}CRET-k3y\r\n";
        let one = serde_json::json!({
            "fieldPath": echo,
            "description": format!("{echo}{}", "x".repeat(2000)),
            "validationCode": echo,
        });
        let body = serde_json::json!({ "validationMessages": vec![one; 40] }).to_string();
        let got = parse_validation_messages(body.as_bytes(), &secrets);
        assert_eq!(got.len(), MAX_VALIDATION_MESSAGES);
        assert_eq!(MAX_VALIDATION_MESSAGES, 25);
        const { assert!(MAX_VALIDATION_MESSAGE_BYTES <= 500) };
        for m in &got {
            let all = [&m.field_path, &m.description, &m.validation_code];
            let bytes: usize = all.iter().map(|f| f.len()).sum();
            assert!(bytes <= 500, "{bytes} bytes");
            for f in all {
                assert!(!f.contains("TOPSECRET"), "{f}");
                assert!(!f.contains("s3cr"), "{f}");
                assert!(!f.chars().any(char::is_control), "{f:?}");
                assert!(f.contains("api_secret=***"), "{f}");
            }
        }
    }
}
