//! Erlang terms into the engine's [`Value`], under the input limits: at most the list items
//! and map entries of the input's [`Limits`] in all, binaries no longer than its bound, containers
//! no deeper than the schema. Each size is checked before anything is copied. Atoms are only
//! read by name, never created; whatever the engine does not read (pids, tuples, floats...)
//! becomes a named [`Value::Other`] for the schema readers to refuse with a path.

use mongoose_system_metrics_engine::node::value::{InputError, Limits, PathElem, Value};
use rustler::types::MapIterator;
use rustler::{Binary, LocalPid, Term, TermType};

/// Copies `term` into a `Value` for a schema at most `max_depth` containers deep.
pub fn decode(term: Term, max_depth: usize, limits: Limits) -> Result<Value, InputError> {
    Decoder {
        limits,
        items_left: limits.list_items,
        entries_left: limits.map_entries,
    }
    .value(term, max_depth)
}

/// One decoding: the list items and map entries still allowed.
struct Decoder {
    limits: Limits,
    items_left: usize,
    entries_left: usize,
}

impl Decoder {
    fn value(&mut self, term: Term, depth_left: usize) -> Result<Value, InputError> {
        Ok(match term.get_type() {
            TermType::Atom => match term.atom_to_string() {
                Ok(name) => Value::Atom(name),
                // Not Latin-1 (e.g. '模块'): NIF 2.16 reads atoms only as Latin-1, so the
                // name is taken from the atom's external format (UTF-8, at most 255
                // characters), and the schema treats it as any other name.
                Err(_) => utf8_atom_name(term).map_or(Value::Other("atom"), Value::Atom),
            },
            TermType::Binary => match term.decode::<Binary>() {
                Ok(bin) if bin.len() > self.limits.binary_bytes => {
                    return Err(InputError::new(
                        &[],
                        format!("binary longer than {} bytes", self.limits.binary_bytes),
                    ))
                }
                Ok(bin) => Value::Binary(bin.as_slice().to_vec()),
                Err(_) => Value::Other("bitstring"),
            },
            TermType::Integer => match term.decode::<i64>() {
                Ok(n) => Value::Int(n),
                Err(_) => Value::Other("integer out of range"),
            },
            TermType::Float => term
                .decode::<f64>()
                .map_or(Value::Other("float"), Value::Float),
            TermType::List | TermType::Map if depth_left == 0 => {
                return Err(InputError::new(&[], "nested deeper than the schema allows"))
            }
            TermType::List => self.list(term, depth_left - 1)?,
            TermType::Map => self.map(term, depth_left - 1)?,
            TermType::Pid => match term.decode::<LocalPid>() {
                Ok(_) => Value::Other("pid"),
                Err(_) => Value::Other("remote pid"),
            },
            TermType::Fun => Value::Other("fun"),
            TermType::Port => Value::Other("port"),
            TermType::Ref => Value::Other("reference"),
            TermType::Tuple => Value::Other("tuple"),
            TermType::Unknown => Value::Other("unknown term"),
        })
    }

    /// A list whose items are `depth_left` deep at most.
    fn list(&mut self, list: Term, depth_left: usize) -> Result<Value, InputError> {
        // Counted first, walking at most one cell past what is left: a long list is refused
        // at the list itself, before any item is copied.
        let (mut len, mut tail) = (0, list);
        while let Ok((_, rest)) = tail.list_get_cell() {
            len += 1;
            if len > self.items_left {
                return Err(InputError::new(
                    &[],
                    format!("more than {} list items in total", self.limits.list_items),
                ));
            }
            tail = rest;
        }
        // rustler's list iterator panics on an improper list: only a proper one is walked.
        if !tail.is_empty_list() {
            return Ok(Value::Other("improper list"));
        }
        let Ok(items) = list.into_list_iterator() else {
            return Ok(Value::Other("improper list"));
        };
        self.items_left -= len;
        let mut out = Vec::with_capacity(len);
        for (i, item) in items.enumerate() {
            let item = self.value(item, depth_left);
            out.push(item.map_err(|e| under(PathElem::Index(i + 1), e))?);
        }
        Ok(Value::List(out))
    }

    /// A map whose keys and values are `depth_left` deep at most.
    fn map(&mut self, map: Term, depth_left: usize) -> Result<Value, InputError> {
        let len = map.map_size().unwrap_or(0);
        if len > self.entries_left {
            return Err(InputError::new(
                &[],
                format!("more than {} map entries in total", self.limits.map_entries),
            ));
        }
        self.entries_left -= len;
        let Some(entries) = MapIterator::new(map) else {
            return Ok(Value::Other("map"));
        };
        let mut out = Vec::with_capacity(len);
        for (i, (k, v)) in entries.enumerate() {
            let key = self.value(k, depth_left)?;
            let value = self.value(v, depth_left).map_err(|e| {
                let at = match &key {
                    Value::Atom(a) => PathElem::Key(a.to_string()),
                    Value::Binary(b) => PathElem::Key(String::from_utf8_lossy(b).into_owned()),
                    _ => PathElem::Index(i + 1),
                };
                under(at, e)
            })?;
            out.push((key, value));
        }
        Ok(Value::Map(out))
    }
}

/// The name of an atom from its external term format (`SMALL_ATOM_UTF8_EXT` or
/// `ATOM_UTF8_EXT`): an atom is at most 255 characters, so this is a small copy.
fn utf8_atom_name(atom: Term) -> Option<String> {
    const VERSION: u8 = 131;
    const SMALL_ATOM_UTF8_EXT: u8 = 119;
    const ATOM_UTF8_EXT: u8 = 118;
    let bin = atom.to_binary();
    let name = match bin.as_slice() {
        [VERSION, SMALL_ATOM_UTF8_EXT, len, rest @ ..] if rest.len() == *len as usize => rest,
        [VERSION, ATOM_UTF8_EXT, hi, lo, rest @ ..]
            if rest.len() == u16::from_be_bytes([*hi, *lo]) as usize =>
        {
            rest
        }
        _ => return None,
    };
    String::from_utf8(name.to_vec()).ok()
}

/// `e` with `at` put before its path.
fn under(at: PathElem, mut e: InputError) -> InputError {
    e.path.insert(0, at);
    e
}
