#!/usr/bin/env python3
"""Prints the table of scripts/bench/game_theory.sh from its JSON lines (one per set,
side and game: median_s, best_s, score)."""

import json
import sys


def main():
    rows = [json.loads(line) for line in open(sys.argv[1])]
    by = {(r["set"], r["side"], r["game"]): r for r in rows}
    print(f"{'strategies':<10} {'game':<7} {'ours':>7} {'python':>7} {'ratio':>8} {'numpy':>7} {'ratio':>8}")
    for s in dict.fromkeys(r["set"] for r in rows):
        for g in ("bos", "pd", "blotto"):
            o, p, n = (by.get((s, side, g)) for side in ("ours", "python", "numpy"))
            if not o or not p:
                continue
            line = f"{s:<10} {g:<7} {o['median_s']:>7.3f} {p['median_s']:>7.3f} {o['median_s'] / p['median_s']:>7.2f}x"
            if n:
                line += f" {n['median_s']:>7.3f} {o['median_s'] / n['median_s']:>7.2f}x"
            print(line)
    print("Median seconds per evaluation. ours: sandbox + interpreter start-up + import + 90,000")
    print("protocol round trips with the native opponent. python: the leanest in-process harness;")
    print("numpy: the same with MLGym's NumPy per-simulation means. Neither includes interpreter")
    print("start-up or imports. ratio = ours / theirs (below 1: we are faster).")


if __name__ == "__main__":
    main()
