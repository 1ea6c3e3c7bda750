//! One macro that declares an environment's state three ways: the plain state struct, its
//! structure-of-arrays storage for many environments, and mutable views of a range of that
//! storage (which split in two without allocating, so threads can share the work).
//!
//! Writing the field list once keeps the three in step: a field added to the state cannot be
//! forgotten by the vectorised storage.

use crate::rl::env::Env;

/// `soa_layout! { state S, soa V, lanes L { field: Type, ... } }` declares:
/// * `S`: a struct with those public fields (all `Copy`);
/// * `V`: one `Vec` per field, with `filled`, `len`, `get`, `set` and `lanes`;
/// * `L<'a>`: one `&'a mut [T]` per field, with `len`, `split_at`, `load` and `store`.
macro_rules! soa_layout {
    (
        $(#[$state_meta:meta])* state $state:ident,
        $(#[$soa_meta:meta])* soa $soa:ident,
        $(#[$lanes_meta:meta])* lanes $lanes:ident {
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$state_meta])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $state {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        $(#[$soa_meta])*
        #[derive(Clone, Debug, Default)]
        pub struct $soa {
            len: usize,
            $( #[doc = concat!("`", stringify!($field), "` of every environment.")]
            pub $field: Vec<$ty>, )*
        }

        impl $soa {
            /// `n` environments, all in state `s`.
            pub fn filled(n: usize, s: &$state) -> Self {
                $soa { len: n, $( $field: vec![s.$field; n], )* }
            }

            /// Number of environments.
            pub fn len(&self) -> usize {
                self.len
            }

            /// Whether there are no environments.
            pub fn is_empty(&self) -> bool {
                self.len == 0
            }

            /// The state of environment `i` (panics if `i >= len`).
            #[inline]
            pub fn get(&self, i: usize) -> $state {
                $state { $( $field: self.$field[i], )* }
            }

            /// Sets the state of environment `i` (panics if `i >= len`).
            #[inline]
            pub fn set(&mut self, i: usize, s: &$state) {
                $( self.$field[i] = s.$field; )*
            }

            /// A mutable view of all environments.
            pub fn lanes(&mut self) -> $lanes<'_> {
                $lanes { len: self.len, $( $field: &mut self.$field[..], )* }
            }
        }

        $(#[$lanes_meta])*
        #[derive(Debug)]
        pub struct $lanes<'a> {
            len: usize,
            $( #[doc = concat!("`", stringify!($field), "` of the viewed environments.")]
            pub $field: &'a mut [$ty], )*
        }

        impl<'a> $lanes<'a> {
            /// Number of environments in the view.
            pub fn len(&self) -> usize {
                self.len
            }

            /// Whether the view is empty.
            pub fn is_empty(&self) -> bool {
                self.len == 0
            }

            /// Splits the view into environments `..mid` and `mid..`.
            pub fn split_at(self, mid: usize) -> ($lanes<'a>, $lanes<'a>) {
                $( let $field = self.$field.split_at_mut(mid); )*
                (
                    $lanes { len: mid, $( $field: $field.0, )* },
                    $lanes { len: self.len - mid, $( $field: $field.1, )* },
                )
            }

            /// The state of environment `i` of the view.
            #[inline(always)]
            pub fn load(&self, i: usize) -> $state {
                $state { $( $field: self.$field[i], )* }
            }

            /// Sets the state of environment `i` of the view.
            #[inline(always)]
            pub fn store(&mut self, i: usize, s: &$state) {
                $( self.$field[i] = s.$field; )*
            }
        }
    };
}

pub(crate) use soa_layout;

/// An environment whose states can be stored as a structure of arrays and stepped in
/// parallel chunks. Implemented by each environment next to its state (with
/// [`soa_layout!`]); declared here, not in `vec_env`, because this file is shared with the
/// agent's starter crate, whose `vec_env` is a plain loop of its own.
pub trait SoaEnv: Env {
    /// Storage of many states, one array per field.
    type Soa: Clone + std::fmt::Debug + Send + Sync;
    /// A mutable view of a contiguous range of the storage.
    type Lanes<'a>: Send;
    /// Below this many environments per chunk, splitting costs more than it gains.
    const PAR_GRAIN: usize;

    /// Storage for `n` environments, all in state `fill`.
    fn soa_new(n: usize, fill: &Self::State) -> Self::Soa;
    /// The state of environment `i`.
    fn soa_get(soa: &Self::Soa, i: usize) -> Self::State;
    /// Sets the state of environment `i`.
    fn soa_set(soa: &mut Self::Soa, i: usize, s: &Self::State);
    /// A view of all environments.
    fn lanes(soa: &mut Self::Soa) -> Self::Lanes<'_>;
    /// Splits a view into environments `..mid` and `mid..`.
    fn split_lanes<'a>(lanes: Self::Lanes<'a>, mid: usize) -> (Self::Lanes<'a>, Self::Lanes<'a>);
    /// The state of environment `i` of a view.
    fn load(lanes: &Self::Lanes<'_>, i: usize) -> Self::State;
    /// Sets the state of environment `i` of a view.
    fn store(lanes: &mut Self::Lanes<'_>, i: usize, s: &Self::State);
}
