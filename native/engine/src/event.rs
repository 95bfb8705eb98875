//! GA4 events: what a report is made of, and reading them back from Erlang terms.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::value::read::{index, key, list};
use crate::value::{InputError, PathElem, Value};

/// Deepest nesting of a valid event list: list > event map > params map.
pub const EVENTS_MAX_DEPTH: usize = 3;

/// A param value: a string or a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A string (atoms are sent as strings).
    Str(String),
    /// An integer.
    Int(i64),
}

impl From<&str> for ParamValue {
    fn from(s: &str) -> Self {
        ParamValue::Str(s.to_string())
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
    pub name: String,
    /// Params by name.
    pub params: BTreeMap<String, ParamValue>,
}

impl Event {
    /// An event from a name and `(param, value)` pairs.
    pub fn new<V: Into<ParamValue>>(
        name: &str,
        params: impl IntoIterator<Item = (&'static str, V)>,
    ) -> Self {
        Event {
            name: name.to_string(),
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.into()))
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
                Value::Atom(k) if k == "name" => name = Some(name_text(val, &key(path, "name"))?),
                Value::Atom(k) if k == "params" => {
                    params = Some(read_params(val, &key(path, "params"))?)
                }
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

fn name_text(v: &Value, path: &[PathElem]) -> Result<String, InputError> {
    match v {
        Value::Binary(b) => String::from_utf8(b.clone())
            .map_err(|_| InputError::new(path, "binary is not valid UTF-8")),
        Value::Atom(a) => Ok(a.clone()),
        other => Err(InputError::new(
            path,
            format!("expected a binary, got {}", other.kind()),
        )),
    }
}

fn read_params(v: &Value, path: &[PathElem]) -> Result<BTreeMap<String, ParamValue>, InputError> {
    let Value::Map(entries) = v else {
        return Err(InputError::new(
            path,
            format!("expected a map, got {}", v.kind()),
        ));
    };
    let mut params = BTreeMap::new();
    for (i, (k, val)) in entries.iter().enumerate() {
        let name = name_text(k, &index(path, i))?;
        let p = {
            let mut p = path.to_vec();
            p.push(PathElem::Key(name.clone()));
            p
        };
        let value = match val {
            Value::Int(n) => ParamValue::Int(*n),
            Value::Binary(_) | Value::Atom(_) => ParamValue::Str(name_text(val, &p)?),
            other => {
                return Err(InputError::new(
                    &p,
                    format!("expected a binary or an integer, got {}", other.kind()),
                ))
            }
        };
        if params.insert(name, value).is_some() {
            return Err(InputError::new(&p, "duplicate param"));
        }
    }
    Ok(params)
}
