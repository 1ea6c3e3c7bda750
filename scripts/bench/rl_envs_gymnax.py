#!/usr/bin/env python3
"""gymnax env-steps per second: jit(vmap(env.step)) inside lax.scan, on CPU.

For each environment and batch size N: N envs are reset with vmap(env.reset); a scan of T
steps applies pre-drawn uniformly random actions (the same kind of actions as the Rust
bench) with per-env keys, gymnax's auto-reset included. Two variants: the scan carries the
observations (so XLA must compute them every step, as our environments do), or drops them
(XLA may then skip work, which flatters gymnax). The compile and one warm-up run are
excluded; the best of three timed runs is reported.

Usage: python rl_envs_gymnax.py [--envs 1,64,1024,4096] [--steps-per-run 2000000]
Prints one JSON object per line:
{"impl": "gymnax", "env", "n", "steps_per_s", "steps_per_s_no_obs"}.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import gymnax

jax.config.update("jax_platform_name", "cpu")

ENVS = ["MetaMaze-misc", "MountainCarContinuous-v0", "Breakout-MinAtar"]


def bench(name, n, total_steps, carry_obs):
    env, params = gymnax.make(name)
    # Scan length: enough env steps per run to dwarf dispatch, capped for small batches.
    t_len = max(16, min(20000, total_steps // n))
    key = jax.random.PRNGKey(0)
    key, k_reset, k_act = jax.random.split(key, 3)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, n), params)
    if name == "MountainCarContinuous-v0":
        actions = jax.random.uniform(k_act, (t_len, n, 1), minval=-1.0, maxval=1.0)
    else:
        actions = jax.random.randint(k_act, (t_len, n), 0, env.num_actions)

    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def body(carry, a):
        obs, state, key, ret = carry
        key, sub = jax.random.split(key)
        new_obs, state, reward, terminated, truncated, _ = step(
            jax.random.split(sub, n), state, a, params
        )
        return (new_obs if carry_obs else obs, state, key, ret + reward), None

    @jax.jit
    def run(carry, actions):
        carry, _ = jax.lax.scan(body, carry, actions)
        return carry

    carry = (obs, state, key, jnp.zeros(n))
    jax.block_until_ready(run(carry, actions))  # compile
    jax.block_until_ready(run(carry, actions))  # warm-up
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        out = run(carry, actions)
        jax.block_until_ready(out)
        best = max(best, n * t_len / (time.perf_counter() - start))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", default="1,64,1024,4096")
    ap.add_argument("--steps-per-run", type=int, default=2_000_000)
    ap.add_argument("--env", default=None, help="only this environment")
    args = ap.parse_args()
    sizes = [int(s) for s in args.envs.split(",")]
    for name in [args.env] if args.env else ENVS:
        for n in sizes:
            with_obs = bench(name, n, args.steps_per_run, True)
            no_obs = bench(name, n, args.steps_per_run, False)
            print(json.dumps({"impl": "gymnax", "env": name, "n": n,
                              "steps_per_s": round(with_obs),
                              "steps_per_s_no_obs": round(no_obs)}), flush=True)


if __name__ == "__main__":
    main()
