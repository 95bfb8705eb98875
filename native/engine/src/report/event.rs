//! GA4 events: what a report is made of, and reading them back from Erlang terms.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::node::value::read::{index, key, list};
use crate::node::value::{InputError, PathElem, Value};

/// Deepest nesting of a valid event list: list > event map > params map.
pub const EVENTS_MAX_DEPTH: usize = 3;

/// A name or text of an event: borrowed when a report is built from the allowlists' own
/// words, owned when it is made (version, uptime) or read back from a term.
pub type Text = Cow<'static, str>;

/// A param value: a string or a number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Event {
    /// Event name, e.g. `module_with_opt`.
    pub name: Text,
    /// Params by name.
    pub params: Params,
}

/// An event's params: a map from name to value, sorted by name, each name once.
///
/// A sorted `Vec` rather than a `BTreeMap`: events have a handful of params, and one exact
/// allocation is far cheaper to build, search and drop than a B-tree node. The methods
/// mirror `BTreeMap`'s (same results, same iteration order, same `Debug` and JSON output).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Params(Vec<(Text, ParamValue)>);

/// Iterator over `(name, value)` pairs of [`Params`], in name order.
pub type ParamsIter<'a> = std::iter::Map<
    std::slice::Iter<'a, (Text, ParamValue)>,
    fn(&(Text, ParamValue)) -> (&Text, &ParamValue),
>;

impl Params {
    /// No params.
    pub fn new() -> Self {
        Params(Vec::new())
    }

    /// No params, with room for `n`.
    pub fn with_capacity(n: usize) -> Self {
        Params(Vec::with_capacity(n))
    }

    /// Number of params.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no params.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(name))
    }

    /// The value of param `name`.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        // A handful of entries: a linear scan beats the binary search's branches.
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Whether param `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets param `name`; returns the value it replaces (the stored name is kept, as
    /// `BTreeMap::insert` does).
    pub fn insert(&mut self, name: Text, value: ParamValue) -> Option<ParamValue> {
        // Names usually come in order: appending needs no search.
        if self
            .0
            .last()
            .is_none_or(|(k, _)| k.as_ref() < name.as_ref())
        {
            self.0.push((name, value));
            return None;
        }
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    /// Removes param `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<ParamValue> {
        let i = self.position(name).ok()?;
        Some(self.0.remove(i).1)
    }

    /// `(name, value)` pairs in name order.
    pub fn iter(&self) -> ParamsIter<'_> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Names in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Text> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    /// Values in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &ParamValue> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = (&'a Text, &'a ParamValue);
    type IntoIter = ParamsIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<(Text, ParamValue)> for Params {
    /// Sorted by name; of repeated names the last value wins (as for `BTreeMap`).
    fn from_iter<I: IntoIterator<Item = (Text, ParamValue)>>(iter: I) -> Self {
        let mut all: Vec<(Text, ParamValue)> = iter.into_iter().collect();
        if all.windows(2).all(|w| w[0].0 < w[1].0) {
            return Params(all); // already sorted and distinct: the usual case
        }
        // Stable, so equal names keep their input order and the last one can be kept.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Text, ParamValue)> = Vec::with_capacity(all.len());
        for entry in all {
            match out.last_mut() {
                Some(last) if last.0 == entry.0 => last.1 = entry.1,
                _ => out.push(entry),
            }
        }
        Params(out)
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Params {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
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

/// The text of a binary or atom.
fn name_text(v: &Value) -> Result<Text, Refused> {
    match v {
        Value::Binary(b) => std::str::from_utf8(b)
            .map(|s| Cow::Owned(s.to_string()))
            .map_err(|_| Refused("binary is not valid UTF-8".into())),
        Value::Atom(a) => Ok(Cow::Owned(a.clone())),
        other => Err(Refused(format!("expected a binary, got {}", other.kind()))),
    }
}

/// Above this many entries a params map is collected through a `BTreeMap`: inserting into
/// the sorted `Vec` costs O(n) each, which a hostile 10,000-entry map would make quadratic.
const SMALL_PARAMS: usize = 32;

/// Reads `params` of the event at `event_path`.
fn read_params(v: &Value, event_path: &[PathElem]) -> Result<Params, InputError> {
    let path = || key(event_path, "params");
    let Value::Map(entries) = v else {
        return Err(InputError::new(
            &path(),
            format!("expected a map, got {}", v.kind()),
        ));
    };
    let mut small = Params::with_capacity(entries.len().min(SMALL_PARAMS));
    let mut big = (entries.len() > SMALL_PARAMS).then(BTreeMap::new);
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
        let duplicate = match &mut big {
            None => small.insert(name, value).is_some(),
            Some(big) => big.insert(name, value).is_some(),
        };
        if duplicate {
            // `name` moved into the map: read it again for the error.
            let name = name_text(k).unwrap_or_default();
            return Err(InputError::new(&at(&name), "duplicate param"));
        }
    }
    Ok(match big {
        None => small,
        Some(big) => Params(big.into_iter().collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn text(s: &str) -> Text {
        Cow::Owned(s.to_string())
    }

    #[test]
    fn params_behave_like_a_btreemap() {
        let keys = ["m", "b", "z", "a", "b", "m", "c", "a"];
        let (mut p, mut b) = (Params::new(), BTreeMap::new());
        for (i, k) in keys.iter().enumerate() {
            let v = ParamValue::Int(i as i64);
            assert_eq!(p.insert(text(k), v.clone()), b.insert(text(k), v));
            assert!(p.iter().eq(b.iter()));
        }
        assert_eq!(format!("{p:?}"), format!("{b:?}"));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        for k in ["a", "b", "x", ""] {
            assert_eq!(p.get(k), b.get(k));
            assert_eq!(p.contains_key(k), b.contains_key(k));
        }
        assert!(p.keys().eq(b.keys()) && p.values().eq(b.values()));
        assert_eq!(p.remove("b"), b.remove("b"));
        assert_eq!(p.remove("b"), None);
        assert!(p.iter().eq(b.iter()) && p.len() == b.len());
        let pairs = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (text(k), ParamValue::Int(i as i64)));
        let (p, b): (Params, BTreeMap<_, _>) = (pairs.clone().collect(), pairs.collect());
        assert!(
            p.iter().eq(b.iter()),
            "collect: the last value of a name wins"
        );
    }

    #[test]
    fn big_params_maps_read_the_same_and_report_the_first_duplicate() {
        let bin = |s: &str| Value::Binary(s.as_bytes().to_vec());
        let event = |params: Vec<(Value, Value)>| {
            Value::List(vec![Value::Map(vec![
                (Value::Atom("name".into()), bin("x")),
                (Value::Atom("params".into()), Value::Map(params)),
            ])])
        };
        for n in [3, 32, 33, 200] {
            let mut params: Vec<(Value, Value)> = (0..n)
                .rev()
                .map(|i| (bin(&format!("p{i}")), Value::Int(i)))
                .collect();
            let events = Event::list_from_value(&event(params.clone())).unwrap();
            let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
            let mut sorted = names.clone();
            sorted.sort();
            assert!(events[0]
                .params
                .keys()
                .map(|k| k.as_ref())
                .eq(sorted.iter()));
            params.push((bin("p1"), Value::Int(0)));
            params.push((bin("p0"), Value::Int(0)));
            let err = Event::list_from_value(&event(params)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "invalid input at [1, params, p1]: duplicate param"
            );
        }
    }
}
