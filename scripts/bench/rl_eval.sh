#!/usr/bin/env bash
# RL evaluation time per task with MLGym's protocol (5 checkpoints x 5 seeds x 256 envs,
# stochastic actions, first-episode return within 200/999/199 frames) on five untrained
# checkpoints of MLGym's network sizes, against MLGym's evaluate.py on this machine type
# (reference/mlgym-rl-cpu.md: MetaMaze 9.1 s, MountainCar 11.3 s, Breakout 35.0 s, JIT
# included), as ratios.
#
# Usage: scripts/bench/rl_eval.sh             (release build of the benchmark test)
#        CLI=1 scripts/bench/rl_eval.sh       (also time `mlgym eval` end to end on a
#                                             submission written by the starter's
#                                             write_policy.py with /usr/bin/python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cargo test --quiet --release -p mlgym-tasks --test rl_eval_bench -- --ignored --nocapture 2>/dev/null \
    | grep '^RESULT' | sed 's/^RESULT //'

if [ "${CLI:-0}" = 1 ]; then
    cargo build --quiet --release -p mlgym-runtime
    mlgym="$root/target/release/mlgym"
    declare -A mlgym_s=([rlMetaMazeMisc]=9.1 [rlMountainCarContinuous]=11.3 [rlBreakoutMinAtar]=35.0)
    for task in rlMetaMazeMisc rlMountainCarContinuous rlBreakoutMinAtar; do
        sub=$(mktemp -d)
        cp "tasks/defs/$task/starter/config.toml" tasks/starters/rl-ppo/write_policy.py "$sub/"
        (cd "$sub" && /usr/bin/python3 write_policy.py >/dev/null)
        start=$(date +%s.%N)
        "$mlgym" eval --task "$task" --submission "$sub" --json >"$sub/out.json"
        end=$(date +%s.%N)
        python3 - "$task" "$start" "$end" "${mlgym_s[$task]}" "$sub/out.json" <<'PY'
import json, sys
task, start, end, ref, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
m = json.load(open(out))["metrics"]
wall = end - start
print(f"mlgym eval {task:<24} {wall:.3f} s end to end (Reward Mean {m['Reward Mean']:.4f}); "
      f"MLGym {ref} s -> {ref / wall:.1f}x faster")
PY
        rm -rf "$sub"
    done
fi
