#!/usr/bin/env python3
"""A pure-Python game-theory evaluation written from the spec (mlgym-spec.md §2.5.8-2.5.10),
structured like MLGym's own harness, for timing against our sandboxed evaluator.

One process; for each of 10,000 simulations and 10 rounds the row strategy and then the
opponent (in Python, sharing the global `random` module) are called with the same history;
moves are validated and payoffs averaged per simulation, then over simulations. By default
the means are plain Python (the leanest harness possible); with --numpy they are computed
as MLGym does (row and column payoffs of each simulation through float32 NumPy arrays).
Neither includes interpreter start-up or `import numpy`.

Usage: game_theory_reference.py --game bos|pd|blotto --strategy PATH [--repeat N] [--json]
       [--numpy]
"""

import argparse
import importlib.util
import json
import random
import statistics
import time

# ---- opponents (spec §2.5.8-2.5.10) --------------------------------------------------


def bos_opponent(history):
    if not history:
        return 1
    first_row = history[0][0]
    return first_row if random.random() < 0.8 else 1 - first_row


def _pd_simple_random(h):
    if not h:
        return 1
    r = random.random()
    if r < 0.3333:
        return 0
    if r < 0.5:
        return 1
    if r < 0.9:
        return h[-1][1]
    return 1 - h[-1][0]


def _two_defections(h):
    return len(h) >= 2 and h[-1][0] == 1 and h[-2][0] == 1


PD_MEMBERS = [
    _pd_simple_random,
    lambda h: h[-1][0] if h else 0,  # tit for tat
    lambda h: 0,  # always cooperate
    lambda h: 1,  # always defect
    lambda h: random.choice([0, 1]),  # random
    lambda h: 1 if any(m[0] == 1 for m in h) else 0,  # grim trigger
    lambda h: (0 if h[-1][0] == h[-1][1] else 1) if h else 0,  # pavlov
    lambda h: 1 if _two_defections(h) else 0,  # tit for two tats
    lambda h: h[-1][0] if h else 1,  # suspicious tit for tat
    lambda h: 0 if random.random() < 0.5 else 1,  # random cooperate
    lambda h: (0 if _two_defections(h) else h[-1][0]) if h else 0,  # forgiving tit for tat
]


def pd_opponent(history):
    return random.choice(PD_MEMBERS)(history)


def blotto_opponent(history):
    draws = [random.randint(0, 120) for _ in range(6)]
    total = sum(draws)
    alloc = [int(x * 120 / total) for x in draws]
    short = 120 - sum(alloc)
    if short:
        alloc[random.randint(0, 5)] += short
    return alloc


# ---- payoffs and validation -----------------------------------------------------------

BOS = [[2, 0], [0, 1]]
PD = [[3, 0], [5, 1]]


def binary_payoff(table):
    def payoff(row, col):
        if row not in [0, 1] or col not in [0, 1]:
            raise ValueError("moves must be 0 or 1")
        return table[row][col]

    return payoff


def blotto_payoff(row, col):
    for a in (row, col):
        if not all(isinstance(x, int) and x >= 0 for x in a) or sum(a) > 120:
            raise ValueError("invalid allocation")
    won = sum(1 for x, y in zip(row, col) if x > y)
    lost = sum(1 for x, y in zip(row, col) if x < y)
    return (won > lost) - (won < lost)


GAMES = {
    "bos": (bos_opponent, binary_payoff(BOS)),
    "pd": (pd_opponent, binary_payoff(PD)),
    "blotto": (blotto_opponent, blotto_payoff),
}


def evaluate(game, row_strategy, simulations=10_000, rounds=10, np=None):
    opponent, payoff = GAMES[game]
    scores = []
    for _ in range(simulations):
        history = []
        for _ in range(rounds):
            row = row_strategy(history)
            col = opponent(history)
            history.append((row, col))
        row_payoffs = [payoff(r, c) for r, c in history]
        if np is None:
            scores.append(sum(row_payoffs) / rounds)
        else:
            # MLGym also builds the column's payoffs (the negated/other entry) the same way.
            col_payoffs = [-x for x in row_payoffs]
            scores.append(np.mean(np.asarray(row_payoffs, dtype=np.float32)))
            np.mean(np.asarray(col_payoffs, dtype=np.float32))
    if np is not None:
        return float(np.mean(np.asarray(scores, dtype=np.float32)))
    return sum(scores) / len(scores)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--game", choices=sorted(GAMES), required=True)
    ap.add_argument("--strategy", required=True)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--numpy", action="store_true", help="per-simulation means through NumPy, as MLGym")
    args = ap.parse_args()
    np = None
    if args.numpy:
        import numpy as np
    times, score = [], None
    for _ in range(args.repeat):
        # Each repetition imports the strategy afresh, as a new MLGym evaluation would.
        t0 = time.perf_counter()
        spec = importlib.util.spec_from_file_location("strategy", args.strategy)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        score = evaluate(args.game, module.row_strategy, np=np)
        times.append(time.perf_counter() - t0)
    out = {"game": args.game, "median_s": statistics.median(times), "best_s": min(times), "score": score}
    print(json.dumps(out) if args.json else out)


if __name__ == "__main__":
    main()
