//! CNF formulas in DIMACS literal convention (`3` is variable 3, `-3` its negation,
//! variables numbered from 1), and checking an assignment against one.

/// A formula in conjunctive normal form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cnf {
    /// Number of variables; literals are in `-num_vars..=num_vars`, never 0.
    pub num_vars: u32,
    /// The clauses, each a list of literals.
    pub clauses: Vec<Vec<i32>>,
}

/// What a solver concluded about a formula.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Satisfiable, with a full model: `model[v - 1]` is the value of variable `v`.
    Sat(Vec<bool>),
    /// Unsatisfiable.
    Unsat,
}

impl Verdict {
    /// Whether the verdict is `Sat`.
    pub fn is_sat(&self) -> bool {
        matches!(self, Verdict::Sat(_))
    }
}

impl Cnf {
    /// The first clause (index) that `value` leaves without a true literal, or `None`
    /// when every clause is satisfied. `value(v)` is `None` for an unassigned variable,
    /// which satisfies nothing (a partial model must satisfy every clause by itself).
    pub fn first_unsatisfied(&self, value: impl Fn(u32) -> Option<bool>) -> Option<usize> {
        self.clauses
            .iter()
            .position(|c| !c.iter().any(|&l| value(l.unsigned_abs()) == Some(l > 0)))
    }

    /// Whether the full model `model` (`model[v - 1]` for variable `v`) satisfies the formula.
    pub fn satisfied_by(&self, model: &[bool]) -> bool {
        model.len() == self.num_vars as usize
            && self
                .first_unsatisfied(|v| model.get(v as usize - 1).copied())
                .is_none()
    }

    /// The formula in DIMACS CNF text (`p cnf V C`, one zero-terminated clause a line).
    pub fn to_dimacs(&self) -> String {
        let mut s = format!("p cnf {} {}\n", self.num_vars, self.clauses.len());
        for c in &self.clauses {
            for l in c {
                s.push_str(&l.to_string());
                s.push(' ');
            }
            s.push_str("0\n");
        }
        s
    }

    /// Whether every literal names a variable in `1..=num_vars`.
    pub fn is_well_formed(&self) -> bool {
        self.clauses
            .iter()
            .flatten()
            .all(|&l| l != 0 && l.unsigned_abs() <= self.num_vars)
    }
}

/// Exhaustive search over all `2^num_vars` assignments (for tests and tiny formulas;
/// `None` above 24 variables).
pub fn brute_force(cnf: &Cnf) -> Option<Verdict> {
    if cnf.num_vars > 24 {
        return None;
    }
    let n = cnf.num_vars as usize;
    for bits in 0u64..(1u64 << n) {
        let model: Vec<bool> = (0..n).map(|i| bits >> i & 1 == 1).collect();
        if cnf.satisfied_by(&model) {
            return Some(Verdict::Sat(model));
        }
    }
    Some(Verdict::Unsat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_models_and_writes_dimacs() {
        let f = Cnf {
            num_vars: 2,
            clauses: vec![vec![1, -2], vec![2]],
        };
        assert!(f.satisfied_by(&[true, true]));
        assert!(!f.satisfied_by(&[false, true]));
        assert!(
            !f.satisfied_by(&[true]),
            "a model of the wrong length is rejected"
        );
        assert_eq!(f.first_unsatisfied(|v| (v == 2).then_some(true)), Some(0));
        assert_eq!(f.to_dimacs(), "p cnf 2 2\n1 -2 0\n2 0\n");
        assert_eq!(brute_force(&f), Some(Verdict::Sat(vec![true, true])));
        let g = Cnf {
            num_vars: 1,
            clauses: vec![vec![1], vec![-1]],
        };
        assert_eq!(brute_force(&g), Some(Verdict::Unsat));
        assert!(!Cnf {
            num_vars: 1,
            clauses: vec![vec![2]]
        }
        .is_well_formed());
    }
}
