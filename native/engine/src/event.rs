//! GA4 events: what a report is made of, and reading them back from Erlang terms.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::privacy;

use crate::value::read::{index, key, list};
use crate::value::{InputError, PathElem, Value};

/// Deepest nesting of a valid event list: list > event map > params map.
pub const EVENTS_MAX_DEPTH: usize = 3;

/// A name or text of an event: borrowed from the allowlists when it is one of their words
/// (nearly always), owned otherwise (version, uptime, or text read back that is not on them).
pub type Text = Cow<'static, str>;

/// A param value: a string or a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A string (atoms are sent as strings).
    Str(Text),
    /// An integer.
    Int(i64),
}

impl From<&'static str> for ParamValue {
    fn from(s: &'static str) -> Self {
        ParamValue::Str(Cow::Borrowed(s))
    }
}

impl From<String> for ParamValue {
    fn from(s: String) -> Self {
        ParamValue::Str(Cow::Owned(s))
    }
}

impl From<i64> for ParamValue {
    fn from(n: i64) -> Self {
        ParamValue::Int(n)
    }
}

/// One GA4 event. Params are kept sorted by name so output is deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Event name, e.g. `module_with_opt`.
    pub name: Text,
    /// Params by name.
    pub params: BTreeMap<Text, ParamValue>,
}

impl Event {
    /// An event from a name and `(param, value)` pairs.
    pub fn new<V: Into<ParamValue>>(
        name: &'static str,
        params: impl IntoIterator<Item = (&'static str, V)>,
    ) -> Self {
        Event {
            name: Cow::Borrowed(name),
            params: params
                .into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), v.into()))
                .collect(),
        }
    }

    /// Reads a list of events (`[#{name := binary(), params := #{binary() => binary() |
    /// integer()}}]`); atoms are accepted where binaries are expected.
    pub fn list_from_value(v: &Value) -> Result<Vec<Event>, InputError> {
        list(v, &[])?
            .iter()
            .enumerate()
            .map(|(i, item)| Event::from_value(item, &index(&[], i)))
            .collect()
    }

    fn from_value(v: &Value, path: &[PathElem]) -> Result<Event, InputError> {
        let Value::Map(entries) = v else {
            return Err(InputError::new(
                path,
                format!("expected a map, got {}", v.kind()),
            ));
        };
        let (mut name, mut params) = (None, None);
        for (k, val) in entries {
            match k {
                // Paths are built only on error: this runs for every event of every send.
                Value::Atom(k) if &**k == "name" => {
                    name = Some(name_text(val).map_err(|r| r.at(&key(path, "name")))?)
                }
                Value::Atom(k) if &**k == "params" => params = Some(read_params(val, path)?),
                Value::Atom(_) => return Err(InputError::new(path, "unknown key")),
                other => {
                    return Err(InputError::new(
                        path,
                        format!("map keys must be atoms, got {}", other.kind()),
                    ))
                }
            }
        }
        Ok(Event {
            name: name.ok_or_else(|| InputError::new(path, "missing required key name"))?,
            params: params.ok_or_else(|| InputError::new(path, "missing required key params"))?,
        })
    }
}

/// Why a value was refused, before its path is known (paths are only built on error).
struct Refused(String);

impl Refused {
    fn at(self, path: &[PathElem]) -> InputError {
        InputError::new(path, self.0)
    }
}

/// The text of a binary or atom: the allowlists' own copy when it is one of their words, so
/// reading back what `build_report` produced allocates nothing for names and most values.
fn name_text(v: &Value) -> Result<Text, Refused> {
    let s = match v {
        Value::Binary(b) => {
            std::str::from_utf8(b).map_err(|_| Refused("binary is not valid UTF-8".into()))?
        }
        Value::Atom(a) => &**a,
        other => return Err(Refused(format!("expected a binary, got {}", other.kind()))),
    };
    Ok(match privacy::interned(s) {
        Some(word) => Cow::Borrowed(word),
        None => Cow::Owned(s.to_string()),
    })
}

/// Reads `params` of the event at `event_path`.
fn read_params(
    v: &Value,
    event_path: &[PathElem],
) -> Result<BTreeMap<Text, ParamValue>, InputError> {
    let path = || key(event_path, "params");
    let Value::Map(entries) = v else {
        return Err(InputError::new(
            &path(),
            format!("expected a map, got {}", v.kind()),
        ));
    };
    let mut params = BTreeMap::new();
    for (i, (k, val)) in entries.iter().enumerate() {
        let name = name_text(k).map_err(|r| r.at(&index(&path(), i)))?;
        let at = |name: &str| {
            let mut p = path();
            p.push(PathElem::Key(name.to_string()));
            p
        };
        let value = match val {
            Value::Int(n) => ParamValue::Int(*n),
            Value::Binary(_) | Value::Atom(_) => {
                ParamValue::Str(name_text(val).map_err(|r| r.at(&at(&name)))?)
            }
            other => {
                return Err(InputError::new(
                    &at(&name),
                    format!("expected a binary or an integer, got {}", other.kind()),
                ))
            }
        };
        if params.insert(name, value).is_some() {
            // `name` moved into the map: read it again for the error.
            let name = name_text(k).unwrap_or_default();
            return Err(InputError::new(&at(&name), "duplicate param"));
        }
    }
    Ok(params)
}
