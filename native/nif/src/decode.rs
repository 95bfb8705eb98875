//! The VM's terms as the engine's [`InputTerm`]: the engine reads a NodeInfo straight from
//! them, or copies events and options into a `Value` under the input limits
//! ([`input::to_value`]). Never creates atoms; anything unexpected is `Shape::Other` for the
//! engine to reject with a path.

use std::cell::{Cell, RefCell};
use std::hash::{Hash, Hasher};

use crate::map_iter;
use mongoose_system_metrics_engine::input::{self, ImproperList, InputTerm, Shape};
use mongoose_system_metrics_engine::value::{Atom, InputError, Value};
use std::mem::MaybeUninit;

use rustler::sys::{
    enif_get_int64, enif_get_list_cell, enif_get_map_size, enif_inspect_binary, enif_is_empty_list,
    enif_term_type, ErlNifBinary, ErlNifEnv, ErlNifTerm, ErlNifTermType,
};
use rustler::{Env, LocalPid, Term};

/// Hashes machine words: an atom's term word, or a text's address and length. Keys come from the VM and the engine, not from the input's
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

/// Atom names by atom, direct-mapped. An atom's term word names it for the life of the VM
/// (atoms are never freed), so a name read once stays right. Each scheduler thread keeps its
/// own table, with no lock; a [`Reading`] holds it for the call. A slot is picked by a hash
/// of the atom's word, and a collision replaces the older name: the table stays 32 kB.
#[derive(Default)]
struct AtomCache {
    slots: Vec<Option<(ErlNifTerm, Atom)>>,
    /// Names replaced during the current reading: the reader may still hold them.
    retired: Vec<Atom>,
}

/// Slots of a table (a node's input has a few hundred distinct atoms).
const ATOM_SLOTS: usize = 1_024;

impl AtomCache {
    /// An atom's name: a word the engine knows is its own `'static` copy; any other name is
    /// read from the VM once and kept. The text stays where it is until the reading ends
    /// (a replaced name is retired, not dropped): see [`Reading::atom_name`].
    fn name(&mut self, term: Term) -> Option<&str> {
        let word = term.as_c_arg();
        if self.slots.is_empty() {
            self.slots.resize(ATOM_SLOTS, None);
        }
        let mut hasher = WordHasher::default();
        word.hash(&mut hasher);
        let slot = &mut self.slots[hasher.finish() as usize % ATOM_SLOTS];
        if !matches!(slot, Some((w, _)) if *w == word) {
            let name = Atom::from(term.atom_to_string().ok()?);
            if let Some((_, old)) = slot.replace((word, name)) {
                self.retired.push(old);
            }
        }
        slot.as_ref().map(|(_, name)| name.as_str())
    }
}

thread_local! {
    static ATOMS: RefCell<AtomCache> = RefCell::new(AtomCache::default());
}

/// One reading of an input: its environment, the steps taken so far against a soft bound (a
/// caller on a normal scheduler hands larger inputs to a dirty one), and this thread's atom
/// names. A step is one term looked at, one list cell or one map entry walked: past the
/// bound every walk ends at once, whatever the input's size.
pub struct Reading<'a> {
    env: Env<'a>,
    steps: Cell<usize>,
    soft_steps: usize,
    /// This thread's atom names, taken for the call (put back on drop).
    atoms: RefCell<AtomCache>,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        // No name handed out by this reading is held any more.
        let mut atoms = self.atoms.take();
        atoms.retired.clear();
        // `try_with`: a drop must not panic, even while the thread's locals are being torn
        // down (a reading never lives that long; the table would simply be lost).
        let _ = ATOMS.try_with(|cache| *cache.borrow_mut() = atoms);
    }
}

impl<'a> Reading<'a> {
    /// A reading of terms of `env` that gives up past `soft_steps` steps (`usize::MAX`:
    /// never).
    pub fn new(env: Env<'a>, soft_steps: usize) -> Self {
        Reading {
            env,
            steps: Cell::new(0),
            soft_steps,
            atoms: RefCell::new(ATOMS.with(RefCell::take)),
        }
    }

    /// Whether the input held more than the soft bound: whatever the read returned, the work
    /// is to be redone where it may take longer.
    pub fn past_soft_bound(&self) -> bool {
        self.steps.get() > self.soft_steps
    }

    /// Counts one step; false once past the soft bound.
    fn step(&self) -> bool {
        self.steps.set(self.steps.get().saturating_add(1));
        !self.past_soft_bound()
    }

    /// `term` (of this reading's environment), to read.
    pub fn term<'r>(&'r self, term: Term<'a>) -> VmTerm<'a, 'r> {
        VmTerm {
            raw: term.as_c_arg(),
            reading: self,
        }
    }

    fn env(&self) -> *mut ErlNifEnv {
        self.env.as_c_arg()
    }

    /// An atom's name, borrowed for as long as this reading lasts.
    fn atom_name(&self, term: Term) -> Option<&str> {
        let mut atoms = self.atoms.borrow_mut();
        let name: *const str = atoms.name(term)?;
        // SAFETY: the text is a `'static` word or lives in an `Arc` that the cache keeps until
        // this reading drops: a slot's name is only ever replaced by moving it to `retired`,
        // which is cleared in `drop`, and moving an `Arc` does not move its text.
        Some(unsafe { &*name })
    }
}

/// A term of the VM, read under a [`Reading`]: two words, passed in registers (the readers
/// look at thousands of them per call).
#[derive(Clone, Copy)]
pub struct VmTerm<'a, 'r> {
    raw: ErlNifTerm,
    reading: &'r Reading<'a>,
}

