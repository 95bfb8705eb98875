//! A forward-only walk over a map's entries. rustler's `MapIterator` also keeps a second
//! iterator from the back and compares keys on every step (one more VM call per entry); the
//! decoders only ever walk forward.

use std::mem::MaybeUninit;

use rustler::sys::{
    enif_map_iterator_create, enif_map_iterator_destroy, enif_map_iterator_get_pair,
    enif_map_iterator_next, ErlNifMapIterator, ErlNifMapIteratorEntry, ErlNifTerm,
};
use rustler::{Env, Term};

/// The entries of one map, in the VM's order (key order for a map of up to 32 keys).
pub struct Entries<'a> {
    env: Env<'a>,
    iter: ErlNifMapIterator,
}

/// The entries of `map`, or `None` when it is not a map.
pub fn entries(map: Term) -> Option<Entries> {
    let env = map.get_env();
    let mut iter = MaybeUninit::<ErlNifMapIterator>::uninit();
    // SAFETY: `iter` is written by the call when it returns non-zero, the only case in which
    // it is used; the map term belongs to `env`, which outlives the iterator.
    unsafe {
        if enif_map_iterator_create(
            env.as_c_arg(),
            map.as_c_arg(),
            iter.as_mut_ptr(),
            ErlNifMapIteratorEntry::ERL_NIF_MAP_ITERATOR_HEAD,
        ) == 0
        {
            return None;
        }
        Some(Entries {
            env,
            iter: iter.assume_init(),
        })
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = (Term<'a>, Term<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let (mut key, mut value) = (ErlNifTerm::default(), ErlNifTerm::default());
        // SAFETY: the iterator was created on this map and env and is not yet destroyed.
        unsafe {
            if enif_map_iterator_get_pair(self.env.as_c_arg(), &mut self.iter, &mut key, &mut value)
                == 0
            {
                return None;
            }
            enif_map_iterator_next(self.env.as_c_arg(), &mut self.iter);
            Some((Term::new(self.env, key), Term::new(self.env, value)))
        }
    }
}

impl Drop for Entries<'_> {
    fn drop(&mut self) {
        // SAFETY: created by `entries`, destroyed once, here.
        unsafe { enif_map_iterator_destroy(self.env.as_c_arg(), &mut self.iter) }
    }
}
