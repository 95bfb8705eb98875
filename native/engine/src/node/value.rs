//! A generic, already size-checked picture of an Erlang term, and the input error type.
//!
//! The NIF decodes every input term into a [`Value`] tree under the input limits (the list
//! items and map entries of [`Limits`], [`MAX_BINARY_BYTES`] per binary, no deeper than the
//! schema); the schema readers (NodeInfo, events, send options) read it, reporting the
//! [`Path`] of anything wrong.

use std::fmt;

use thiserror::Error;

/// Longest binary in a NodeInfo or an event, in bytes.
pub const MAX_BINARY_BYTES: usize = 256;

/// How much one input may hold: list items and map entries in total, bytes per binary. More
/// is refused before anything is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// List items, all lists together.
    pub list_items: usize,
    /// Map entries, all maps together.
    pub map_entries: usize,
    /// Bytes of the longest binary.
    pub binary_bytes: usize,
}

/// A NodeInfo: the contract's 10,000 list items and 256-byte binaries. Every module entry is
/// a map of a few entries, so a node of 10,000 module entries (say 200 host types of 50
/// modules) is taken whole.
pub const NODE_INFO_LIMITS: Limits = Limits {
    list_items: 10_000,
    map_entries: 100_000,
    binary_bytes: MAX_BINARY_BYTES,
};

/// A list of events: room for every event a NodeInfo within [`NODE_INFO_LIMITS`] builds
/// (about one per list item, each a map of at most GA4's 25 params and two keys).
pub const EVENTS_LIMITS: Limits = Limits {
    list_items: 20_000,
    map_entries: 600_000,
    binary_bytes: MAX_BINARY_BYTES,
};

/// Send options: paths (`cacertfile`) and URLs may be long, and a tracking id or secret
/// longer than GA4 takes must reach the tracking-id rules, which set that id apart
/// (`invalid_tracking_id`) and send the others, rather than refuse the whole send.
pub const OPTIONS_LIMITS: Limits = Limits {
    list_items: 10_000,
    map_entries: 1_000,
    binary_bytes: 4_096,
};

/// An Erlang term, as far as the engine cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An atom's name (`true` and `false` included). Atoms are never created from these.
    Atom(String),
    /// A binary, raw bytes (not necessarily UTF-8).
    Binary(Vec<u8>),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A float.
    Float(f64),
    /// A proper list.
    List(Vec<Value>),
    /// A map, entries in the term's order.
    Map(Vec<(Value, Value)>),
    /// Anything else (pid, reference, fun, tuple, big integer, improper list, bitstring...),
    /// named for error messages.
    Other(&'static str),
}

impl Value {
    /// Whether this value is within `limits`, counted as the NIF counts a term while decoding
    /// it: for a value built in Rust (the preview's node facts) that must be refused where a
    /// node's NIF would refuse the same term. The error has no path: the whole input is over.
    pub fn check_limits(&self, limits: Limits) -> Result<(), InputError> {
        let (mut items, mut entries) = (0usize, 0usize);
        let mut stack = vec![self];
        while let Some(v) = stack.pop() {
            match v {
                Value::Binary(b) if b.len() > limits.binary_bytes => {
                    let reason = format!("binary longer than {} bytes", limits.binary_bytes);
                    return Err(InputError::new(&[], reason));
                }
                Value::List(l) => {
                    items += l.len();
                    stack.extend(l);
                }
                Value::Map(m) => {
                    entries += m.len();
                    stack.extend(m.iter().flat_map(|(k, v)| [k, v]));
                }
                _ => {}
            }
            if items > limits.list_items {
                let reason = format!("more than {} list items in total", limits.list_items);
                return Err(InputError::new(&[], reason));
            }
            if entries > limits.map_entries {
                let reason = format!("more than {} map entries in total", limits.map_entries);
                return Err(InputError::new(&[], reason));
            }
        }
        Ok(())
    }

    /// A short name of the term's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Atom(_) => "atom",
            Value::Binary(_) => "binary",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Other(kind) => kind,
        }
    }
}

/// One step of a path into the input: a map key or a 1-based list position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathElem {
    /// A map key (an atom in the input or in the schema).
    Key(String),
    /// A 1-based position in a list.
    Index(usize),
}

/// Where in the input a problem is.
pub type Path = Vec<PathElem>;

/// Bad input: where it is and why, in a short readable sentence.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid input at {}: {reason}", PathDisplay(path))]
pub struct InputError {
    /// Where the problem is.
    pub path: Path,
    /// Why it is a problem.
    pub reason: String,
}

impl InputError {
    /// An error at `path` for `reason`.
    pub fn new(path: &[PathElem], reason: impl Into<String>) -> Self {
        InputError {
            path: path.to_vec(),
            reason: reason.into(),
        }
    }
}

struct PathDisplay<'a>(&'a [PathElem]);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, elem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match elem {
                PathElem::Key(k) => f.write_str(k)?,
                PathElem::Index(n) => write!(f, "{n}")?,
            }
        }
        f.write_str("]")
    }
}

/// Reading helpers shared by the schema readers.
pub(crate) mod read {
    use super::*;

