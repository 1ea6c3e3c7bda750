#!/usr/bin/env bash
# Per-step runtime overhead of a 50-step replayed episode (everything except the command
# itself and the model), against the command time. Target: under 5 ms per step.
# Usage: episode.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
steps="${1:-50}"
cargo build --release -q -p mlgym-runtime --bin mlgym
work=$(mktemp -d /tmp/mlgym-bench-episode.XXXXXX)
chmod 755 "$work"
python3 - "$work/replay.jsonl" "$steps" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
cmds = []
for i in range(n - 1):
    # A mix of cheap shell commands and editor commands, as agents use them.
    cmds.append(["echo step %d" % i, "ls", "open strategy.py", "pwd", "search_file row_strategy strategy.py"][i % 5])
cmds.append("submit")
with open(path, "w") as f:
    for c in cmds:
        f.write(json.dumps({"kind": "step", "response": "DISCUSSION\nnext\n\n```\n%s\n```" % c}) + "\n")
PY
./target/release/mlgym run --task battleOfSexes --agent "replay:$work/replay.jsonl" --max-steps "$steps" --out "$work/runs" --json > "$work/result.json"
python3 - "$work" <<'PY'
import json, sys, glob, statistics
work = sys.argv[1]
run = json.load(open(work + "/result.json"))["run_dir"]
meta = json.load(open(run + "/run.json"))
steps = [json.loads(l) for l in open(run + "/trajectory.jsonl") if '"kind":"step"' in l]
shell = [s for s in steps if s["action"].strip() != "submit"]
cmd_ms = [s["execution_time"] * 1000 for s in shell]
pre = [s["overhead_ms"] for s in steps]
print(f"steps: {len(steps)}  exit: {meta['exit_status']}")
print(f"runtime overhead per step, incl. recording (run.json): mean {meta['overhead_ms']['mean']:.3f} ms, max {meta['overhead_ms']['max']:.3f} ms")
print(f"  of which before recording (journal): median {statistics.median(pre):.3f} ms")
print(f"command time per step (shell + editor, excl. submit): median {statistics.median(cmd_ms):.3f} ms, mean {statistics.mean(cmd_ms):.3f} ms")
print(f"overhead / command time (means): {meta['overhead_ms']['mean'] / statistics.mean(cmd_ms):.2f}")
PY
rm -rf "$work"
