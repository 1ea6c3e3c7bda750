#!/usr/bin/env bash
# House Price end to end — import the Kaggle file (verify, split, stage), run the native
# baseline and score it — with our release binary, against the same pipeline in pandas +
# scikit-learn (scripts/bench/tabular_sklearn.py) on this machine. Median of RUNS runs
# (default 7) each, as wall time of whole processes; also scikit-learn's time without its
# library imports. Prints a table with the ratios.
#
# Usage: scripts/bench/tabular.sh [PATH/train.csv]     (default: ../shared/data/house-price/train.csv)
# scikit-learn runs from a virtual environment under /tmp (MLGYM_SKLEARN_VENV), created
# on first use with `pip install scikit-learn pandas`.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
src=${1:-$root/../shared/data/house-price/train.csv}
runs=${RUNS:-7}
venv=${MLGYM_SKLEARN_VENV:-/tmp/mlgym-sklearn-venv}
[ -f "$src" ] || { echo "no such file: $src (pass Kaggle's House Prices train.csv)" >&2; exit 2; }
src=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cd "$root"
echo "== cargo build --release -p mlgym-runtime" >&2
cargo build --quiet --release -p mlgym-runtime
mlgym=$root/target/release/mlgym

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import sklearn, pandas" 2>/dev/null; then
    echo "== creating $venv with scikit-learn and pandas (pip)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet scikit-learn pandas
fi

now() { date +%s%N; }

echo "== ours: mlgym data import house-price + mlgym baseline (x$runs)" >&2
for i in $(seq "$runs"); do
    data=$out/ours-$i
    t0=$(now)
    MLGYM_DATA=$data "$mlgym" data import house-price "$src" --json >"$out/import-$i.json"
    tm=$(now)
    MLGYM_DATA=$data "$mlgym" baseline --task regressionKaggleHousePrice --out "$data/run" --json \
        >"$out/baseline-$i.json" 2>/dev/null
    t1=$(now)
    echo $(((t1 - t0) / 1000)) >>"$out/ours.us"
    echo $(((tm - t0) / 1000)) >>"$out/ours-import.us"
done

echo "== scikit-learn: the same pipeline (x$runs)" >&2
for i in $(seq "$runs"); do
    t0=$(now)
    "$venv/bin/python" scripts/bench/tabular_sklearn.py "$src" tasks/src/tabular/splits/house-price.txt \
        "$out/sk-$i" >"$out/sk-$i.json" 2>/dev/null
    t1=$(now)
    echo $(((t1 - t0) / 1000)) >>"$out/sk.us"
done

echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$out" "$runs" <<'EOF'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
med = lambda xs: statistics.median(xs)
ours = med([int(l) for l in open(f"{out}/ours.us")]) / 1e6
ours_import = med([int(l) for l in open(f"{out}/ours-import.us")]) / 1e6
sk = med([int(l) for l in open(f"{out}/sk.us")]) / 1e6
sk_runs = [json.load(open(f"{out}/sk-{i}.json")) for i in range(1, runs + 1)]
sk_work = med([r["work_s"] for r in sk_runs])
m = json.load(open(f"{out}/baseline-1.json"))["metrics"]
print(f"{'pipeline (House Price, median of %d)' % runs:<44} {'seconds':>9}  {'rmse':>18}  {'r2':>18}")
print(f"{'ours: mlgym data import + mlgym baseline':<44} {ours:>9.4f}  {m['rmse']:>18.9f}  {m['r2']:>18.15f}")
print(f"{'  of which mlgym data import':<44} {ours_import:>9.4f}")
print(f"{'scikit-learn: whole process':<44} {sk:>9.4f}  {sk_runs[0]['rmse']:>18.9f}  {sk_runs[0]['r2']:>18.15f}")
print(f"{'scikit-learn: work only (libraries loaded)':<44} {sk_work:>9.4f}")
print(f"ratio (scikit-learn / ours): {sk / ours:.1f}x whole process, {sk_work / ours:.1f}x work only")
EOF
