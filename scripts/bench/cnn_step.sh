#!/usr/bin/env bash
# One training step (batch 64, forward + backward + AdamW) of the image baselines' CNN
# (MLGym's network: conv 32 -> pool -> conv 64 -> pool -> linear 10) on Fashion-MNIST-sized
# input: ours (candle + mlgym_kernels::conv, release build) against JAX on this CPU
# (jit, optax.adamw; installed into a venv under /tmp). Rounds alternate between the two.
#
# Usage: scripts/bench/cnn_step.sh   (ROUNDS=3, STEPS=40 per round, DATASET=fashion-mnist
#        or cifar10)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${ROUNDS:-3}
steps=${STEPS:-40}
dataset=${DATASET:-fashion-mnist}
venv=${JAX_VENV:-/tmp/mlgym-bench-jax}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import jax, optax' 2>/dev/null; then
    echo "== installing jax and optax into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet jax optax
fi

echo "== building the benchmark (cargo test --release, ignored test vision_bench)" >&2
cargo test --quiet --release -p mlgym-tasks --test vision_bench --no-run

for r in $(seq "$rounds"); do
    echo "== round $r: ours" >&2
    CNN_BENCH_STEPS=$steps CNN_BENCH_DATASET=$dataset \
        cargo test --quiet --release -p mlgym-tasks --test vision_bench -- --ignored --nocapture 2>/dev/null |
        grep '^{' >>"$out/results.jsonl"
    echo "== round $r: jax" >&2
    "$venv/bin/python" scripts/bench/cnn_step_jax.py --dataset "$dataset" --steps "$steps" >>"$out/results.jsonl"
done

echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$out/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    print(json.dumps(r))
med = lambda k, f: statistics.median(r[f] for r in rows if r["impl"] == k)
o, j = med("ours", "median_ms"), med("jax", "median_ms")
ob, jb = min(r["best_ms"] for r in rows if r["impl"] == "ours"), min(r["best_ms"] for r in rows if r["impl"] == "jax")
print(f"median of round medians: ours {o:.1f} ms/step, jax {j:.1f} ms/step, ratio ours/jax {o / j:.2f} (target <= 1.2)")
print(f"best step:               ours {ob:.1f} ms, jax {jb:.1f} ms, ratio {ob / jb:.2f}")
PY
