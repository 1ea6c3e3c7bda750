#!/usr/bin/env bash
# The RL evaluator with its environments on the CPU (`--gpus none`) and on the GPU (the
# CUDA kernels, `--gpus any:1`), for each task given (default rlMountainCarContinuous),
# on a `--quick` PPO baseline submission: prints both wall times and scores, and fails
# when the scores differ (they must be equal bit for bit). The GPU time includes compiling
# the kernels with NVRTC (printed separately by the baseline's first line when it is slow).
# Usage (from the repository root, on the GPU machine): rl_eval_compare.sh MLGYM [TASK...]
set -uo pipefail
mlgym=$1; shift
tasks=("$@"); [ ${#tasks[@]} -gt 0 ] || tasks=(rlMountainCarContinuous)
work=$(mktemp -d)
export MLGYM_LEASE_DIR=$work/leases
status=0
metrics() { sed -n 's/.*"metrics":\({[^}]*}\).*/\1/p'; }
backend() { sed -n 's/.*"compute":{"backend":"\([^"]*\)","device":"\([^"]*\)"}.*/\1 on \2/p'; }
for t in "${tasks[@]}"; do
  sub=$work/$t
  "$mlgym" baseline --task "$t" --quick --gpus none --out "$sub" --json >"$work/$t.baseline.json" 2>"$work/$t.baseline.log" \
    || { echo "$t: the quick baseline failed:"; tail -n 5 "$work/$t.baseline.log"; status=1; continue; }
  for mode in none any:1; do
    t0=$(date +%s.%N)
    out=$("$mlgym" eval --task "$t" --submission "$sub" --gpus "$mode" --json 2>"$work/$t.$mode.log" | tail -n 1)
    rc=$?
    t1=$(date +%s.%N)
    secs=$(python3 -c "print(f'{$t1 - $t0:.3f}')" 2>/dev/null || echo "$t0 -> $t1")
    echo "$t --gpus $mode: rc=$rc ${secs}s $(echo "$out" | backend): $(echo "$out" | metrics)"
    [ $rc -eq 0 ] || { tail -n 5 "$work/$t.$mode.log"; status=1; }
    echo "$out" | metrics >"$work/$t.$mode.metrics"
  done
  if [ ! -s "$work/$t.none.metrics" ] || [ ! -s "$work/$t.any:1.metrics" ]; then
    echo "$t: no score to compare (see the errors above)"; status=1
  elif cmp -s "$work/$t.none.metrics" "$work/$t.any:1.metrics"; then
    echo "$t: CPU and GPU scores identical"
  else
    echo "$t: CPU and GPU scores DIFFER"; status=1
  fi
done
rm -rf "$work"
exit $status
