//! Erlang term -> engine `Value`, bounded by a `DecodeBudget` (items, depth, binary size).
//! Never creates atoms; anything unexpected becomes `Value::Other` for the engine to reject.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::map_iter;
use mongoose_system_metrics_engine::value::{
    static_atom_name, Atom, DecodeBudget, InputError, PathElem, Value, MAX_ITEMS,
};
use rustler::sys::ErlNifTerm;
use rustler::{Binary, LocalPid, Term, TermType};

/// Hashes machine words: a raw term word (an atom is an immediate: its word identifies it) or
/// a text's address and length. Keys come from the VM and the engine, not from the input's
/// content, and one call holds at most `MAX_ITEMS` of them: a multiplicative hash is enough.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        // The product's high bits are the well-mixed ones; fold them into the low bits, which
        // pick the bucket.
        self.0 ^ (self.0 >> 32)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Atom names by atom. An atom's term word names it for the life of the VM (atoms are never
/// freed), so a name read once stays right: each scheduler thread keeps its own cache, with
/// no lock. Bounded: past [`MAX_CACHED_ATOMS`] names, new atoms are read on every use.
type AtomCache = HashMap<ErlNifTerm, Atom, BuildHasherDefault<WordHasher>>;

/// Most atom names one thread keeps (a node's input has a few hundred distinct atoms).
const MAX_CACHED_ATOMS: usize = 4_096;

thread_local! {
    static ATOMS: RefCell<AtomCache> = RefCell::new(AtomCache::default());
}

/// One call's decoding state: the budget, this thread's atom names, and a soft bound on the
/// items read (for a caller on a normal scheduler, which hands larger inputs to a dirty one).
struct Decoder<'c> {
    budget: DecodeBudget,
    atoms: &'c mut AtomCache,
    items: usize,
    soft_items: usize,
    past_soft_bound: bool,
}

/// Decodes `term` for a schema at most `max_depth` containers deep.
pub fn decode(term: Term, max_depth: usize) -> Result<Value, InputError> {
    decode_bounded(term, max_depth, usize::MAX).map(|v| v.unwrap_or(Value::Other("term")))
}

/// [`decode`], giving up with `Ok(None)` as soon as the lists and maps read hold more than
/// `soft_items` items in total: the work is then left to a dirty scheduler. Errors found
/// before that are reported as usual.
pub fn decode_bounded(
    term: Term,
    max_depth: usize,
    soft_items: usize,
) -> Result<Option<Value>, InputError> {
    ATOMS.with(|atoms| {
        let mut atoms = atoms.borrow_mut();
        let mut d = Decoder {
            budget: DecodeBudget::new(max_depth),
            atoms: &mut atoms,
            items: 0,
            soft_items,
            past_soft_bound: false,
        };
        let mut path = Vec::new();
        match decode_at(term, &mut d, &mut path, 0) {
            _ if d.past_soft_bound => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(e) => Err(*e),
        }
    })
}

/// The length of a proper list, or `limit` when it is longer (counting stops there), or
/// `None` when it is improper within its first `limit` cells. Walks at most `limit` cells,
/// unlike `enif_get_list_length`, which walks the whole list.
pub fn list_length_upto(list: Term, limit: usize) -> Option<usize> {
    let mut tail = list;
    for n in 0..limit {
        match tail.list_get_cell() {
            Ok((_, rest)) => tail = rest,
            Err(_) => return tail.is_empty_list().then_some(n),
        }
    }
    Some(limit)
}

/// Counts a container's items against the hard budget and the soft bound.
fn enter(
    d: &mut Decoder,
    path: &[PathElem],
    depth: usize,
    len: usize,
) -> Result<(), Box<InputError>> {
    d.items = d.items.saturating_add(len);
    if d.items > d.soft_items {
        d.past_soft_bound = true;
        // Any error stops the walk; `decode_bounded` reports the bound, not this.
        return Err(Box::new(InputError::new(path, "past the soft bound")));
    }
    d.budget.enter_container(path, depth, len).map_err(Box::new)
}

/// An atom's name: a word the engine knows is its own `'static` copy; any other name is read
/// from the VM once per thread and shared after that.
fn atom(term: Term, d: &mut Decoder) -> Value {
    let word = term.as_c_arg();
    if let Some(name) = d.atoms.get(&word) {
        return Value::Atom(name.clone());
    }
    match term.atom_to_string() {
        Ok(name) => {
            let name = match static_atom_name(&name) {
                Some(word) => Atom::from_static(word),
                None => Atom::from(name),
            };
            if d.atoms.len() < MAX_CACHED_ATOMS {
                d.atoms.insert(word, name.clone());
            }
            Value::Atom(name)
        }
        Err(_) => Value::Other("atom"),
    }
}

fn decode_at(
    term: Term,
    d: &mut Decoder,
    path: &mut Vec<PathElem>,
    depth: usize,
) -> Result<Value, Box<InputError>> {
    // The error is boxed: a result as small as a value is cheaper to pass up, and errors are
    // rare.
    Ok(match term.get_type() {
        TermType::Atom => atom(term, d),
        TermType::Binary => match term.decode::<Binary>() {
            Ok(bin) => {
                d.budget.check_binary(path, bin.len()).map_err(Box::new)?;
                Value::Binary(bin.as_slice().to_vec())
            }
            Err(_) => Value::Other("bitstring"),
        },
        TermType::Integer => match term.decode::<i64>() {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Other("integer out of range"),
        },
        TermType::Float => match term.decode::<f64>() {
            Ok(f) => Value::Float(f),
            Err(_) => Value::Other("float"),
        },
        TermType::List => {
            // Past either bound the length itself is not needed: do not walk a long list.
            let len = list_length_upto(
                term,
                d.soft_items.min(MAX_ITEMS).saturating_sub(d.items) + 1,
            );
            let Some(len) = len else {
                return Ok(Value::Other("improper list"));
            };
            enter(d, path, depth + 1, len)?;
            let mut items = Vec::with_capacity(len);
            let mut tail = term;
            for i in 0..len {
                let Ok((head, rest)) = tail.list_get_cell() else {
                    return Ok(Value::Other("improper list"));
                };
                path.push(PathElem::Index(i + 1));
                let item = decode_at(head, d, path, depth + 1);
                path.pop();
                items.push(item?);
                tail = rest;
            }
            Value::List(items)
        }
        TermType::Map => {
            let len = term.map_size().unwrap_or(0);
            enter(d, path, depth + 1, len)?;
            let Some(iter) = map_iter::entries(term) else {
                return Ok(Value::Other("map"));
            };
            let mut entries = Vec::with_capacity(len);
            for (i, (k, v)) in iter.enumerate() {
                let key = decode_at(k, d, path, depth + 1)?;
                // The key's path element is built only on error (it is a copy of the key):
                // put at this depth, in front of what the value's decoding added.
                let at = path.len();
                let value = decode_at(v, d, path, depth + 1).map_err(|mut e| {
                    let elem = match &key {
                        Value::Atom(a) => PathElem::Key(a.to_string()),
                        Value::Binary(b) => PathElem::Key(String::from_utf8_lossy(b).into_owned()),
                        _ => PathElem::Index(i + 1),
                    };
                    e.path.insert(at.min(e.path.len()), elem);
                    e
                })?;
                entries.push((key, value));
            }
            Value::Map(entries)
        }
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
