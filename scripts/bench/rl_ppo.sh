#!/usr/bin/env bash
# PPO training speed per task with MLGym's settings (env steps/s over a few updates,
# everything included: rollouts, GAE, 4 epochs of minibatch updates), against MLGym's JAX
# PPO on this machine type (reference/mlgym-rl-cpu.md: MetaMaze 17.3k, MountainCar 10.4k,
# Breakout 9.36k env-steps/s after JIT, with about 1.5 of the 2 cores busy), as ratios,
# with the projected time of the full 5-seed baseline. CPU use is printed too: on a
# shared machine a low "CPUs utilized" means other processes held the cores.
#
# Usage: scripts/bench/rl_ppo.sh
#        RL_BENCH_UPDATES=5 RL_BENCH_ENV=MountainCarContinuous-v0 scripts/bench/rl_ppo.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

cargo test --quiet --release -p mlgym-tasks --test rl_ppo_bench --no-run 2>/dev/null
bin=$(ls -t target/release/deps/rl_ppo_bench-* | grep -v '\.d$' | head -1)
echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for env in MetaMaze-misc MountainCarContinuous-v0 Breakout-MinAtar; do
    if [ -n "${RL_BENCH_ENV:-}" ] && [ "$RL_BENCH_ENV" != "$env" ]; then continue; fi
    /usr/bin/time -f "TIME %e %U %S" -o /tmp/rl_ppo_time.$$ env RL_BENCH_ENV="$env" \
        "$bin" ppo_env_steps_per_second --ignored --nocapture 2>/dev/null | grep '^RESULT' | sed 's/^RESULT //'
    read -r _ wall user sys </tmp/rl_ppo_time.$$
    python3 -c "w,u,s=$wall,$user,$sys; print(f'    process: {w:.1f} s wall, {u+s:.1f} s CPU -> {(u+s)/w:.2f} CPUs utilized')"
    rm -f /tmp/rl_ppo_time.$$
done
