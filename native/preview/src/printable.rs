//! Text from the configuration file, as printed: unchanged when every character of it is
//! printable, else quoted with Rust's escapes (`"G-\0\u{1b}[2J"`), so that no control
//! character or terminal escape sequence written in the file reaches a terminal, and a
//! printed value is never mistaken for a different one.

use std::borrow::Cow;

/// `text` as is, or quoted with escapes when a character of it is not printable.
pub fn printable(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_printable) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("{text:?}"))
    }
}

/// Not a control character, and shown as itself by Rust's escapes, which escape what
/// Unicode does not print (format characters such as the bidirectional overrides, ...);
/// the backslash and quotes are escaped too, but printable.
fn is_printable(c: char) -> bool {
    !c.is_control() && (matches!(c, '\\' | '\'' | '"') || c.escape_debug().next() != Some('\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_is_unchanged_the_rest_quoted_and_escaped() {
        for text in ["G-SAMPLE0001", "G 1", "café", "a\\b", "say \"hi\"", ""] {
            assert_eq!(printable(text), text);
        }
        let cases = [
            ("G-\0", r#""G-\0""#),
            ("G-\u{1b}[2J", r#""G-\u{1b}[2J""#),
            ("line\nbreak", r#""line\nbreak""#),
            ("tab\there", r#""tab\there""#),
            ("\u{202e}1-G", r#""\u{202e}1-G""#),
            ("del\u{7f}", r#""del\u{7f}""#),
            ("\u{1b}\"q\"", r#""\u{1b}\"q\"""#),
        ];
        for (text, shown) in cases {
            assert_eq!(printable(text), shown, "{text:?}");
        }
    }
}
