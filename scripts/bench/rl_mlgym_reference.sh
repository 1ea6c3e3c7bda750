#!/usr/bin/env bash
# Calibrates the RL baselines against MLGym's own PPO on this machine: trains models of
# MLGym's baseline with its unmodified JAX code (seed 42, as its src/train.py), then scores
# the same weights with MLGym's evaluate.py and with `mlgym eval`.
#
# Usage: scripts/bench/rl_mlgym_reference.sh MLGYM_CHECKOUT TASK "MODELS" [NUM_TRAIN_STEPS]
#   e.g. scripts/bench/rl_mlgym_reference.sh ~/MLGym rlBreakoutMinAtar "0 1"
# MODELS: which of the five models to train (0..4). With fewer than five, the submission
# repeats them in turn to fill the five checkpoint slots both evaluators require, so the
# score is that of the models trained. Output in $OUT (default /tmp/mlgym-rl-reference/TASK);
# SKIP_TRAIN=1 reuses models already there.
# The Python environment (jax 0.4.35, flax, optax, gymnax 0.0.8, tensorflow-probability)
# is created with pip under $MLGYM_REF_VENV (default /tmp/mlgym-ref-venv) on first use.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 3 ] || { sed -n '2,13p' "$0"; exit 2; }
checkout=$1 task=$2 models=$3 steps=${4:-}
src="$checkout/data/$task"
[ -f "$src/src/policy.py" ] || { echo "no MLGym task at $src (give the root of an MLGym checkout)" >&2; exit 2; }
out=${OUT:-/tmp/mlgym-rl-reference/$task}
venv=${MLGYM_REF_VENV:-/tmp/mlgym-ref-venv}
if ! "$venv/bin/python" -c "import jax, flax, optax, gymnax, dotmap, yaml, tqdm; from tensorflow_probability.substrates import jax" 2>/dev/null; then
    echo "== creating $venv (pip)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "jax==0.4.35" "jaxlib==0.4.35" "flax==0.10.2" "optax==0.2.4" \
        "gymnax==0.0.8" "tensorflow-probability==0.25.0" dotmap tqdm pyyaml
fi
mkdir -p "$out"
echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for m in $models; do
    [ "${SKIP_TRAIN:-0}" = 1 ] && [ -f "$out/model-$m.safetensors" ] && continue
    if ! (cd "$src" && "$venv/bin/python" "$root/scripts/bench/rl_mlgym_reference.py" . "$m" "$out" $steps 2>"$out/train-$m.err") \
        >"$out/train-$m.out"; then
        echo "training model $m with MLGym's code failed; its messages: $out/train-$m.err" >&2
        tail -5 "$out/train-$m.err" >&2
        exit 1
    fi
    grep '^RESULT' "$out/train-$m.out"
done

# Both evaluators want exactly five checkpoints: fill the slots with the trained models.
eval_dir="$out/eval" sub="$out/submission"
rm -rf "$eval_dir" "$sub"
mkdir -p "$eval_dir/checkpoints" "$eval_dir/src" "$sub/checkpoints"
cp "$src/evaluate.py" "$eval_dir/"
cp "$src"/src/*.py "$src/src/config.yaml" "$eval_dir/src/"
cp "$root/tasks/defs/$task/starter/config.toml" "$sub/"
read -r -a trained <<<"$models"
for slot in 0 1 2 3 4; do
    m=${trained[$((slot % ${#trained[@]}))]}
    cp "$out/config-42-$m.pkl" "$eval_dir/checkpoints/config-42-$slot.pkl"
    cp "$out/model-$m.safetensors" "$sub/checkpoints/model-$slot.safetensors"
done
cargo build --quiet --release -p mlgym-runtime --manifest-path "$root/Cargo.toml"
t0=$(date +%s%N)
theirs=$(cd "$eval_dir" && "$venv/bin/python" evaluate.py 2>/dev/null | tail -1)
t1=$(date +%s%N)
ours=$("$root/target/release/mlgym" eval --task "$task" --submission "$sub" --json)
t2=$(date +%s%N)
echo "RESULT $task models [$models]: MLGym evaluate.py $theirs ($(( (t1 - t0) / 1000000 )) ms)"
echo "RESULT $task models [$models]: mlgym eval $ours ($(( (t2 - t1) / 1000000 )) ms)"
