//! The actor-critic network ([`net`]: tensors, layout, initialisation) and its action
//! distributions ([`dist`]).

pub mod dist;
pub mod net;
