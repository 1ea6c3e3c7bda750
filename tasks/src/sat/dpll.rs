//! A deliberately simple recursive DPLL (unit propagation by rescanning every clause,
//! branching on the shortest open clause), written independently of [`super::cdcl`] so
//! that the two can cross-check each other's verdicts on the whole instance set.

use super::cnf::{Cnf, Verdict};

/// Decides `cnf`; a `Sat` verdict carries a full model (free variables set false).
pub fn solve(cnf: &Cnf) -> Verdict {
    if !cnf.is_well_formed() {
        return Verdict::Unsat; // not reachable for generated formulas; keeps indexing total
    }
    let mut value = vec![None; cnf.num_vars as usize + 1];
    if search(&cnf.clauses, &mut value) {
        Verdict::Sat(value[1..].iter().map(|v| v.unwrap_or(false)).collect())
    } else {
        Verdict::Unsat
    }
}

enum Scan {
    Conflict,
    Unit(i32),
    Branch(i32),
    Satisfied,
}

fn scan(clauses: &[Vec<i32>], value: &[Option<bool>]) -> Scan {
    let mut best: Option<(usize, i32)> = None;
    for clause in clauses {
        let mut free = 0;
        let mut first_free = 0;
        let mut satisfied = false;
        for &l in clause {
            match value[l.unsigned_abs() as usize] {
                Some(b) if b == (l > 0) => {
                    satisfied = true;
                    break;
                }
                Some(_) => {}
                None => {
                    if free == 0 {
                        first_free = l;
                    }
                    free += 1;
                }
            }
        }
        if satisfied {
            continue;
        }
        match free {
            0 => return Scan::Conflict,
            1 => return Scan::Unit(first_free),
            _ if best.is_none_or(|(f, _)| free < f) => best = Some((free, first_free)),
            _ => {}
        }
    }
    best.map_or(Scan::Satisfied, |(_, l)| Scan::Branch(l))
}

fn search(clauses: &[Vec<i32>], value: &mut [Option<bool>]) -> bool {
    let mut implied = Vec::new();
    let found = loop {
        match scan(clauses, value) {
            Scan::Conflict => break false,
            Scan::Satisfied => break true,
            Scan::Unit(l) => {
                value[l.unsigned_abs() as usize] = Some(l > 0);
                implied.push(l.unsigned_abs() as usize);
            }
            Scan::Branch(l) => {
                let v = l.unsigned_abs() as usize;
                let mut ok = false;
                for b in [l > 0, l < 0] {
                    value[v] = Some(b);
                    if search(clauses, value) {
                        ok = true;
                        break;
                    }
                    value[v] = None;
                }
                break ok;
            }
        }
    };
    if !found {
        for v in implied {
            value[v] = None;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::cnf::brute_force;
    use super::super::generate::random_ksat;
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn agrees_with_brute_force() {
        let mut rng = Rng::new(23);
        for i in 0..400 {
            let n = 3 + (i % 10) as u32;
            let m = rng.below(u64::from(7 * n)) as usize;
            let f = random_ksat(&mut rng, n, m, 1 + i % 3);
            let got = solve(&f);
            if let Verdict::Sat(model) = &got {
                assert!(f.satisfied_by(model), "{f:?}");
            }
            assert_eq!(got.is_sat(), brute_force(&f).unwrap().is_sat(), "{f:?}");
        }
    }
}
