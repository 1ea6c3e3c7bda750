//! A small conflict-driven clause-learning (CDCL) solver: two watched literals, first-UIP
//! learning with non-chronological backjumping, VSIDS-style activities, phase saving and
//! Luby restarts. No learnt-clause deletion: the task's instances are small (≤ 100
//! variables), where the learnt database stays tiny. It gives the instance set its
//! ground truth and the task its "native solver" sanity bound; [`super::dpll`] and
//! brute force cross-check it.

use super::cnf::{Cnf, Verdict};

/// A literal as `2 * variable + negated`, variables numbered from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lit(u32);

impl Lit {
    fn from_dimacs(l: i32) -> Lit {
        Lit(2 * (l.unsigned_abs() - 1) + u32::from(l < 0))
    }
    fn var(self) -> usize {
        (self.0 >> 1) as usize
    }
    fn negated(self) -> Lit {
        Lit(self.0 ^ 1)
    }
    fn index(self) -> usize {
        self.0 as usize
    }
    fn is_negative(self) -> bool {
        self.0 & 1 == 1
    }
}

/// Counts of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Branching decisions.
    pub decisions: u64,
    /// Conflicts (each yields a learnt clause).
    pub conflicts: u64,
    /// Restarts.
    pub restarts: u64,
}

const TRUE: i8 = 1;
const FALSE: i8 = 0;
const UNSET: i8 = -1;

/// Value of literal `l` under the variable values `value`.
fn lit_value(value: &[i8], l: Lit) -> i8 {
    match value[l.var()] {
        UNSET => UNSET,
        v => v ^ i8::from(l.is_negative()),
    }
}

struct Solver {
    /// Clauses of two or more literals (original, then learnt); slots 0 and 1 are watched.
    clauses: Vec<Vec<Lit>>,
    /// For each literal, the clauses in which it is watched (visited when it becomes false).
    watches: Vec<Vec<usize>>,
    value: Vec<i8>,
    level: Vec<u32>,
    reason: Vec<Option<usize>>,
    trail: Vec<Lit>,
    trail_lim: Vec<usize>,
    qhead: usize,
    activity: Vec<f64>,
    var_inc: f64,
    phase: Vec<bool>,
    seen: Vec<bool>,
    stats: Stats,
}

/// Decides `cnf`; a `Sat` verdict carries a full model.
pub fn solve(cnf: &Cnf) -> Verdict {
    solve_with_stats(cnf).0
}

/// [`solve`], also returning the run's counts.
pub fn solve_with_stats(cnf: &Cnf) -> (Verdict, Stats) {
    let n = cnf.num_vars as usize;
    let mut s = Solver {
        clauses: Vec::new(),
        watches: vec![Vec::new(); 2 * n],
        value: vec![UNSET; n],
        level: vec![0; n],
        reason: vec![None; n],
        trail: Vec::with_capacity(n),
        trail_lim: Vec::new(),
        qhead: 0,
        activity: vec![0.0; n],
        var_inc: 1.0,
        phase: vec![false; n],
        seen: vec![false; n],
        stats: Stats::default(),
    };
    let verdict = if s.add_original(cnf) {
        s.search()
    } else {
        Verdict::Unsat
    };
    (verdict, s.stats)
}

impl Solver {
    /// Adds the formula's clauses; false when it is trivially unsatisfiable (an empty
    /// clause or contradicting unit clauses).
    fn add_original(&mut self, cnf: &Cnf) -> bool {
        for clause in &cnf.clauses {
            let mut lits: Vec<Lit> = Vec::with_capacity(clause.len());
            let mut tautology = false;
            for &l in clause {
                let lit = Lit::from_dimacs(l);
                tautology |= lits.contains(&lit.negated());
                if !lits.contains(&lit) {
                    lits.push(lit);
                }
            }
            match lits.len() {
                _ if tautology => {}
                0 => return false,
                1 => match lit_value(&self.value, lits[0]) {
                    FALSE => return false,
                    TRUE => {}
                    _ => self.enqueue(lits[0], None),
                },
                _ => {
                    self.attach(lits);
                }
            }
        }
        true
    }

    fn attach(&mut self, lits: Vec<Lit>) -> usize {
        let index = self.clauses.len();
        self.watches[lits[0].index()].push(index);
        self.watches[lits[1].index()].push(index);
        self.clauses.push(lits);
        index
    }

