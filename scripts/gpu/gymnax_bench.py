"""Env steps/s of gymnax's three MLGym environments on the GPU, for comparison with
`gpu_env_bench` (same quantity: vmapped env.step with auto-reset, random actions,
observations left on the device). Usage: gymnax_bench.py [--envs 1024,16384] [--seconds 1]
Prints one JSON object per line: {"impl": "gymnax-gpu", "env", "n", "steps_per_s", "device"}.
"""
import argparse
import json
import time

import gymnax
import jax
import jax.numpy as jnp

ENVS = ["MetaMaze-misc", "MountainCarContinuous-v0", "Breakout-MinAtar"]


def bench(name, n, seconds):
    env, params = gymnax.make(name)
    key = jax.random.PRNGKey(0)
    keys = jax.random.split(key, n)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

    @jax.jit
    def step(state, key):
        k_act, k_step = jax.random.split(key)
        acts = jax.vmap(env.action_space(params).sample)(jax.random.split(k_act, n))
        obs, state, rew, done, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_step, n), state, acts, params
        )
        return state, jnp.sum(rew)

    state, r = step(state, key)  # compile
    r.block_until_ready()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        key, sub = jax.random.split(key)
        state, r = step(state, sub)
        calls += 1
    r.block_until_ready()
    return calls * n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", default="1024,16384")
    ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args()
    device = str(jax.devices()[0])
    for name in ENVS:
        for n in [int(x) for x in a.envs.split(",")]:
            sps = bench(name, n, a.seconds)
            print(json.dumps({"impl": "gymnax-gpu", "env": name, "n": n,
                              "steps_per_s": sps, "device": device}), flush=True)


if __name__ == "__main__":
    main()
