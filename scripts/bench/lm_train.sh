#!/usr/bin/env bash
# languageModelingFineWeb training speed on this CPU: tokens/s of the baseline's `quick`
# (2 layers x 64, batch 4x128) and `cpu` (4 layers x 256, batch 4x1024) recipes, vocabulary
# 50304, in candle (tasks/tests/lm_train_bench.rs) and in PyTorch (the starter's
# baseline.py, same model, optimisers and batches), timed after two warm-up steps, on the
# same synthetic GPT-2-range shard, both on every core. Prints the ratio candle / PyTorch.
#
# PyTorch: a python3 with torch and numpy (MLGYM_PYTHON, default /usr/bin/python3); on
# Debian `apt-get install python3-torch` gives a CPU build (1.13), or
# `pip install torch numpy` from PyPI. Without it only candle's figures are printed.
# Debian's torch calls the system BLAS, by default the (slow) reference one: when
# libopenblas0-pthread is installed, the PyTorch run uses OpenBLAS (LD_LIBRARY_PATH only;
# the system's choice is left alone).
#
# Usage: scripts/bench/lm_train.sh              (10 timed steps per recipe)
#        LM_BENCH_STEPS=5 LM_BENCH_RECIPES=quick scripts/bench/lm_train.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
py=${MLGYM_PYTHON:-/usr/bin/python3}
steps=${LM_BENCH_STEPS:-10}
recipes=${LM_BENCH_RECIPES:-quick,cpu}
starter=tasks/defs/languageModelingFineWeb/starter
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data/fineweb10B"
cp "$starter"/*.py "$work/"

# A synthetic shard over GPT-2's id range: mostly `next = (7·prev + 3) mod 50257`.
"$py" - "$work/data/fineweb10B/fineweb_train_000001.bin" <<'EOF'
import sys
import numpy as np
sys.path.insert(0, sys.argv[1].rsplit("/data/", 1)[0])
import lm_io
r = np.random.default_rng(1)
n = 2_000_000
jump = r.random(n) >= 0.85
t = np.empty(n, dtype=np.int64)
prev = 0
rand = r.integers(0, 50257, n)
for i in range(n):
    prev = rand[i] if jump[i] else (7 * prev + 3) % 50257
    t[i] = prev
lm_io.write_shard(sys.argv[1], t)
EOF

cargo test --quiet --release -p mlgym-tasks --test lm_train_bench --no-run 2>/dev/null
bin=$(ls -t target/release/deps/lm_train_bench-* | grep -v '\.d$' | head -1)
echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
LM_BENCH_SHARDS="$work/data/fineweb10B" LM_BENCH_STEPS="$steps" LM_BENCH_RECIPES="$recipes" \
    "$bin" lm_train_tokens_per_second --ignored --nocapture 2>/dev/null \
    | grep '^lm_train_bench' | tee "$work/candle.txt"

have_torch=$("$py" -c 'import torch, numpy; print(1)' 2>/dev/null || true)
if [ "$have_torch" != 1 ]; then
    echo "PyTorch: $py has no torch; skipped (apt-get install python3-torch, or pip install torch)"
    exit 0
fi
blas=/usr/lib/x86_64-linux-gnu/openblas-pthread
[ -d "$blas" ] || blas=
echo "PyTorch BLAS: ${blas:-the system default}" >&2
for name in ${recipes//,/ }; do
    case $name in
        quick) args="--n-layer 2 --n-head 2 --n-embd 64 --batch-size 4 --seq-len 128" ;;
        cpu) args="--n-layer 4 --n-head 4 --n-embd 256 --batch-size 4 --seq-len 1024" ;;
        *) echo "unknown recipe $name" >&2; exit 2 ;;
    esac
    n=$((steps + 2))
    # shellcheck disable=SC2086
    torch_rate=$(cd "$work" && LD_LIBRARY_PATH="$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$py" baseline.py $args --iterations $n --warmdown-iters $n \
        --val-tokens 0 --log-every $n --threads "$(nproc)" --out "$work/sub_$name" \
        | sed -n 's/.*steady \([0-9]*\) tokens\/s.*/\1/p')
    candle_rate=$(sed -n "s/.*recipe=$name tokens_per_s=\([0-9]*\).*/\1/p" "$work/candle.txt")
    torch_version=$("$py" -c 'import torch; print(torch.__version__)')
    python3 -c "c,t=$candle_rate,$torch_rate; print(f'{\"$name\"}: candle {c} tokens/s, PyTorch $torch_version {t} tokens/s, ratio {c/t:.2f}')"
done