    /// The entries of a map whose keys must all be atoms, with their key names. All keys are
    /// checked before the first entry is returned; the entries are not copied.
    pub fn atom_keyed_map<'a>(
        v: &'a Value,
        path: &[PathElem],
    ) -> Result<impl Iterator<Item = (&'a str, &'a Value)> + use<'a>, InputError> {
        let Value::Map(entries) = v else {
            return Err(InputError::new(
                path,
                format!("expected a map, got {}", v.kind()),
            ));
        };
        if let Some((other, _)) = entries.iter().find(|(k, _)| !matches!(k, Value::Atom(_))) {
            return Err(InputError::new(
                path,
                format!("map keys must be atoms, got {}", other.kind()),
            ));
        }
        Ok(entries.iter().filter_map(|(k, v)| match k {
            Value::Atom(name) => Some((name.as_str(), v)),
            _ => None,
        }))
    }

    /// Appends a key to a path.
    pub fn key(path: &[PathElem], k: &str) -> Path {
        let mut p = path.to_vec();
        p.push(PathElem::Key(k.to_string()));
        p
    }

    /// Appends a 0-based list index to a path, as a 1-based position.
    pub fn index(path: &[PathElem], i: usize) -> Path {
        let mut p = path.to_vec();
        p.push(PathElem::Index(i + 1));
        p
    }

    /// `e` with `prefix` put before its path.
    pub fn under(prefix: &[PathElem], mut e: InputError) -> InputError {
        e.path.splice(0..0, prefix.iter().cloned());
        e
    }

    /// A proper list.
    pub fn list<'a>(v: &'a Value, path: &[PathElem]) -> Result<&'a [Value], InputError> {
        match v {
            Value::List(items) => Ok(items),
            other => Err(InputError::new(
                path,
                format!("expected a list, got {}", other.kind()),
            )),
        }
    }

    /// An atom's name.
    pub fn atom<'a>(v: &'a Value, path: &[PathElem]) -> Result<&'a str, InputError> {
        match v {
            Value::Atom(a) => Ok(a.as_str()),
            other => Err(InputError::new(
                path,
                format!("expected an atom, got {}", other.kind()),
            )),
        }
    }

    /// A non-negative integer.
    pub fn non_neg(v: &Value, path: &[PathElem]) -> Result<i64, InputError> {
        match v {
            Value::Int(n) if *n >= 0 => Ok(*n),
            Value::Int(_) => Err(InputError::new(path, "expected a non-negative integer")),
            other => Err(InputError::new(
                path,
                format!("expected a non-negative integer, got {}", other.kind()),
            )),
        }
    }

    /// A UTF-8 text given as a binary, or as a string (a list of character codes) no longer
    /// than an options binary may be. Texts are options only (ids, secrets, URLs, paths).
    pub fn text(v: &Value, path: &[PathElem]) -> Result<String, InputError> {
        let longest = OPTIONS_LIMITS.binary_bytes;
        match v {
            Value::Binary(b) => String::from_utf8(b.clone())
                .map_err(|_| InputError::new(path, "binary is not valid UTF-8")),
            Value::List(chars) => {
                if chars.len() > longest {
                    return Err(InputError::new(
                        path,
                        format!("string longer than {longest} characters"),
                    ));
                }
                chars
                    .iter()
                    .map(|c| match c {
                        Value::Int(n) => u32::try_from(*n).ok().and_then(char::from_u32),
                        _ => None,
                    })
                    .collect::<Option<String>>()
                    .ok_or_else(|| InputError::new(path, "expected a string or a binary"))
            }
            other => Err(InputError::new(
                path,
                format!("expected a binary or a string, got {}", other.kind()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_list_items_map_entries_and_binary_bytes_as_the_nif_does() {
        let limits = Limits {
            list_items: 3,
            map_entries: 2,
            binary_bytes: 4,
        };
        let atom = |s: &str| Value::Atom(s.into());
        let three = Value::List(vec![atom("a"), atom("b"), atom("c")]);
        assert!(three.check_limits(limits).is_ok());
        let nested = Value::List(vec![Value::List(vec![atom("a"), atom("b")]), atom("c")]);
        let err = nested.check_limits(limits).unwrap_err();
        assert_eq!(err.reason, "more than 3 list items in total");
        let maps = Value::Map(vec![
            (atom("a"), Value::Map(vec![(atom("b"), Value::Int(1))])),
            (atom("c"), Value::Int(2)),
        ]);
        let err = maps.check_limits(limits).unwrap_err();
        assert_eq!(err.reason, "more than 2 map entries in total");
        assert!(Value::Binary(b"four".to_vec()).check_limits(limits).is_ok());
        let err = Value::Binary(b"fives".to_vec())
            .check_limits(limits)
            .unwrap_err();
        assert_eq!(err.reason, "binary longer than 4 bytes");
    }

    #[test]
    fn atoms_are_compared_and_shown_by_name() {
        let acme = Value::Atom("mod_acme".into());
        assert_eq!(format!("{acme:?}"), "Atom(\"mod_acme\")");
        assert_eq!(acme, Value::Atom(String::from("mod_acme")));
        assert_ne!(acme, Value::Atom("mod_acme_".into()));
        assert_ne!(acme, Value::Binary(b"mod_acme".to_vec()));
        assert_eq!(read::atom(&acme, &[]).unwrap(), "mod_acme");
    }

    #[test]
    fn error_display_shows_path() {
        let e = InputError::new(
            &[PathElem::Key("modules".into()), PathElem::Index(3)],
            "bad",
        );
        assert_eq!(e.to_string(), "invalid input at [modules, 3]: bad");
    }

    #[test]
    fn text_accepts_binaries_and_charlists_only() {
        assert_eq!(
            read::text(&Value::Binary(b"ab".to_vec()), &[]).unwrap(),
            "ab"
        );
        let chars = Value::List(vec![Value::Int(104), Value::Int(105)]);
        assert_eq!(read::text(&chars, &[]).unwrap(), "hi");
        assert!(read::text(&Value::Binary(vec![0xff]), &[]).is_err());
        assert!(read::text(&Value::List(vec![Value::Int(-1)]), &[]).is_err());
        assert!(read::text(&Value::Atom("x".into()), &[]).is_err());
    }
}
