#!/usr/bin/env bash
# The GPU check, run ON the device machine from the repository root after
# scripts/gpu/prepare.sh (see there). Keeps going after a failed step and records every
# step's exit status in $OUT/summary.txt; every step's output is in $OUT/<step>.log.
#  1. nvidia-smi and `mlgym gpus --json`     (discovery through cudarc)
#  2. gpu_envs_cuda: the kernels against gymnax's reference trajectories and the CPU
#     environments, step for step
#  3. gpu_lease: the lease tests (fake devices) on this host
#  4. gpu_sandbox_probe: a sandboxed CUDA program sees only its leased GPU
#  5. gpu_env_bench --json: env steps/s, CPU VecEnv vs the CUDA kernels
#  6. rl_backend: the RL evaluator and quick PPO with the environments on the GPU equal
#     the CPU's bit for bit
#  7. rl_eval_compare.sh: `mlgym eval` of an RL task with --gpus none vs --gpus any:1:
#     both times and scores
#  8. gymnax on the GPU (only if python3 can import gymnax and jax there)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d)}
b=target/gpu-check/bin
[ -x "$b/mlgym" ] || { echo "run scripts/gpu/prepare.sh first and carry target/gpu-check" >&2; exit 2; }
# The test binaries find the repository's fixtures through the path they were built in.
built_root=$(cat target/gpu-check/built_root 2>/dev/null || echo /work/main)
if [ ! -e "$built_root" ]; then mkdir -p "$(dirname "$built_root")"; ln -s "$PWD" "$built_root"; fi
[ -d target/gpu-check/gymnax ] && export MLGYM_GYMNAX_REFERENCE=$PWD/target/gpu-check/gymnax
export MLGYM_SANDBOX_INIT=$PWD/$b/mlgym-sandbox-init
summary=$OUT/summary.txt
: >"$summary"
step() {
  local name=$1; shift
  local t0=$SECONDS
  timeout 240 "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc $((SECONDS - t0))s" >>"$summary"
  echo "== $name rc=$rc"; tail -n 15 "$OUT/$name.log"
}
step nvidia_smi nvidia-smi
step gpus "$b/mlgym" gpus --json
step envs_cuda "$b/gpu_envs_cuda" --nocapture --test-threads 1
step lease env MLGYM_LEASE_DIR="$(mktemp -d)" "$b/gpu_lease" --nocapture
step sandbox_probe env MLGYM_LEASE_DIR="$(mktemp -d)" "$b/gpu_sandbox_probe" --gpus any:1
step bench "$b/gpu_env_bench" --envs 1024,16384,262144 --seconds 1 --json
step rl_backend "$b/rl_backend" --nocapture --test-threads 1
step rl_eval_compare scripts/gpu/rl_eval_compare.sh "$b/mlgym" rlMountainCarContinuous rlBreakoutMinAtar
if python3 -c 'import gymnax, jax' 2>/dev/null; then
  step gymnax python3 scripts/gpu/gymnax_bench.py --envs 1024,16384,262144 --seconds 1
else
  echo "gymnax skipped: python3 cannot import gymnax and jax here" >>"$summary"
fi
cat "$summary"
