#!/usr/bin/env bash
# Game-theory evaluation time (10,000 simulations x 10 rounds, Python strategy): our
# evaluator (sandbox start, Python start, import, 90,000 protocol round trips, native
# opponent) vs a pure-Python harness written from the spec, which calls the strategy and
# a Python opponent in one process with no isolation (game_theory_reference.py).
#
# Usage: scripts/bench/game_theory.sh        (REPEAT=5 evaluations per game and side;
#        STRATEGIES=starter|trivial|both, default both)
# "starter": each task's starter strategy.py; "trivial": always 0 / always 0 / [20]*6,
# which isolates the harness's own cost. When a Python with NumPy is at hand
# (NUMPY_PYTHON, default: the RL benchmark's venv /tmp/mlgym-gymnax-venv, else python3
# if it imports numpy) the reference also runs with MLGym's NumPy per-simulation means.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
repeat=${REPEAT:-5}
which=${STRATEGIES:-both}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"

numpy_python=${NUMPY_PYTHON:-${MLGYM_GYMNAX_VENV:-/tmp/mlgym-gymnax-venv}/bin/python}
if ! "$numpy_python" -c "import numpy" 2>/dev/null; then
    numpy_python=python3
    python3 -c "import numpy" 2>/dev/null || numpy_python=
fi

printf 'def row_strategy(history):\n    return 0\n' >"$out/zero.py"
printf 'def row_strategy(history):\n    return [20] * 6\n' >"$out/twenty.py"

case "$which" in
    starter) sets=(starter) ;;
    trivial) sets=(trivial) ;;
    *) sets=(starter trivial) ;;
esac

echo "== building the benchmark (cargo test --release, ignored test games_bench)" >&2
cargo test --quiet --release -p mlgym-tasks --test games_bench --no-run 2>/dev/null

for set in "${sets[@]}"; do
    if [ "$set" = starter ]; then
        bos=$root/tasks/defs/battleOfSexes/starter/strategy.py
        pd=$root/tasks/defs/prisonersDilemma/starter/strategy.py
        blotto=$root/tasks/defs/blotto/starter/strategy.py
    else
        bos=$out/zero.py pd=$out/zero.py blotto=$out/twenty.py
    fi
    echo "== $set strategies: ours" >&2
    GAMES_BENCH_REPEAT=$repeat GAMES_BENCH_BOS=$bos GAMES_BENCH_PD=$pd GAMES_BENCH_BLOTTO=$blotto \
        cargo test --quiet --release -p mlgym-tasks --test games_bench -- --ignored --nocapture 2>/dev/null |
        grep '^{' | sed "s/^{/{\"set\": \"$set\", \"side\": \"ours\", /" >>"$out/results.jsonl"
    echo "== $set strategies: pure-Python reference${numpy_python:+ (and with NumPy)}" >&2
    for g in bos pd blotto; do
        python3 scripts/bench/game_theory_reference.py --game "$g" --strategy "${!g}" --repeat "$repeat" --json |
            sed "s/^{/{\"set\": \"$set\", \"side\": \"python\", /" >>"$out/results.jsonl"
        if [ -n "$numpy_python" ]; then
            "$numpy_python" scripts/bench/game_theory_reference.py --numpy --game "$g" --strategy "${!g}" \
                --repeat "$repeat" --json |
                sed "s/^{/{\"set\": \"$set\", \"side\": \"numpy\", /" >>"$out/results.jsonl"
        fi
    done
done

echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 scripts/bench/game_theory_table.py "$out/results.jsonl"
