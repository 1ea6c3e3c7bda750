//! The hidden column players, exactly as MLGym's `target.py` files behave (spec
//! §2.5.8–2.5.10), drawing their randomness from our seeded [`crate::rng::Rng`].
//!
//! They run only in the evaluator's process; nothing of them reaches the sandbox that
//! runs the agent's strategy except each move, sent after the row has committed its own
//! move for the same round.

pub mod blotto;
pub mod bos;
pub mod pd;
