#!/usr/bin/env bash
# The 3SATTime starter heuristic evaluated 5 times on the full evaluation set through the
# real evaluator (sandbox + pristine solver): Time of each run, its spread, Decisions.
# Time is CPU seconds of the sandboxed Python process, so the Rust profile does not
# matter; release is used because that is the profile the other tests keep warm.
# Needs /usr/bin/python3; builds mlgym-sandbox-init if it is missing.
#
# Usage: scripts/bench/sat_time_spread.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release -p mlgym-sandbox --bin mlgym-sandbox-init
RUNS=${RUNS:-5} cargo test --quiet --release -p mlgym-tasks --test sat_evaluate -- --ignored --nocapture starter_time_spread
