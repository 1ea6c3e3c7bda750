//! Uniform random k-SAT (the standard "fixed clause length" model): every clause draws
//! `k` distinct variables uniformly and negates each with probability 1/2; clauses are
//! drawn independently (duplicates allowed). For k = 3 the satisfiable/unsatisfiable
//! phase transition is near `clauses / variables ≈ 4.26`, where instances are hardest
//! for DPLL; far below it almost all are satisfiable and easy, far above almost all
//! are unsatisfiable and get easier as the ratio grows.
//!
//! Only integer operations of [`crate::rng::Rng`] are used, so an instance depends on
//! nothing but the generator's stream: identical bytes on every machine.

use super::cnf::Cnf;
use crate::rng::Rng;

/// A random `k`-SAT formula with `num_vars` variables and `num_clauses` clauses drawn
/// from `rng`. Literal order inside a clause is the order of drawing. Requires
/// `k <= num_vars` (otherwise `k` is reduced to `num_vars`).
pub fn random_ksat(rng: &mut Rng, num_vars: u32, num_clauses: usize, k: usize) -> Cnf {
    let k = k.min(num_vars as usize);
    let mut clauses = Vec::with_capacity(num_clauses);
    for _ in 0..num_clauses {
        let mut clause: Vec<i32> = Vec::with_capacity(k);
        while clause.len() < k {
            // Variables fit in i32: instance sizes are far below 2^31.
            let var = rng.below(u64::from(num_vars)) as i32 + 1;
            if clause.iter().any(|l| l.abs() == var) {
                continue; // rejection keeps the k variables distinct and uniform
            }
            let negated = rng.next_u64() >> 63 == 1;
            clause.push(if negated { -var } else { var });
        }
        clauses.push(clause);
    }
    Cnf { num_vars, clauses }
}

/// The number of clauses for `num_vars` variables at ratio `ratio_percent / 100`,
/// rounded half up in integer arithmetic (no floating point, so no platform drift).
pub fn clauses_for_ratio(num_vars: u32, ratio_percent: u32) -> usize {
    ((u64::from(num_vars) * u64::from(ratio_percent) + 50) / 100) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_are_3_distinct_variables_and_signs_are_balanced() {
        let mut rng = Rng::new(5);
        let f = random_ksat(&mut rng, 20, 2000, 3);
        assert!(f.is_well_formed());
        assert_eq!(f.clauses.len(), 2000);
        let mut negative = 0;
        let mut per_var = [0u32; 21];
        for c in &f.clauses {
            assert_eq!(c.len(), 3);
            assert!(
                c[0].abs() != c[1].abs() && c[1].abs() != c[2].abs() && c[0].abs() != c[2].abs(),
                "{c:?}"
            );
            negative += c.iter().filter(|l| **l < 0).count();
            for l in c {
                per_var[l.unsigned_abs() as usize] += 1;
            }
        }
        assert!(
            (2800..3200).contains(&negative),
            "{negative} of 6000 negated"
        );
        for count in &per_var[1..] {
            assert!((230..370).contains(count), "{per_var:?}");
        }
        let mut again = Rng::new(5);
        assert_eq!(random_ksat(&mut again, 20, 2000, 3), f);
    }

    #[test]
    fn ratios_round_half_up() {
        assert_eq!(clauses_for_ratio(75, 426), 320); // 319.5
        assert_eq!(clauses_for_ratio(50, 426), 213);
        assert_eq!(clauses_for_ratio(20, 300), 60);
    }
}
