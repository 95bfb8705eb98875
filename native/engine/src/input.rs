//! The view of an input term that the NodeInfo reader walks. The NIF implements
//! [`InputTerm`] for the VM's own terms, so a NodeInfo is read in place with no copy of
//! the input; [`Value`] implements it for tests and other callers.
//!
//! The reader never goes deeper than its schema, so depth needs no budget of its own; the
//! items it reads are counted by an [`ItemBudget`] and binaries are size-checked as they are
//! read.

use crate::value::{Atom, InputError, Path, PathElem, Value, MAX_BINARY_BYTES, MAX_ITEMS};

/// A list whose last tail is not `[]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImproperList;

/// What one input term is, with a way into its contents.
pub enum Shape<'a, T: InputTerm<'a>> {
    /// An atom's name (`true` and `false` included).
    Atom(&'a str),
    /// A binary's bytes (not necessarily UTF-8).
    Binary(&'a [u8]),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A list: its items, then `Err` when its tail is not `[]`.
    List(T::Items),
    /// A map: its size (walk it with [`InputTerm::entries`]).
    Map(usize),
    /// Anything else (float, pid, tuple, big integer...), named for error messages.
    Other(&'static str),
}

impl<'a, T: InputTerm<'a>> Shape<'a, T> {
    /// A short name of the term's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Shape::Atom(_) => "atom",
            Shape::Binary(_) => "binary",
            Shape::Int(_) => "integer",
            Shape::List(_) => "list",
            Shape::Map(_) => "map",
            Shape::Other(kind) => kind,
        }
    }
}

/// An input term the readers can look into. Cheap to copy: a handle, not the data.
pub trait InputTerm<'a>: Copy {
    /// A list's items; cloning restarts the walk where it stands (a cursor, not a copy).
    type Items: Iterator<Item = Result<Self, ImproperList>> + Clone;
    /// A map's `(key, value)` entries.
    type Entries: Iterator<Item = (Self, Self)>;
    /// What this term is.
    fn shape(self) -> Shape<'a, Self>;
    /// A map's entries, in the term's order (none when it is not a map).
    fn entries(self) -> Self::Entries;
}

impl<'a> InputTerm<'a> for &'a Value {
    type Items = std::iter::Map<
        std::slice::Iter<'a, Value>,
        fn(&'a Value) -> Result<&'a Value, ImproperList>,
    >;
    type Entries = std::iter::Map<
        std::slice::Iter<'a, (Value, Value)>,
        fn(&'a (Value, Value)) -> (&'a Value, &'a Value),
    >;

    fn shape(self) -> Shape<'a, Self> {
        match self {
            Value::Atom(a) => Shape::Atom(a.as_str()),
            Value::Binary(b) => Shape::Binary(b),
            Value::Int(n) => Shape::Int(*n),
            Value::Float(_) => Shape::Other("float"),
            // An improper list is `Other("improper list")` in a decoded tree.
            Value::List(items) => Shape::List(items.iter().map(Ok as fn(_) -> _)),
            Value::Map(entries) => Shape::Map(entries.len()),
            Value::Other(kind) => Shape::Other(kind),
        }
    }

    fn entries(self) -> Self::Entries {
        let entries: &[(Value, Value)] = match self {
            Value::Map(entries) => entries,
            _ => &[],
        };
        entries.iter().map(pair as fn(_) -> _)
    }
}

fn pair((k, v): &(Value, Value)) -> (&Value, &Value) {
    (k, v)
}

/// Counts the list items and map entries one input may hold ([`MAX_ITEMS`] in all).
#[derive(Debug)]
pub struct ItemBudget {
    items_left: usize,
}

impl Default for ItemBudget {
    fn default() -> Self {
        ItemBudget {
            items_left: MAX_ITEMS,
        }
    }
}

impl ItemBudget {
    /// Accounts for a list's items all at once, before any is read, so that a list longer
    /// than the budget is reported at the list without reading it; walks at most one cell
    /// past the budget. `Err` at the list itself: too long, or improper.
    pub fn take_list<'a, T: InputTerm<'a>>(
        &mut self,
        items: &T::Items,
    ) -> Result<usize, InputError> {
        let mut len = 0;
        for item in items.clone().take(self.items_left.saturating_add(1)) {
            if item.is_err() {
                return Err(InputError::new(&[], "improper list"));
            }
            len += 1;
        }
        self.take(&[], len)?;
        Ok(len)
    }

