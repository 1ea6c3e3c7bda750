//! The three games behind one interface: a move type, the hidden opponent, the row's
//! payoff, and how a move travels over the harness protocol.

use std::fmt::Debug;

use super::opponents::blotto::{Allocation, BATTLEFIELDS, SOLDIERS};
use super::opponents::{blotto, bos, pd};
use super::payoff;
use crate::rng::Rng;

/// Which game a task plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GameId {
    /// `battleOfSexes`.
    BattleOfSexes,
    /// `prisonersDilemma`.
    PrisonersDilemma,
    /// `blotto`.
    Blotto,
}

impl GameId {
    /// All games.
    pub const ALL: [GameId; 3] = [
        GameId::BattleOfSexes,
        GameId::PrisonersDilemma,
        GameId::Blotto,
    ];

    /// MLGym's task id.
    pub fn task_id(self) -> &'static str {
        match self {
            GameId::BattleOfSexes => "battleOfSexes",
            GameId::PrisonersDilemma => "prisonersDilemma",
            GameId::Blotto => "blotto",
        }
    }

    /// The game for a task id, if it is one of ours.
    pub fn from_task_id(id: &str) -> Option<GameId> {
        GameId::ALL.into_iter().find(|g| g.task_id() == id)
    }

    /// The game's name on the harness command line.
    pub(crate) fn harness_name(self) -> &'static str {
        match self {
            GameId::BattleOfSexes => "bos",
            GameId::PrisonersDilemma => "pd",
            GameId::Blotto => "blotto",
        }
    }
}

/// One game's rules.
pub trait Game {
    /// A move (0/1, or a Blotto allocation).
    type Move: Copy + PartialEq + Debug;
    /// Which game this is.
    const ID: GameId;
    /// The hidden opponent's move for the round after `history` ((row, column) pairs).
    fn column_move(history: &[(Self::Move, Self::Move)], rng: &mut Rng) -> Self::Move;
    /// The row player's payoff for one round.
    fn row_payoff(row: &Self::Move, col: &Self::Move) -> i32;
    /// Appends the protocol form of `m` (no newline).
    fn write_move(m: &Self::Move, out: &mut Vec<u8>);
    /// Parses and range-checks a move in protocol form.
    fn parse_move(line: &[u8]) -> Option<Self::Move>;
}

/// Battle of the Sexes.
#[derive(Debug)]
pub struct BattleOfSexes;
/// Iterated Prisoner's Dilemma.
#[derive(Debug)]
pub struct PrisonersDilemma;
/// Colonel Blotto with 6 battlefields and 120 soldiers.
#[derive(Debug)]
pub struct Blotto;

fn parse_binary(line: &[u8]) -> Option<u8> {
    match line {
        b"0" => Some(0),
        b"1" => Some(1),
        _ => None,
    }
}

impl Game for BattleOfSexes {
    type Move = u8;
    const ID: GameId = GameId::BattleOfSexes;
    fn column_move(history: &[(u8, u8)], rng: &mut Rng) -> u8 {
        bos::column_move(history, rng)
    }
    fn row_payoff(row: &u8, col: &u8) -> i32 {
        payoff::battle_of_sexes(*row, *col)
    }
    fn write_move(m: &u8, out: &mut Vec<u8>) {
        out.push(b'0' + m);
    }
    fn parse_move(line: &[u8]) -> Option<u8> {
        parse_binary(line)
    }
}

impl Game for PrisonersDilemma {
    type Move = u8;
    const ID: GameId = GameId::PrisonersDilemma;
    fn column_move(history: &[(u8, u8)], rng: &mut Rng) -> u8 {
        pd::column_move(history, rng)
    }
    fn row_payoff(row: &u8, col: &u8) -> i32 {
        payoff::prisoners_dilemma(*row, *col)
    }
    fn write_move(m: &u8, out: &mut Vec<u8>) {
        out.push(b'0' + m);
    }
    fn parse_move(line: &[u8]) -> Option<u8> {
        parse_binary(line)
    }
}

impl Game for Blotto {
    type Move = Allocation;
    const ID: GameId = GameId::Blotto;
    fn column_move(history: &[(Allocation, Allocation)], rng: &mut Rng) -> Allocation {
        blotto::column_move(history, rng)
    }
    fn row_payoff(row: &Allocation, col: &Allocation) -> i32 {
        payoff::blotto(row, col)
    }
    fn write_move(m: &Allocation, out: &mut Vec<u8>) {
        for (i, x) in m.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(x.to_string().as_bytes());
        }
    }
    fn parse_move(line: &[u8]) -> Option<Allocation> {
        let text = std::str::from_utf8(line).ok()?;
        let mut a = [0u32; BATTLEFIELDS];
        let mut fields = text.split(' ');
        for slot in &mut a {
            let f = fields.next()?;
            // Digits only: no sign, no spaces, at most three of them.
            if f.is_empty() || f.len() > 3 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = f.parse().ok()?;
        }
        (fields.next().is_none() && a.iter().sum::<u32>() <= SOLDIERS).then_some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_round_trip() {
        for g in GameId::ALL {
            assert_eq!(GameId::from_task_id(g.task_id()), Some(g));
        }
        assert_eq!(GameId::from_task_id("blotto2"), None);
    }

    #[test]
    fn protocol_moves_are_range_checked() {
        assert_eq!(BattleOfSexes::parse_move(b"1"), Some(1));
        assert_eq!(PrisonersDilemma::parse_move(b"2"), None);
        assert_eq!(PrisonersDilemma::parse_move(b"01"), None);
        let mut out = Vec::new();
        Blotto::write_move(&[120, 0, 0, 0, 0, 0], &mut out);
        assert_eq!(out, b"120 0 0 0 0 0");
        assert_eq!(Blotto::parse_move(&out), Some([120, 0, 0, 0, 0, 0]));
        assert_eq!(Blotto::parse_move(b"20 20 20 20 20 20"), Some([20; 6]));
        assert_eq!(
            Blotto::parse_move(b"21 20 20 20 20 20"),
            None,
            "121 soldiers"
        );
        assert_eq!(Blotto::parse_move(b"20 20 20 20 20"), None, "5 fields");
        assert_eq!(Blotto::parse_move(b"20 20 20 20 20 20 0"), None, "7 fields");
        assert_eq!(Blotto::parse_move(b"-1 20 20 20 20 20"), None);
        assert_eq!(Blotto::parse_move(b"20  20 20 20 20 20"), None);
    }
}
