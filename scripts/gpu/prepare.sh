#!/usr/bin/env bash
# Builds everything the GPU check needs on THIS machine (the device machine has no
# network and no Rust toolchain) into target/gpu-check/, stripped, for the device tool's
# `carry`. Then, with the device tool:
#   run(command="bash scripts/gpu/check.sh", carry=["target/gpu-check"], timeout_s=420)
# check.sh writes its logs and a summary under $OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=target/gpu-check
rm -rf "$dest"
mkdir -p "$dest/bin"

# Test binaries: cargo prints their paths as JSON ("executable": ...).
# (stderr stays visible: a failed build must say why, not end the script silently.)
test_exes() {
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    exe = m.get("executable")
    if m.get("reason") == "compiler-artifact" and exe and m.get("profile", {}).get("test"):
        print(exe)
'
}
copy_exes() {
  while read -r exe; do
    name=$(basename "$exe" | sed 's/-[0-9a-f]*$//')
    cp "$exe" "$dest/bin/$name"
  done
}
cargo test --release -p mlgym-kernels --test gpu_envs_cuda --test gpu_lease --no-run \
  --message-format=json | test_exes | copy_exes
# The RL evaluator and PPO with the environments on the GPU, against the CPU.
cargo test --release -p mlgym-tasks --test rl_backend --no-run --message-format=json |
  test_exes | copy_exes
cargo build --release -p mlgym-kernels --example gpu_env_bench --example gpu_sandbox_probe
cargo build --release -p mlgym-runtime --bin mlgym
cargo build --release -p mlgym-sandbox --bin mlgym-sandbox-init
for b in examples/gpu_env_bench examples/gpu_sandbox_probe mlgym mlgym-sandbox-init; do
  cp "target/release/$b" "$dest/bin/"
done
for f in "$dest"/bin/*; do strip --strip-debug "$f"; done
# The test binaries find the repository's fixtures through the path they were built in;
# check.sh links that path to the checkout on the device machine.
pwd >"$dest/built_root"
# gymnax's own trajectories, when the shared reference data is here.
if [ -d ../shared/reference/gymnax ]; then
  cp -r ../shared/reference/gymnax "$dest/gymnax"
else
  echo "note: ../shared/reference/gymnax absent: the check replays the in-repo fixtures only"
fi
du -sh "$dest"
ls -l "$dest/bin"