    /// Accounts for `n` more items of the container at `path`.
    pub fn take(&mut self, path: &[PathElem], n: usize) -> Result<(), InputError> {
        if n > self.items_left {
            return Err(InputError::new(
                path,
                format!("more than {MAX_ITEMS} list items in total"),
            ));
        }
        self.items_left -= n;
        Ok(())
    }
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

/// Reads each item of the list `v` with `read`, counting it against `budget`. Paths are
/// relative to the list and built only on error.
pub fn each_item<'a, T: InputTerm<'a>, R>(
    v: T,
    budget: &mut ItemBudget,
    mut read: impl FnMut(T, &mut ItemBudget) -> Result<R, InputError>,
) -> Result<Vec<R>, InputError> {
    let Shape::List(items) = v.shape() else {
        return Err(expected("a list", &v.shape()));
    };
    let len = budget.take_list::<T>(&items)?;
    let mut out = Vec::with_capacity(len);
    for (i, item) in items.enumerate() {
        let item = item.map_err(|ImproperList| InputError::new(&[], "improper list"))?;
        out.push(read(item, budget).map_err(|e| under(&index(&[], i), e))?);
    }
    Ok(out)
}

/// Reads each entry of the map `v`, whose keys must be atoms, with `read` (given the key's
/// name), counting the entries against `budget`. Error paths are relative to the map; an
/// error from `read` is put under its key.
pub fn each_entry<'a, T: InputTerm<'a>>(
    v: T,
    budget: &mut ItemBudget,
    mut read: impl FnMut(&'a str, T, &mut ItemBudget) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let Shape::Map(len) = v.shape() else {
        return Err(expected("a map", &v.shape()));
    };
    budget.take(&[], len)?;
    for (k, value) in v.entries() {
        let Shape::Atom(name) = k.shape() else {
            return Err(InputError::new(
                &[],
                format!("map keys must be atoms, got {}", k.shape().kind()),
            ));
        };
        read(name, value, budget).map_err(|e| under(&key(&[], name), e))?;
    }
    Ok(())
}

/// "expected `what`, got `kind`" at the term itself.
fn expected<'a, T: InputTerm<'a>>(what: &str, got: &Shape<'a, T>) -> InputError {
    InputError::new(&[], format!("expected {what}, got {}", got.kind()))
}

/// An atom's name.
pub fn atom<'a, T: InputTerm<'a>>(v: T) -> Result<&'a str, InputError> {
    match v.shape() {
        Shape::Atom(a) => Ok(a),
        other => Err(expected("an atom", &other)),
    }
}

/// A non-negative integer.
pub fn non_neg<'a, T: InputTerm<'a>>(v: T) -> Result<i64, InputError> {
    match v.shape() {
        Shape::Int(n) if n >= 0 => Ok(n),
        Shape::Int(_) => Err(InputError::new(&[], "expected a non-negative integer")),
        other => Err(expected("a non-negative integer", &other)),
    }
}

/// A binary of at most [`MAX_BINARY_BYTES`] bytes, as UTF-8 text.
pub fn binary_text<'a, T: InputTerm<'a>>(v: T) -> Result<&'a str, InputError> {
    match v.shape() {
        Shape::Binary(b) => utf8(b),
        other => Err(expected("a binary", &other)),
    }
}

/// A binary's bytes as UTF-8 text, at most [`MAX_BINARY_BYTES`] long.
pub fn utf8(b: &[u8]) -> Result<&str, InputError> {
    if b.len() > MAX_BINARY_BYTES {
        return Err(InputError::new(
            &[],
            format!("binary longer than {MAX_BINARY_BYTES} bytes"),
        ));
    }
    std::str::from_utf8(b).map_err(|_| InputError::new(&[], "binary is not valid UTF-8"))
}

/// Most items a copied list or map reserves room for at once: a reader may stop early (the
/// NIF's soft bound), so a large container's room is grown as it is filled.
const PREALLOCATED_ITEMS: usize = 256;

/// Copies any input term into a [`Value`] tree under the input limits: at most
/// [`MAX_ITEMS`] list items and map entries in all, containers at most `max_depth` deep,
/// binaries of at most [`MAX_BINARY_BYTES`]. Improper lists and terms the engine does not
/// read become [`Value::Other`], for the schema readers to reject with a path.
pub fn to_value<'a, T: InputTerm<'a>>(v: T, max_depth: usize) -> Result<Value, InputError> {
    to_value_within(v, &mut ItemBudget::default(), max_depth)
}