    fn decision_level(&self) -> u32 {
        self.trail_lim.len() as u32
    }

    fn enqueue(&mut self, lit: Lit, reason: Option<usize>) {
        let v = lit.var();
        self.value[v] = if lit.is_negative() { FALSE } else { TRUE };
        self.level[v] = self.decision_level();
        self.reason[v] = reason;
        self.trail.push(lit);
    }

    /// Propagates the trail; returns a conflicting clause, if any.
    fn propagate(&mut self) -> Option<usize> {
        while self.qhead < self.trail.len() {
            let false_lit = self.trail[self.qhead].negated();
            self.qhead += 1;
            let mut watching = std::mem::take(&mut self.watches[false_lit.index()]);
            let (mut i, mut j) = (0, 0);
            let mut conflict = None;
            while i < watching.len() {
                let ci = watching[i];
                i += 1;
                let clause = &mut self.clauses[ci];
                if clause[0] == false_lit {
                    clause.swap(0, 1);
                }
                if lit_value(&self.value, clause[0]) == TRUE {
                    watching[j] = ci;
                    j += 1;
                    continue;
                }
                if let Some(k) =
                    (2..clause.len()).find(|&k| lit_value(&self.value, clause[k]) != FALSE)
                {
                    clause.swap(1, k);
                    let new_watch = clause[1].index();
                    self.watches[new_watch].push(ci);
                    continue;
                }
                watching[j] = ci;
                j += 1;
                let first = clause[0];
                if lit_value(&self.value, first) == FALSE {
                    conflict = Some(ci);
                    watching.copy_within(i.., j);
                    j += watching.len() - i;
                    break;
                }
                self.enqueue(first, Some(ci));
            }
            watching.truncate(j);
            self.watches[false_lit.index()] = watching;
            if conflict.is_some() {
                return conflict;
            }
        }
        None
    }

    /// First-UIP analysis of `conflict`: the learnt clause (asserting literal first, a
    /// literal of the backjump level second) and the level to backjump to.
    fn analyze(&mut self, conflict: usize) -> (Vec<Lit>, u32) {
        let current = self.decision_level();
        let mut learnt = vec![Lit(0)];
        let mut pending = 0usize;
        let mut index = self.trail.len();
        let mut clause = conflict;
        let mut uip: Option<Lit> = None;
        loop {
            for k in 0..self.clauses[clause].len() {
                let q = self.clauses[clause][k];
                if Some(q) == uip {
                    continue;
                }
                let v = q.var();
                if !self.seen[v] && self.level[v] > 0 {
                    self.seen[v] = true;
                    self.bump(v);
                    if self.level[v] == current {
                        pending += 1;
                    } else {
                        learnt.push(q);
                    }
                }
            }
            // The most recent marked literal of the trail is resolved next.
            loop {
                index -= 1;
                if self.seen[self.trail[index].var()] {
                    break;
                }
            }
            let p = self.trail[index];
            self.seen[p.var()] = false;
            pending -= 1;
            uip = Some(p);
            if pending == 0 {
                break;
            }
            // Not the UIP, so it was implied at this level and has a reason.
            match self.reason[p.var()] {
                Some(r) => clause = r,
                None => break,
            }
        }
        if let Some(p) = uip {
            learnt[0] = p.negated();
        }
        for l in &learnt[1..] {
            self.seen[l.var()] = false;
        }
        let mut backjump = 0;
        if learnt.len() > 1 {
            let mut best = 1;
            for k in 2..learnt.len() {
                if self.level[learnt[k].var()] > self.level[learnt[best].var()] {
                    best = k;
                }
            }
            learnt.swap(1, best);
            backjump = self.level[learnt[1].var()];
        }
        (learnt, backjump)
    }

    fn bump(&mut self, v: usize) {
        self.activity[v] += self.var_inc;
        if self.activity[v] > 1e100 {
            for a in &mut self.activity {
                *a *= 1e-100;
            }
            self.var_inc *= 1e-100;
        }
    }

    fn cancel_until(&mut self, level: u32) {
        if self.decision_level() <= level {
            return;
        }
        let keep = self.trail_lim[level as usize];
        for lit in self.trail.drain(keep..) {
            let v = lit.var();
            self.phase[v] = !lit.is_negative();
            self.value[v] = UNSET;
            self.reason[v] = None;
        }
        self.trail_lim.truncate(level as usize);
        self.qhead = keep;
    }

