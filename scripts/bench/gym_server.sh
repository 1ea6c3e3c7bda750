#!/usr/bin/env bash
# The Gym server's overhead: steps/s and p50/p99 step latency of cheap commands (`echo`)
# with N concurrent episodes, driven in-process (GymEnv, one thread per episode) and
# through `mlgym serve` over HTTP on loopback (one keep-alive client per episode). Each
# step is recorded (journal fsync, .traj and run.json rewrites) in both modes.
# Each mode runs REPEATS times, alternating with the other, and the runs are pooled.
# Besides steps/s and latency it prints CPU ms per step of the processes involved (this
# one; with HTTP also the server), which machine load disturbs far less than latency.
# Usage: gym_server.sh [EPISODES (comma list, default 8,32)] [STEPS per episode (default 50)] [REPEATS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/../.."
export GYM_BENCH_EPISODES="${1:-8,32}"
export GYM_BENCH_STEPS="${2:-50}"
export GYM_BENCH_REPEATS="${3:-3}"
cargo test --release -q -p mlgym-runtime --test gym_bench -- --ignored --nocapture --test-threads 1 2>&1 \
  | grep -E '^(\||[0-9]+ `echo`)'