fn to_value_within<'a, T: InputTerm<'a>>(
    v: T,
    budget: &mut ItemBudget,
    depth_left: usize,
) -> Result<Value, InputError> {
    let deeper = |budget: &mut ItemBudget, v: T| {
        if depth_left == 0 {
            return Err(InputError::new(&[], "nested deeper than the schema allows"));
        }
        to_value_within(v, budget, depth_left - 1)
    };
    Ok(match v.shape() {
        Shape::Atom(a) => Value::Atom(Atom::from(a)),
        Shape::Binary(b) => {
            if b.len() > MAX_BINARY_BYTES {
                return Err(InputError::new(
                    &[],
                    format!("binary longer than {MAX_BINARY_BYTES} bytes"),
                ));
            }
            Value::Binary(b.to_vec())
        }
        Shape::Int(n) => Value::Int(n),
        Shape::Other(kind) => Value::Other(kind),
        Shape::List(_) | Shape::Map(_) if depth_left == 0 => {
            return Err(InputError::new(&[], "nested deeper than the schema allows"))
        }
        Shape::List(items) => {
            let len = match budget.take_list::<T>(&items) {
                Err(e) if e.reason == "improper list" => return Ok(Value::Other("improper list")),
                other => other?,
            };
            let mut out = Vec::with_capacity(len.min(PREALLOCATED_ITEMS));
            for (i, item) in items.enumerate() {
                let Ok(item) = item else {
                    return Ok(Value::Other("improper list"));
                };
                out.push(deeper(budget, item).map_err(|e| under(&index(&[], i), e))?);
            }
            Value::List(out)
        }
        Shape::Map(len) => {
            budget.take(&[], len)?;
            let mut out = Vec::with_capacity(len.min(PREALLOCATED_ITEMS));
            for (i, (k, v)) in v.entries().enumerate() {
                let key = deeper(budget, k)?;
                // The key's path element is built only on error (it is a copy of the key).
                let value = deeper(budget, v).map_err(|e| {
                    let elem = match &key {
                        Value::Atom(a) => PathElem::Key(a.to_string()),
                        Value::Binary(b) => PathElem::Key(String::from_utf8_lossy(b).into_owned()),
                        _ => PathElem::Index(i + 1),
                    };
                    under(&[elem], e)
                })?;
                out.push((key, value));
            }
            Value::Map(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Value {
        Value::Atom(s.into())
    }

    #[test]
    fn budget_counts_items_across_containers() {
        let mut b = ItemBudget::default();
        b.take(&[], 6_000).unwrap();
        let err = b
            .take(&[PathElem::Key("modules".into())], 4_001)
            .unwrap_err();
        assert_eq!(err.path, vec![PathElem::Key("modules".into())]);
        assert!(err.reason.contains("10000"), "{}", err.reason);
        b.take(&[], 4_000).unwrap();
    }

    #[test]
    fn to_value_keeps_the_limits() {
        let nested = Value::List(vec![Value::List(vec![atom("x")])]);
        assert_eq!(to_value(&nested, 2).unwrap(), nested);
        let err = to_value(&nested, 1).unwrap_err();
        assert_eq!(err.path, vec![PathElem::Index(1)]);
        let long = Value::Map(vec![(atom("version"), Value::Binary(vec![b'1'; 257]))]);
        let err = to_value(&long, 3).unwrap_err();
        assert_eq!(err.path, vec![PathElem::Key("version".into())]);
        assert!(err.reason.contains("256"), "{}", err.reason);
        let many = Value::List(vec![Value::List(vec![Value::Int(1); 6_000]); 2]);
        let err = to_value(&many, 3).unwrap_err();
        assert_eq!(err.path, vec![PathElem::Index(2)]);
        assert_eq!(
            to_value(&Value::Float(1.5), 1).unwrap(),
            Value::Other("float")
        );
    }

    #[test]
    fn readers_name_the_path_and_the_shape() {
        let map = Value::Map(vec![
            (atom("a"), Value::Int(1)),
            (Value::Int(2), Value::Int(3)),
        ]);
        let mut seen = Vec::new();
        let err = each_entry(&map, &mut ItemBudget::default(), |k, v, _| {
            seen.push((k.to_string(), non_neg(v)?));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(seen, vec![("a".to_string(), 1)]);
        assert_eq!(err.reason, "map keys must be atoms, got integer");
        let list = Value::List(vec![atom("x"), Value::Int(1)]);
        let err = each_item(&list, &mut ItemBudget::default(), |v, _| super::atom(v)).unwrap_err();
        assert_eq!(err.path, vec![PathElem::Index(2)]);
        assert_eq!(err.reason, "expected an atom, got integer");
        let err = binary_text(&Value::Binary(vec![0xff])).unwrap_err();
        assert_eq!(err.reason, "binary is not valid UTF-8");
    }
}
