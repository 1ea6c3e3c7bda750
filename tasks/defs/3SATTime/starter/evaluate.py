"""Runs solver.py with heuristic.py on the development set (data/dev.jsonl) and prints
{"Time", "Correct", "Incorrect", "Decisions"} as JSON.

This is for your own measurements. The official score comes from `validate` / `submit`,
which run the evaluator's pristine solver with your heuristic on a hidden set drawn
from the same distribution, in a fresh sandbox, and time it by CPU seconds.

Usage: python evaluate.py [--limit N] [--verbose]
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from heuristic import heuristic_fn  # noqa: E402
from solver import DPLL  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(HERE, "data", "dev.jsonl"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N instances")
    parser.add_argument("--verbose", action="store_true", help="one line per instance on stderr")
    args = parser.parse_args()
    with open(args.data) as handle:
        instances = [json.loads(line) for line in handle][: args.limit]
    correct = incorrect = decisions = 0
    total = 0.0
    for instance in instances:
        solver = DPLL(instance["clauses"], heuristic_fn, instance["num_vars"])
        start = time.process_time()
        sat = solver.solve()
        elapsed = time.process_time() - start
        total += elapsed
        decisions += solver.num_decisions
        ok = sat == instance["sat"]
        if ok and sat:
            model = solver.model()
            ok = all(any(model.get(abs(lit)) == (lit > 0) for lit in clause) for clause in instance["clauses"])
        correct += ok
        incorrect += not ok
        if args.verbose or not ok:
            status = "ok" if ok else "WRONG"
            print(f"{instance['name']}: {status} sat={sat} decisions={solver.num_decisions} "
                  f"cpu={elapsed:.3f}s", file=sys.stderr)
    print(json.dumps({"Time": round(total, 3), "Correct": correct, "Incorrect": incorrect,
                      "Decisions": decisions}))


if __name__ == "__main__":
    main()