    /// The unassigned variable of highest activity (lowest index on ties).
    fn pick_branch(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for v in 0..self.value.len() {
            if self.value[v] == UNSET && best.is_none_or(|b| self.activity[v] > self.activity[b]) {
                best = Some(v);
            }
        }
        best
    }

    fn search(&mut self) -> Verdict {
        let mut restart = 0u64;
        let mut budget = 64 * luby(restart);
        let mut since_restart = 0u64;
        loop {
            if let Some(conflict) = self.propagate() {
                self.stats.conflicts += 1;
                since_restart += 1;
                if self.decision_level() == 0 {
                    return Verdict::Unsat;
                }
                let (learnt, backjump) = self.analyze(conflict);
                self.cancel_until(backjump);
                let asserting = learnt[0];
                if learnt.len() == 1 {
                    self.enqueue(asserting, None);
                } else {
                    let ci = self.attach(learnt);
                    self.enqueue(asserting, Some(ci));
                }
                self.var_inc /= 0.95;
                continue;
            }
            if since_restart >= budget {
                self.cancel_until(0);
                self.stats.restarts += 1;
                restart += 1;
                budget = 64 * luby(restart);
                since_restart = 0;
            }
            match self.pick_branch() {
                None => return Verdict::Sat(self.value.iter().map(|&v| v == TRUE).collect()),
                Some(v) => {
                    self.stats.decisions += 1;
                    self.trail_lim.push(self.trail.len());
                    let lit = Lit(2 * v as u32 + u32::from(!self.phase[v]));
                    self.enqueue(lit, None);
                }
            }
        }
    }
}

/// The Luby sequence 1, 1, 2, 1, 1, 2, 4, 1, ... (index from 0).
fn luby(mut i: u64) -> u64 {
    let (mut size, mut seq) = (1u64, 0u32);
    while size < i + 1 {
        seq += 1;
        size = 2 * size + 1;
    }
    while size - 1 != i {
        size = (size - 1) >> 1;
        seq -= 1;
        i %= size;
    }
    1 << seq
}

#[cfg(test)]
mod tests {
    use super::super::cnf::brute_force;
    use super::super::generate::random_ksat;
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn luby_sequence() {
        let v: Vec<u64> = (0..15).map(luby).collect();
        assert_eq!(v, [1, 1, 2, 1, 1, 2, 4, 1, 1, 2, 1, 1, 2, 4, 8]);
    }

    #[test]
    fn agrees_with_brute_force_on_small_random_formulas() {
        let mut rng = Rng::new(11);
        let (mut sat, mut unsat) = (0, 0);
        for i in 0..600 {
            let n = 3 + (i % 12) as u32;
            let k = 1 + (i % 4);
            let m = rng.below(u64::from(6 * n)) as usize;
            let f = random_ksat(&mut rng, n, m, k);
            let expected = brute_force(&f).unwrap();
            match solve(&f) {
                Verdict::Sat(model) => {
                    assert!(f.satisfied_by(&model), "invalid model for {f:?}");
                    assert!(expected.is_sat(), "CDCL says SAT, brute force UNSAT: {f:?}");
                    sat += 1;
                }
                Verdict::Unsat => {
                    assert_eq!(expected, Verdict::Unsat, "CDCL says UNSAT: {f:?}");
                    unsat += 1;
                }
            }
        }
        assert!(
            sat > 100 && unsat > 100,
            "sat {sat} unsat {unsat}: the test must exercise both"
        );
    }

    #[test]
    fn degenerate_formulas() {
        let f = |n, c: &[&[i32]]| Cnf {
            num_vars: n,
            clauses: c.iter().map(|c| c.to_vec()).collect(),
        };
        assert_eq!(solve(&f(1, &[&[]])), Verdict::Unsat);
        assert_eq!(solve(&f(1, &[&[1], &[-1]])), Verdict::Unsat);
        assert_eq!(solve(&f(2, &[])), Verdict::Sat(vec![false, false]));
        assert_eq!(
            solve(&f(2, &[&[1, -1], &[2, 2]])),
            Verdict::Sat(vec![false, true])
        );
        // x1 ∧ (¬x1 ∨ x2) ∧ (¬x2 ∨ ¬x1): refuted by propagation at level 0.
        assert_eq!(solve(&f(2, &[&[1], &[-1, 2], &[-2, -1]])), Verdict::Unsat);
    }
}
