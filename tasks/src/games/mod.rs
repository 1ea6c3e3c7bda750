//! Game-theory tasks: battleOfSexes, prisonersDilemma, blotto.
//!
//! The agent writes `row_strategy(history)` in `strategy.py`; the evaluator plays it
//! against a hidden opponent for 10,000 simulations of 10 rounds (MLGym's protocol,
//! spec §2.5.8–2.5.10) and reports `Score` (the mean over simulations of the row's mean
//! payoff per round) and `Score Standard Error`.
//!
//! # Trust boundary
//!
//! Opponents ([`opponents`]), payoffs ([`payoff`]) and scoring ([`simulate`]) are native
//! and run only in the evaluator. The strategy runs in ONE fresh sandbox per evaluation
//! (no network; it sees its submission copy, a read-only harness directory and the
//! Python installation), inside `harness.py`, which calls `row_strategy` and reports
//! moves. Nothing the harness says is trusted: every move is range-checked again here.
//!
//! # Protocol (stdin/stdout of the sandboxed harness; ASCII lines)
//!
//! * `python -B harness.py GAME SEED SIMULATIONS ROUNDS`, GAME ∈ `bos`, `pd`, `blotto`.
//!   The harness moves the protocol to private descriptors, points fds 0/1 at
//!   `/dev/null` and Python's `sys.stdout`/`sys.stderr` there too (prints are
//!   discarded), seeds `random`, imports `strategy` and answers `R` — or
//!   `E {"kind","text","where"}` and exits.
//! * It then runs MLGym's loop itself — simulation after simulation, round after round,
//!   in one process, so global state behaves as in MLGym's sequential harness — and
//!   answers every call with the row's move (`0`/`1`; Blotto: six numbers separated by
//!   spaces). Before rounds 2.. of a simulation it waits for the evaluator's message:
//!   the column's move in the previous round, in the same form; it appends (its last
//!   row move, that move) to the history and calls `row_strategy` with a copy of it.
//!   The first round of a simulation needs no message (empty history), so its answer
//!   follows the previous simulation's last answer directly.
//! * On an exception it answers `E {...}` with kind `raised` (the exception's last line
//!   and the innermost frame in the submission), on an illegal value kind `invalid`
//!   (the value's repr and the rule it breaks), and exits.
//! * The column's move for a round is sent only after the row's move for that round
//!   arrived, so the strategy's process never holds anything it could not see in
//!   MLGym. That makes the protocol a strict ping-pong of 90,000 round trips, each
//!   costing one pipe round trip: ~9 µs on this project's 2-core machine at load 3–5
//!   (two scheduler wake-ups; a Python↔Python pipe ping-pong measures the same), so an
//!   evaluation of a trivial strategy takes ~0.9 s. Spinning before blocking (in the
//!   evaluator, and shared memory with spinning on both sides) was measured and was no
//!   faster on the shared machine — it takes the CPU the strategy needs — so both sides
//!   block. `scripts/bench/game_theory.sh` compares with in-process Python harnesses.
//!
//! # Validation (harness, then again here)
//!
//! 0/1 games: anything MLGym's `move in [0, 1]` accepts (ints, bools, NumPy numbers,
//! floats equal to 0 or 1), recorded as a plain int. Blotto: a list or tuple of exactly
//! 6 entries (MLGym does not check the count; `zip` silently truncated), each
//! `isinstance(x, int)` (so `True` counts as 1 soldier, as in MLGym, and NumPy integers
//! are rejected, as in MLGym), non-negative, at most 120 in total.
//!
//! # Seeding
//!
//! Same strategy + seed ⇒ the same score, bit for bit. The opponent of simulation `i`
//! draws from `Rng::stream(seed, i)`. The strategy's Python `random` module is seeded
//! once, before `strategy.py` is imported, with [`evaluate::python_seed`]`(seed)`
//! (SHA-256-derived); NumPy's global generator gets the same seed mod 2³² when the
//! strategy imported NumPy. `PYTHONHASHSEED=0`.
//!
//! # Limits
//!
//! [`GameLimits`]: 1 s per call, 60 s for the import and the first call, 600 s in
//! total, 2 GiB of memory. A hang, crash, illegal move, syntax or import error, or
//! garbage on the protocol is an [`crate::EvalError::Format`] naming the simulation,
//! round and offending value, with at most a few lines of error output.

pub mod evaluate;
pub mod game;
pub mod opponents;
pub mod payoff;
mod protocol;
pub mod simulate;
pub mod stats;

pub use evaluate::{python_seed, GameEvaluator, SCORE, SCORE_STANDARD_ERROR};
pub use game::{BattleOfSexes, Blotto, Game, GameId, PrisonersDilemma};
pub use protocol::GameLimits;
pub use simulate::{simulate_native, Turn, ROUNDS, SIMULATIONS};
pub use stats::Summary;

use crate::definition::TaskDef;
use crate::evaluator::StarterFilesBaseline;
use crate::registry::{Hooks, StarterFile};

/// Hooks for the tasks of this family, or `None` for other ids. The baseline submits
/// the starter `strategy.py` unchanged, as MLGym's baselines do.
pub fn hooks(def: &TaskDef, starter: &[StarterFile]) -> Option<Hooks> {
    let game = GameId::from_task_id(&def.id)?;
    let files = starter.iter().map(|f| (f.path.clone(), f.bytes)).collect();
    Some(Hooks {
        evaluator: Box::new(GameEvaluator::new(game)),
        baseline: Some(Box::new(StarterFilesBaseline { files })),
        data: None,
    })
}
