//! A small, dependency-free neural-network toolkit for the RL policies: matrix kernels
//! ([`kernels`], [`sparse`], with AVX2 versions in `avx2`), a thread abstraction ([`par`]), MLP forward/backward passes on flat
//! parameter vectors ([`mlp`]) and MLGym's optimiser chain ([`adam`]).
//!
//! Everything here uses only `std` (and the crate's RNG in tests), so the same files are
//! copied into the agent's starter crate, which must build without network access.

pub mod adam;
#[cfg(target_arch = "x86_64")]
mod avx2;
pub mod kernels;
pub mod mlp;
pub mod par;
pub mod sparse;