impl<'a> VmTerm<'a, '_> {
    fn as_term(self) -> Term<'a> {
        // SAFETY: `raw` is a term of the reading's environment, which outlives `'a`.
        unsafe { Term::new(self.reading.env, self.raw) }
    }
}

/// A list's cells, one VM call each.
#[derive(Clone)]
pub struct Cells<'a, 'r> {
    tail: Option<ErlNifTerm>,
    reading: &'r Reading<'a>,
}

impl<'a, 'r> Iterator for Cells<'a, 'r> {
    type Item = Result<VmTerm<'a, 'r>, ImproperList>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.reading.step() {
            return None; // past the soft bound: the walk ends here
        }
        let tail = self.tail.take()?;
        let env = self.reading.env();
        let (mut head, mut rest) = (ErlNifTerm::default(), ErlNifTerm::default());
        // SAFETY: `tail` is a term of `env`; the out-parameters are written on success.
        unsafe {
            if enif_get_list_cell(env, tail, &mut head, &mut rest) != 0 {
                self.tail = Some(rest);
                return Some(Ok(VmTerm {
                    raw: head,
                    reading: self.reading,
                }));
            }
            if enif_is_empty_list(env, tail) != 0 {
                return None;
            }
        }
        Some(Err(ImproperList))
    }
}

/// A map's entries, in the VM's order.
pub struct Entries<'a, 'r> {
    entries: Option<map_iter::Entries<'a>>,
    reading: &'r Reading<'a>,
}

impl<'a, 'r> Iterator for Entries<'a, 'r> {
    type Item = (VmTerm<'a, 'r>, VmTerm<'a, 'r>);

    fn next(&mut self) -> Option<Self::Item> {
        if !self.reading.step() {
            return None; // past the soft bound: the walk ends here
        }
        let (k, v) = self.entries.as_mut()?.next()?;
        Some((self.reading.term(k), self.reading.term(v)))
    }
}

/// Read for as long as the reading lasts (`'r`): atom names are borrowed from it.
impl<'a: 'r, 'r> InputTerm<'r> for VmTerm<'a, 'r> {
    type Items = Cells<'a, 'r>;
    type Entries = Entries<'a, 'r>;

    fn shape(self) -> Shape<'r, Self> {
        let VmTerm { raw, reading } = self;
        if !reading.step() {
            // Stop reading: the result is dropped and the work redone elsewhere.
            return Shape::Other("input past the soft bound");
        }
        let env = reading.env();
        // SAFETY (every call below): `raw` is a term of `env`; out-parameters are only read
        // when the call succeeds.
        match unsafe { enif_term_type(env, raw) } {
            ErlNifTermType::ERL_NIF_TERM_TYPE_ATOM => match reading.atom_name(self.as_term()) {
                Some(name) => Shape::Atom(name),
                None => Shape::Other("atom"),
            },
            ErlNifTermType::ERL_NIF_TERM_TYPE_BITSTRING => {
                let mut bin = MaybeUninit::<ErlNifBinary>::uninit();
                if unsafe { enif_inspect_binary(env, raw, bin.as_mut_ptr()) } == 0 {
                    return Shape::Other("bitstring");
                }
                let bin = unsafe { bin.assume_init() };
                // SAFETY: the binary lives as long as the term, in the caller's environment.
                Shape::Binary(unsafe { std::slice::from_raw_parts(bin.data, bin.size) })
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_INTEGER => {
                let mut n: i64 = 0;
                if unsafe { enif_get_int64(env, raw, &mut n) } == 0 {
                    return Shape::Other("integer out of range");
                }
                Shape::Int(n)
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_FLOAT => Shape::Other("float"),
            ErlNifTermType::ERL_NIF_TERM_TYPE_LIST => Shape::List(Cells {
                tail: Some(raw),
                reading,
            }),
            ErlNifTermType::ERL_NIF_TERM_TYPE_MAP => {
                let mut size: usize = 0;
                unsafe { enif_get_map_size(env, raw, &mut size) };
                Shape::Map(size)
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_PID => match self.as_term().decode::<LocalPid>() {
                Ok(_) => Shape::Other("pid"),
                Err(_) => Shape::Other("remote pid"),
            },
            ErlNifTermType::ERL_NIF_TERM_TYPE_FUN => Shape::Other("fun"),
            ErlNifTermType::ERL_NIF_TERM_TYPE_PORT => Shape::Other("port"),
            ErlNifTermType::ERL_NIF_TERM_TYPE_REFERENCE => Shape::Other("reference"),
            ErlNifTermType::ERL_NIF_TERM_TYPE_TUPLE => Shape::Other("tuple"),
            _ => Shape::Other("unknown term"),
        }
    }

    fn entries(self) -> Self::Entries {
        Entries {
            entries: map_iter::entries(self.as_term()),
            reading: self.reading,
        }
    }
}

/// Copies `term` into a `Value` for a schema at most `max_depth` containers deep.
pub fn decode(term: Term, max_depth: usize) -> Result<Value, InputError> {
    input::to_value(
        Reading::new(term.get_env(), usize::MAX).term(term),
        max_depth,
    )
}

/// [`decode`], giving up with `Ok(None)` as soon as it has taken more than `soft_steps`
/// steps (see [`Reading`]): the work is then left to a dirty scheduler.
pub fn decode_bounded(
    term: Term,
    max_depth: usize,
    soft_steps: usize,
) -> Result<Option<Value>, InputError> {
    let reading = Reading::new(term.get_env(), soft_steps);
    let value = input::to_value(reading.term(term), max_depth);
    if reading.past_soft_bound() {
        return Ok(None);
    }
    value.map(Some)
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
