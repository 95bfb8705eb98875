//! A configuration file's TOML text: parsing it, and the errors that make a file impossible to
//! preview (exit status 1), each naming the line or the key and never quoting a value.

use std::fmt;

use toml::Table;

use crate::printable::printable;

/// Why a configuration cannot be previewed (exit status 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the file: {0}")]
    Read(String),
    /// Not TOML. The message is the parser's, without the file's text (a line may hold a
    /// secret).
    #[error("{at}: {message}")]
    Parse {
        /// Where.
        at: Position,
        /// What is wrong.
        message: String,
    },
    /// A value of the wrong shape; the reason never quotes the value.
    #[error("{}: {reason}", printable(key))]
    Invalid {
        /// The dotted key, e.g. `general.hosts[2]`.
        key: String,
        /// What was expected.
        reason: String,
    },
}

/// Where a syntax error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Where the parser says: 1-based line and column (in characters).
    At {
        /// The line.
        line: usize,
        /// The column.
        column: usize,
    },
    /// The parser names no position (past its recursion limit, for one): the line that makes
    /// the file, read up to it, fail with the same error.
    Line(usize),
    /// Neither the parser nor that search found where.
    Unknown,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::At { line, column } => write!(f, "line {line}, column {column}"),
            Position::Line(line) => write!(f, "line {line}"),
            Position::Unknown => f.write_str("at an unknown position"),
        }
    }
}

/// An error at `key`.
pub fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Parses TOML text, locating a syntax error by line and column.
pub fn parse_toml(text: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| {
        let message = e.message().trim().to_string();
        let at = match e.span() {
            Some(span) => line_and_column(text, span.start),
            None => first_failing_line(text, &message),
        };
        ConfigError::Parse { at, message }
    })
}

fn line_and_column(text: &str, offset: usize) -> Position {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    Position::At {
        line: before.matches('\n').count() + 1,
        column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
    }
}

/// A line that the error is on: one such that the text up to it fails with this error and
/// no position, and the text up to the line before does not. Found by bisection (the text
/// up to no line parses, the whole text fails).
fn first_failing_line(text: &str, message: &str) -> Position {
    let ends: Vec<usize> = text
        .split_inclusive('\n')
        .scan(0, |end, line| {
            *end += line.len();
            Some(*end)
        })
        .collect();
    let fails = |lines: usize| {
        let end = if lines == 0 { 0 } else { ends[lines - 1] };
        matches!(text[..end].parse::<Table>(),
                 Err(e) if e.span().is_none() && e.message().trim() == message)
    };
    let (mut good, mut bad) = (0, ends.len());
    if fails(good) || !fails(bad) {
        return Position::Unknown;
    }
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if fails(mid) {
            bad = mid;
        } else {
            good = mid;
        }
    }
    Position::Line(bad)
}
