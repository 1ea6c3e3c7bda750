//! The row player's payoff in one round of each game (MLGym's tables; spec §2.5.8–2.5.10).

use super::opponents::blotto::{Allocation, BATTLEFIELDS};

/// Battle of the Sexes: (0,0) → 2, (1,1) → 1, a mismatch → 0. (The column player gets
/// 1, 2 and 0; only the row's payoff is scored.)
pub fn battle_of_sexes(row: u8, col: u8) -> i32 {
    match (row, col) {
        (0, 0) => 2,
        (1, 1) => 1,
        _ => 0,
    }
}

/// Prisoner's Dilemma, 0 = cooperate, 1 = defect: (C,C) → 3, (C,D) → 0, (D,C) → 5,
/// (D,D) → 1.
pub fn prisoners_dilemma(row: u8, col: u8) -> i32 {
    match (row, col) {
        (0, 0) => 3,
        (0, _) => 0,
        (_, 0) => 5,
        _ => 1,
    }
}

/// Colonel Blotto: a battlefield goes to the side with strictly more soldiers (a tie goes
/// to nobody); the side that wins more battlefields gets +1, the other −1, equal counts 0.
pub fn blotto(row: &Allocation, col: &Allocation) -> i32 {
    let mut balance = 0i32;
    for i in 0..BATTLEFIELDS {
        balance += i32::from(row[i] > col[i]) - i32::from(row[i] < col[i]);
    }
    balance.signum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_the_rules() {
        assert_eq!(
            [
                battle_of_sexes(0, 0),
                battle_of_sexes(0, 1),
                battle_of_sexes(1, 0),
                battle_of_sexes(1, 1)
            ],
            [2, 0, 0, 1]
        );
        assert_eq!(
            [
                prisoners_dilemma(0, 0),
                prisoners_dilemma(0, 1),
                prisoners_dilemma(1, 0),
                prisoners_dilemma(1, 1)
            ],
            [3, 0, 5, 1]
        );
    }

    #[test]
    fn blotto_counts_battlefields_not_soldiers() {
        let even = [20; 6];
        assert_eq!(blotto(&even, &even), 0);
        // Wins 4 fields narrowly, loses 2 heavily: still a win.
        assert_eq!(
            blotto(&[21, 21, 21, 21, 0, 0], &[20, 20, 20, 20, 20, 20]),
            1
        );
        assert_eq!(
            blotto(&[20, 20, 20, 20, 20, 20], &[21, 21, 21, 21, 0, 0]),
            -1
        );
        // 3 wins, 2 losses, 1 tie.
        assert_eq!(blotto(&[30, 30, 30, 10, 10, 10], &[0, 0, 0, 60, 50, 10]), 1);
        assert_eq!(blotto(&[30, 30, 30, 10, 10, 0], &[0, 0, 0, 60, 30, 30]), 0);
    }
}
