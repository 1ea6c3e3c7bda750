#!/usr/bin/env bash
# The 3SATTime sanity bound: how long the native CDCL solver (tasks/src/sat/cdcl.rs)
# takes for the whole evaluation set, single-threaded, best of 5, release build.
# The number goes into tasks/defs/3SATTime/description.md ("the set takes X s").
#
# Usage: scripts/bench/sat_native.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --quiet --release -p mlgym-tasks --test sat_instances -- --ignored --nocapture native_solver_time
