//! Prisoner's Dilemma opponent: every round it picks one of eleven strategies uniformly
//! at random and plays that strategy's move for the current history. 0 = cooperate,
//! 1 = defect; "row" is the agent, "own" the opponent.

use crate::rng::Rng;

/// The eleven strategies of the mixture, in MLGym's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// First round defect; then cooperate w.p. 0.3333, defect w.p. 0.1667, repeat its
    /// own previous move w.p. 0.4, play the opposite of the row's previous move w.p. 0.1.
    SimpleRandom,
    /// Cooperate first, then copy the row's previous move.
    TitForTat,
    /// Always cooperate.
    AlwaysCooperate,
    /// Always defect.
    AlwaysDefect,
    /// Uniformly random.
    Random,
    /// Cooperate until the row has defected once, then defect forever.
    GrimTrigger,
    /// Cooperate first; then cooperate iff both players made the same move last round.
    Pavlov,
    /// Cooperate for the first two rounds; then defect iff the row defected in both of
    /// the last two rounds.
    TitForTwoTats,
    /// Defect first, then copy the row's previous move.
    SuspiciousTitForTat,
    /// Cooperate with probability 0.5.
    RandomCooperate,
    /// Cooperate first; forgive (cooperate) after two row defections in a row;
    /// otherwise copy the row's previous move.
    ForgivingTitForTat,
}

/// All strategies, in the order the uniform draw indexes them.
pub const STRATEGIES: [Strategy; 11] = [
    Strategy::SimpleRandom,
    Strategy::TitForTat,
    Strategy::AlwaysCooperate,
    Strategy::AlwaysDefect,
    Strategy::Random,
    Strategy::GrimTrigger,
    Strategy::Pavlov,
    Strategy::TitForTwoTats,
    Strategy::SuspiciousTitForTat,
    Strategy::RandomCooperate,
    Strategy::ForgivingTitForTat,
];

impl Strategy {
    /// This strategy's move for the round after `history` ((row, own) pairs).
    pub fn play(self, history: &[(u8, u8)], rng: &mut Rng) -> u8 {
        let last = history.last().copied();
        let row_last_two_defected = history.len() >= 2
            && history[history.len() - 1].0 == 1
            && history[history.len() - 2].0 == 1;
        match self {
            Strategy::SimpleRandom => match last {
                None => 1,
                Some((row, own)) => {
                    let r = rng.next_f64();
                    if r < 0.3333 {
                        0
                    } else if r < 0.5 {
                        1
                    } else if r < 0.9 {
                        own
                    } else {
                        1 - row
                    }
                }
            },
            Strategy::TitForTat => last.map_or(0, |(row, _)| row),
            Strategy::AlwaysCooperate => 0,
            Strategy::AlwaysDefect => 1,
            Strategy::Random => rng.below(2) as u8,
            Strategy::GrimTrigger => u8::from(history.iter().any(|&(row, _)| row == 1)),
            Strategy::Pavlov => last.map_or(0, |(row, own)| u8::from(row != own)),
            Strategy::TitForTwoTats => u8::from(row_last_two_defected),
            Strategy::SuspiciousTitForTat => last.map_or(1, |(row, _)| row),
            Strategy::RandomCooperate => u8::from(rng.next_f64() >= 0.5),
            Strategy::ForgivingTitForTat => match last {
                None => 0,
                Some(_) if row_last_two_defected => 0,
                Some((row, _)) => row,
            },
        }
    }
}

/// The column's move for the round after `history`: a uniformly drawn strategy's move.
pub fn column_move(history: &[(u8, u8)], rng: &mut Rng) -> u8 {
    let s = STRATEGIES[rng.below(STRATEGIES.len() as u64) as usize];
    s.play(history, rng)
}

#[cfg(test)]
mod tests {
    use super::Strategy::*;
    use super::*;

    fn play(s: Strategy, history: &[(u8, u8)]) -> u8 {
        s.play(history, &mut Rng::new(0))
    }

    #[test]
    fn deterministic_members_follow_their_rules() {
        let empty: &[(u8, u8)] = &[];
        let firsts: Vec<u8> = [
            SimpleRandom,
            TitForTat,
            AlwaysCooperate,
            AlwaysDefect,
            GrimTrigger,
            Pavlov,
            TitForTwoTats,
            SuspiciousTitForTat,
            ForgivingTitForTat,
        ]
        .iter()
        .map(|&s| play(s, empty))
        .collect();
        assert_eq!(firsts, [1, 0, 0, 1, 0, 0, 0, 1, 0]);
        let h = [(1, 0), (0, 0), (0, 1)];
        assert_eq!(play(TitForTat, &h), 0);
        assert_eq!(play(SuspiciousTitForTat, &[(1, 1)]), 1);
        assert_eq!(play(GrimTrigger, &h), 1, "the row defected once, long ago");
        assert_eq!(play(GrimTrigger, &[(0, 1), (0, 0)]), 0);
        assert_eq!(play(Pavlov, &[(1, 1)]), 0);
        assert_eq!(play(Pavlov, &[(0, 1)]), 1);
        assert_eq!(play(TitForTwoTats, &[(1, 0)]), 0, "fewer than two rounds");
        assert_eq!(play(TitForTwoTats, &[(1, 0), (1, 0)]), 1);
        assert_eq!(play(TitForTwoTats, &[(1, 0), (0, 0), (1, 0)]), 0);
        assert_eq!(play(ForgivingTitForTat, &[(1, 0)]), 1);
        assert_eq!(
            play(ForgivingTitForTat, &[(1, 0), (1, 1)]),
            0,
            "forgives two defections"
        );
        assert_eq!(play(ForgivingTitForTat, &[(0, 0), (1, 0)]), 1);
    }

    #[test]
    fn simple_random_mixes_as_specified() {
        // Row's previous move 0, own previous move 1: P(1) = 0.1667 + 0.4 + 0.1 = 0.6667.
        let mut rng = Rng::new(5);
        let n = 200_000;
        let ones = (0..n)
            .filter(|_| SimpleRandom.play(&[(0, 1)], &mut rng) == 1)
            .count();
        assert!((ones as f64 / n as f64 - 0.6667).abs() < 0.005, "{ones}");
        // Row 1, own 0: P(1) = 0.1667 only.
        let ones = (0..n)
            .filter(|_| SimpleRandom.play(&[(1, 0)], &mut rng) == 1)
            .count();
        assert!((ones as f64 / n as f64 - 0.1667).abs() < 0.005, "{ones}");
    }

    #[test]
    fn the_mixture_draws_every_member() {
        // First round: members defect with probability 1 (SimpleRandom, AlwaysDefect,
        // SuspiciousTitForTat) or 1/2 (Random, RandomCooperate): P(1) = 4/11.
        let mut rng = Rng::new(9);
        let n = 220_000;
        let ones = (0..n).filter(|_| column_move(&[], &mut rng) == 1).count();
        assert!(
            (ones as f64 / n as f64 - 4.0 / 11.0).abs() < 0.004,
            "{ones}"
        );
    }
}
