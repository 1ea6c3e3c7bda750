#!/usr/bin/env bash
# Sandbox latency benchmark: `true` through plain fork/exec, a one-shot sandbox (both
# modes), a persistent session, and bubblewrap, in one run. Usage: sandbox.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v bwrap >/dev/null || echo "note: bubblewrap is not installed (apt-get install bubblewrap); its row is skipped" >&2
cargo build --release -q -p mlgym-sandbox --example bench_sandbox
exec ./target/release/examples/bench_sandbox "${1:-300}"
