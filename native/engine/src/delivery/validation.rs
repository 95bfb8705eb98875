//! The answer of GA4's validation server (`/debug/mp/collect`): its messages, read leniently
//! (anything unexpected gives no message, never an error) and bounded.

use serde_json::Value as Json;

use crate::delivery::outcome::ValidationMessage;

/// Validation message fields are truncated to this many characters.
pub const MAX_VALIDATION_FIELD_CHARS: usize = 256;

/// At most this many validation messages are kept per tracking id.
pub const MAX_VALIDATION_MESSAGES: usize = 1000;

/// Parses the validation server's answer:
/// `{"validationMessages": [{"fieldPath", "description", "validationCode"}]}`.
/// Anything unexpected yields no message rather than an error.
pub fn parse_validation_messages(body: &[u8]) -> Vec<ValidationMessage> {
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
            field_path: field(m, "fieldPath"),
            description: field(m, "description"),
            validation_code: field(m, "validationCode"),
        })
        .collect()
}

fn field(message: &Json, name: &str) -> String {
    let text = match message.get(name) {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    truncate_chars(text, MAX_VALIDATION_FIELD_CHARS)
}

fn truncate_chars(mut text: String, max: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max) {
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
        let got = parse_validation_messages(body);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].field_path, "events");
        assert_eq!(got[0].description, "Event name is invalid");
        assert_eq!(got[0].validation_code, "NAME_INVALID");
        assert_eq!(got[1].description, "");
        assert_eq!(got[2].field_path, "12");
        assert!(parse_validation_messages(br#"{"validationMessages":[]}"#).is_empty());
        assert!(parse_validation_messages(b"").is_empty());
        assert!(parse_validation_messages(b"{\"validationMessages\":").is_empty());
        assert!(parse_validation_messages(b"[1,2]").is_empty());
    }

    #[test]
    fn truncates_fields_by_characters() {
        let long = "é".repeat(300);
        let body = serde_json::json!({"validationMessages": [{"description": long}]}).to_string();
        let got = parse_validation_messages(body.as_bytes());
        assert_eq!(got[0].description.chars().count(), 256);
        assert_eq!(truncate_chars("abc".into(), 256), "abc");
    }
}
