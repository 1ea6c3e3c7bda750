"""A DPLL SAT solver whose branching decisions come from `heuristic_fn`.

This file is owned by the evaluator: the evaluator always runs its own pristine copy,
so editing the workspace copy changes nothing. Read it to see what your heuristic is
given and what it must return.

The algorithm is classic recursive DPLL:

1. Unit propagation: while some unsatisfied clause has all literals but one assigned
   false, assign the remaining literal so that the clause is satisfied. A clause with
   every literal false is a conflict: the variables of that clause get their
   `conflict_count` increased and the branch fails.
2. If every clause is satisfied, the formula is satisfiable (variables still unassigned
   may take any value).
3. Otherwise ask `heuristic_fn` for a decision `(variable, value)`, assign it on a new
   decision level, and search; if that fails, undo the level and try `not value`; if
   both fail, the branch fails.

Every call of `heuristic_fn` counts as one decision. The heuristic receives:

* `clauses`: a tuple of the clauses not yet satisfied, each a tuple of int literals
  (`3` is variable 3, `-3` its negation). Literals already assigned false stay in
  their clause.
* `assignments`: a read-only mapping variable -> bool of the assigned variables.
* `conflict_count`: a read-only mapping variable -> int (every variable of the
  formula is present, starting at 0).
* `assignment_history`: a tuple of the assigned variables, in assignment order.
* `level`: a tuple of tuples, one per decision level: `level[0]` holds the
  variables implied before any decision, `level[k]` (k >= 1) the k-th decision
  variable followed by the variables it implied.

These are read-only snapshots or views, so a heuristic cannot corrupt the solver's
state by accident; copy them (`dict(assignments)`, `list(clause)`) to modify them.
It must return `(variable, value)`: `variable` an int between 1 and the number of
variables that is not yet assigned, `value` a bool. Anything else stops the
evaluation with an error that names the instance.

Python's own data structures are iterated here only in insertion order (lists,
tuples, dicts; never sets), so a run is deterministic given the heuristic.
"""

import numbers
import types


class HeuristicError(Exception):
    """The heuristic raised, or returned something the solver cannot use."""


