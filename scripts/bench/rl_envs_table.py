#!/usr/bin/env python3
"""Joins the outputs of bench_envs (ours) and rl_envs_gymnax.py into one table.

Usage: python3 rl_envs_table.py OURS.jsonl GYMNAX.jsonl
The ratio divides our steps/s (default threads) by gymnax's better variant (with or
without observations), so it never flatters us.
"""

import json
import sys


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                rows[(r["env"], r["n"])] = r
    return rows


def fmt(x):
    return f"{x / 1e6:.2f}M"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: rl_envs_table.py OURS.jsonl GYMNAX.jsonl")
    ours, gym = load(sys.argv[1]), load(sys.argv[2])
    print("| env | envs | mlgym steps/s | mlgym 1 thread | gymnax (obs carried) "
          "| gymnax (obs dropped) | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in sorted(ours, key=lambda k: (k[0], k[1])):
        o = ours[key]
        g = gym.get(key)
        if g is None:
            continue
        best_g = max(g["steps_per_s"], g.get("steps_per_s_no_obs", 0))
        print(f"| {key[0]} | {key[1]} | {fmt(o['steps_per_s'])} | "
              f"{fmt(o['steps_per_s_1_thread'])} | {fmt(g['steps_per_s'])} | "
              f"{fmt(g.get('steps_per_s_no_obs', 0))} | {o['steps_per_s'] / best_g:.1f}x |")


if __name__ == "__main__":
    main()
