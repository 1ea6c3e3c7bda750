//! MLGym's Monte-Carlo protocol: `simulations` independent games of `rounds` rounds; in
//! each round the row moves first, then the column, both seeing the same history. The
//! score of a simulation is the row's mean payoff per round; the task's score is the
//! mean over simulations.
//!
//! The opponent of simulation `i` draws from `Rng::stream(seed, i)`, so its randomness
//! does not depend on what other simulations consumed.

use super::game::Game;
use super::stats::Summary;
use crate::evaluator::EvalError;
use crate::rng::Rng;

/// MLGym's simulation count.
pub const SIMULATIONS: usize = 10_000;
/// MLGym's rounds per simulation.
pub const ROUNDS: usize = 10;

/// Where in the evaluation a call happens (both 0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Turn {
    /// The simulation.
    pub simulation: usize,
    /// The round within it.
    pub round: usize,
}

impl std::fmt::Display for Turn {
    /// "round 3 of simulation 17", counting from 1 as people do.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "round {} of simulation {}",
            self.round + 1,
            self.simulation + 1
        )
    }
}

/// Something that chooses the row's moves: the agent's strategy (through the harness)
/// or, in tests and references, native code.
pub trait RowPlayer<G: Game> {
    /// The row's move at `turn`, given the history of the current simulation.
    fn play(&mut self, turn: Turn, history: &[(G::Move, G::Move)]) -> Result<G::Move, EvalError>;
}

/// A native row strategy: a closure of the history.
pub struct Native<F>(pub F);

impl<G: Game, F: FnMut(&[(G::Move, G::Move)]) -> G::Move> RowPlayer<G> for Native<F> {
    fn play(&mut self, _turn: Turn, history: &[(G::Move, G::Move)]) -> Result<G::Move, EvalError> {
        Ok((self.0)(history))
    }
}

/// Runs the simulations against `G`'s hidden opponent.
pub fn simulate<G: Game>(
    player: &mut impl RowPlayer<G>,
    seed: u64,
    simulations: usize,
    rounds: usize,
) -> Result<Summary, EvalError> {
    let mut scores = Vec::with_capacity(simulations);
    let mut history: Vec<(G::Move, G::Move)> = Vec::with_capacity(rounds);
    for simulation in 0..simulations {
        let mut rng = Rng::stream(seed, simulation as u64);
        history.clear();
        let mut total = 0i64;
        for round in 0..rounds {
            let row = player.play(Turn { simulation, round }, &history)?;
            let col = G::column_move(&history, &mut rng);
            total += i64::from(G::row_payoff(&row, &col));
            history.push((row, col));
        }
        scores.push(if rounds == 0 {
            0.0
        } else {
            total as f64 / rounds as f64
        });
    }
    Ok(Summary::from_scores(&scores))
}

/// Runs a native row strategy (no sandbox, no Python): for expected values and tests.
pub fn simulate_native<G: Game>(
    strategy: impl FnMut(&[(G::Move, G::Move)]) -> G::Move,
    seed: u64,
    simulations: usize,
    rounds: usize,
) -> Summary {
    match simulate::<G>(&mut Native(strategy), seed, simulations, rounds) {
        Ok(s) => s,
        // A native player never fails.
        Err(_) => Summary::from_scores(&[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::game::{BattleOfSexes, Blotto, PrisonersDilemma};

    #[test]
    fn always_0_in_battle_of_sexes_is_1_44() {
        let s = simulate_native::<BattleOfSexes>(|_| 0, 1, 40_000, ROUNDS);
        // Round 1: the opponent plays 1 (payoff 0); then it plays 0 w.p. 0.8 (payoff 2).
        assert!((s.score - 1.44).abs() < 4.0 * s.standard_error, "{s:?}");
        assert!(s.standard_error < 0.005);
    }

    #[test]
    fn same_seed_same_bits_other_seed_other_score() {
        let a = simulate_native::<PrisonersDilemma>(
            |h| h.last().map_or(0, |&(_, c)| c),
            7,
            2_000,
            ROUNDS,
        );
        let b = simulate_native::<PrisonersDilemma>(
            |h| h.last().map_or(0, |&(_, c)| c),
            7,
            2_000,
            ROUNDS,
        );
        assert_eq!(a.score.to_bits(), b.score.to_bits());
        let c = simulate_native::<PrisonersDilemma>(
            |h| h.last().map_or(0, |&(_, c)| c),
            8,
            2_000,
            ROUNDS,
        );
        assert_ne!(a.score, c.score);
    }

    #[test]
    fn turns_count_from_one_in_messages() {
        assert_eq!(
            Turn {
                simulation: 16,
                round: 2
            }
            .to_string(),
            "round 3 of simulation 17"
        );
        let s = simulate_native::<Blotto>(|_| [20; 6], 0, 10, ROUNDS);
        assert_eq!(s.simulations, 10);
    }
}