def _short_repr(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_bool(value):
    # numpy.bool_ is accepted too: it is what comparisons of numpy values return.
    kind = type(value)
    return isinstance(value, bool) or (kind.__module__ == "numpy" and kind.__name__ in ("bool_", "bool"))


class DPLL:
    """Decides one CNF formula with `heuristic_fn` choosing the branching decisions."""

    def __init__(self, clauses, heuristic_fn, num_vars=None):
        normalised = []
        self.has_empty_clause = False
        for clause in clauses:
            lits = []
            tautology = False
            for lit in clause:
                lit = int(lit)
                if lit == 0:
                    raise ValueError("literal 0 is not allowed in a clause")
                if -lit in lits:
                    tautology = True
                if lit not in lits:
                    lits.append(lit)
            if tautology:
                continue  # always satisfied: it can never force or block anything
            if not lits:
                self.has_empty_clause = True
            normalised.append(tuple(lits))
        largest = max((abs(lit) for c in normalised for lit in c), default=0)
        self.num_vars = max(largest, num_vars or 0)
        self.clauses = normalised
        self.heuristic_fn = heuristic_fn
        self.assignments = {}
        self.conflict_count = {v: 0 for v in range(1, self.num_vars + 1)}
        self.assignment_history = []
        self.level = [[]]
        self.num_decisions = 0
        # Counter-based propagation: per clause, how many of its literals are true and
        # how many are false; a clause with no true literal is "open".
        self._occurs = {}
        for index, clause in enumerate(normalised):
            for lit in clause:
                self._occurs.setdefault(lit, []).append(index)
        self._n_true = [0] * len(normalised)
        self._n_false = [0] * len(normalised)
        self._open = len(normalised)
        self._assignments_view = types.MappingProxyType(self.assignments)
        self._conflicts_view = types.MappingProxyType(self.conflict_count)

    def solve(self):
        """True when the formula is satisfiable (then `model()` satisfies it), else False."""
        if self.has_empty_clause:
            return False
        units = [i for i, c in enumerate(self.clauses) if len(c) == 1]
        if not self._propagate(units):
            return False
        return self._search()

    def model(self):
        """The satisfying assignment found by `solve()` (unassigned variables are free)."""
        return dict(self.assignments)

    def _search(self):
        if self._open == 0:
            return True
        variable, value = self._decide()
        for val in (value, not value):
            mark = len(self.assignment_history)
            self.level.append([])
            if self._imply(variable if val else -variable) and self._search():
                return True
            self._undo(mark)
            self.level.pop()
        return False

    def _decide(self):
        clauses = tuple([c for c, t in zip(self.clauses, self._n_true) if not t])
        history = tuple(self.assignment_history)
        levels = tuple(map(tuple, self.level))
        self.num_decisions += 1
        try:
            choice = self.heuristic_fn(clauses, self._assignments_view, self._conflicts_view, history, levels)
        except Exception as error:
            raise HeuristicError(f"heuristic_fn raised {type(error).__name__}: {error}") from error
        return self._check(choice, clauses)

    def _check(self, choice, clauses):
        if not isinstance(choice, (tuple, list)) or len(choice) != 2:
            raise HeuristicError(
                f"heuristic_fn must return a (variable, value) pair, but it returned {_short_repr(choice)}"
            )
        variable, value = choice
        if variable is None:
            free = len({abs(lit) for c in clauses for lit in c} - self.assignments.keys())
            raise HeuristicError(
                f"heuristic_fn returned variable None, but {free} unassigned variable(s) remain in "
                f"the {len(clauses)} unsatisfied clause(s); return one of them"
            )
        if isinstance(variable, bool) or not isinstance(variable, numbers.Integral):
            raise HeuristicError(
                f"heuristic_fn must return an int variable, but it returned "
                f"{type(variable).__name__} {_short_repr(variable)}"
            )
        variable = int(variable)
        if not 1 <= variable <= self.num_vars:
            raise HeuristicError(
                f"heuristic_fn returned variable {variable}, which does not exist: variables are "
                f"1..{self.num_vars} (return abs(literal), not a literal)"
            )
        if variable in self.assignments:
            raise HeuristicError(
                f"heuristic_fn returned variable {variable}, which is already assigned "
                f"({self.assignments[variable]}); return an unassigned variable"
            )
        if not _is_bool(value):
            raise HeuristicError(
                f"heuristic_fn must return a bool value (True or False), but it returned "
                f"{type(value).__name__} {_short_repr(value)}"
            )
        return variable, bool(value)

    def _assign(self, lit, units):
        """Makes `lit` true; appends newly unit clauses to `units`; returns a conflicting
        clause index or None. Counters are updated completely even after a conflict so
        that `_undo` can reverse them exactly."""
        variable = abs(lit)
        self.assignments[variable] = lit > 0
        self.assignment_history.append(variable)
        self.level[-1].append(variable)
        n_true, n_false, clauses = self._n_true, self._n_false, self.clauses
        for i in self._occurs.get(lit, ()):
            if n_true[i] == 0:
                self._open -= 1
            n_true[i] += 1
        conflict = None
        for i in self._occurs.get(-lit, ()):
            n_false[i] += 1
            if n_true[i] == 0:
                remaining = len(clauses[i]) - n_false[i]
                if remaining == 1:
                    units.append(i)
                elif remaining == 0 and conflict is None:
                    conflict = i
        return conflict

    def _imply(self, lit):
        """Makes `lit` true and propagates; False on a conflict."""
        units = []
        conflict = self._assign(lit, units)
        if conflict is not None:
            self._count_conflict(conflict)
            return False
        return self._propagate(units)

    def _propagate(self, units):
        """Unit propagation from the clause indices in `units`; False on a conflict."""
        assignments = self.assignments
        position = 0
        while position < len(units):
            i = units[position]
            position += 1
            if self._n_true[i]:
                continue
            free = [lit for lit in self.clauses[i] if abs(lit) not in assignments]
            conflict = i if not free else self._assign(free[0], units)
            if conflict is not None:
                self._count_conflict(conflict)
                return False
        return True

    def _count_conflict(self, index):
        for lit in self.clauses[index]:
            self.conflict_count[abs(lit)] += 1

    def _undo(self, mark):
        """Unassigns every variable assigned after position `mark` of the history."""
        n_true, n_false, occurs = self._n_true, self._n_false, self._occurs
        while len(self.assignment_history) > mark:
            variable = self.assignment_history.pop()
            lit = variable if self.assignments.pop(variable) else -variable
            for i in occurs.get(lit, ()):
                n_true[i] -= 1
                if n_true[i] == 0:
                    self._open += 1
            for i in occurs.get(-lit, ()):
                n_false[i] -= 1
