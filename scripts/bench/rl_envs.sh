#!/usr/bin/env bash
# RL environment steps/s: our vectorised environments vs gymnax's jit(vmap(step)) in
# lax.scan, at 1, 64, 1024 and 4096 envs, in one run, as a table with ratios.
#
# Usage: scripts/bench/rl_envs.sh          (SIZES=1,64,1024 to change the batch sizes)
# gymnax runs from a virtual environment under /tmp (MLGYM_GYMNAX_VENV), created on first
# use with gymnax 1.0.1 and jax 0.10.2 (the versions the reference trajectories used).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${MLGYM_GYMNAX_VENV:-/tmp/mlgym-gymnax-venv}
sizes=${SIZES:-1,64,1024,4096}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cd "$root"
echo "== ours: cargo run --release -p mlgym-tasks --example bench_envs" >&2
cargo run --quiet --release -p mlgym-tasks --example bench_envs -- --envs "$sizes" --json \
    >"$out/ours.jsonl"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import gymnax, jax, six" 2>/dev/null; then
    echo "== creating $venv with gymnax and jax (pip)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "gymnax==1.0.1" "jax==0.10.2" "jaxlib==0.10.2" six
fi
echo "== gymnax: jit(vmap(env.step)) in lax.scan" >&2
"$venv/bin/python" scripts/bench/rl_envs_gymnax.py --envs "$sizes" 2>/dev/null >"$out/gymnax.jsonl"

echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 scripts/bench/rl_envs_table.py "$out/ours.jsonl" "$out/gymnax.jsonl"
