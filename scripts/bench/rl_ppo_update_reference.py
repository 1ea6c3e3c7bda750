#!/usr/bin/env python3
"""Record one PPO update of MLGym's own trainer, for `tasks/tests/rl_ppo_reference.rs`.

Runs MLGym's unmodified `policy.py` (BatchManager, RolloutManager, update) on a small
configuration: a rollout of N_STEPS + 1 vector steps of N_ENVS environments, then one
`update` call. Writes, gzipped JSON: the configuration, the rollout buffer (observations,
actions, rewards, dones, log-probabilities, values), the minibatch permutation MLGym
draws from its `rng_update`, and the parameters before and after the update in our
tensor names.

Usage: rl_ppo_update_reference.py MLGYM_TASK_DIR ENV OUT.json.gz
MLGYM_TASK_DIR is data/rlBreakoutMinAtar (ENV Breakout-MinAtar),
data/rlMountainCarContinuous (ENV MountainCarContinuous-v0) or data/rlMetaMazeMisc
(ENV MetaMaze-misc) of an MLGym checkout; needs the environment
scripts/bench/rl_mlgym_reference.sh creates. MLGym is run, not copied.
"""

import gzip
import json
import os
import sys

import numpy as np

N_ENVS, N_STEPS, N_MINIBATCH, EPOCHS, UNITS, LAYERS = 8, 16, 4, 4, 16, 2


def floats(a):
    """Float32 values as JSON numbers (each exactly the float32, written as a double)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64).ravel().tolist()


def ours(params, layers):
    """Flax parameters -> {our tensor name: {"shape", "data"}}."""
    from rl_mlgym_reference import flax_to_ours

    return {name: {"shape": list(a.shape), "data": floats(a)}
            for name, a in flax_to_ours(params["params"], layers).items()}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    task_dir, env_name, out = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, os.path.join(task_dir, "src"))
    import jax
    import jax.numpy as jnp
    import optax
    from flax.training.train_state import TrainState
    from helpers import load_config
    from networks import get_model_ready
    from policy import BatchManager, RolloutManager, update

    cfg = load_config(os.path.join(task_dir, "src/config.yaml"), 42).train_config
    sizes = {k: int(cfg[k]) for k in ["num_train_envs", "n_steps", "n_minibatch", "epoch_ppo"]}
    sizes["num_hidden_units"] = int(cfg.network_config.num_hidden_units)
    sizes["num_hidden_layers"] = int(cfg.network_config.num_hidden_layers)
    cfg.num_train_envs, cfg.n_steps, cfg.n_minibatch, cfg.epoch_ppo = N_ENVS, N_STEPS, N_MINIBATCH, EPOCHS
    cfg.network_config.num_hidden_units = UNITS
    cfg.network_config.num_hidden_layers = LAYERS
    key = jax.random.PRNGKey(7)
    k_init, k_reset, k_step, k_update = jax.random.split(key, 4)
    model, params = get_model_ready(k_init, cfg)
    # The optimiser train_ppo builds (it is not exposed): clipping, Adam, linear schedule.
    tx = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.scale_by_adam(eps=1e-5),
                     optax.scale_by_schedule(optax.linear_schedule(
                         init_value=-float(cfg.lr_begin), end_value=-float(cfg.lr_end),
                         transition_steps=int(cfg.num_train_steps * cfg.lr_warmup))))
    state0 = TrainState.create(apply_fn=model.apply, params=params, tx=tx)
    rm = RolloutManager(model)
    bm = BatchManager(discount=cfg.gamma, gae_lambda=cfg.gae_lambda, n_steps=N_STEPS + 1,
                      num_envs=N_ENVS, action_size=rm.action_size, state_space=rm.observation_space)
    obs, env_state = rm.batch_reset(jax.random.split(k_reset, N_ENVS))
    buf = bm.reset()
    rng = k_step
    # The body of train_ppo's get_transition, N_STEPS + 1 times.
    for _ in range(N_STEPS + 1):
        action, log_pi, value, rng = rm.select_action(state0, obs, rng)
        rng, key_step = jax.random.split(rng)
        next_obs, env_state, reward, done, _ = rm.batch_step(
            jax.random.split(key_step, N_ENVS), env_state, action)
        buf = bm.append(buf, obs, action, reward, done, log_pi, value)
        obs = next_obs
    _, state1, _ = update(state0, bm.get(buf), N_ENVS, N_STEPS, N_MINIBATCH, EPOCHS,
                          cfg.clip_eps, cfg.entropy_coeff, cfg.critic_coeff, k_update)
    perm = np.asarray(jax.random.permutation(k_update, jnp.arange(N_ENVS * N_STEPS)))
    import importlib.metadata as md
    rec = {
        "env": env_name,
        "recorded_with": {p: md.version(p) for p in ["jax", "jaxlib", "flax", "optax", "gymnax"]},
        "config": {k: float(cfg[k]) for k in ["gamma", "gae_lambda", "clip_eps", "entropy_coeff",
                                              "critic_coeff", "max_grad_norm", "lr_begin", "lr_end",
                                              "lr_warmup", "num_train_steps"]},
        "mlgym_sizes": sizes,
        "num_envs": N_ENVS, "n_steps": N_STEPS, "n_minibatch": N_MINIBATCH, "epoch_ppo": EPOCHS,
        "hidden_units": UNITS, "hidden_layers": LAYERS,
        "obs": floats(np.asarray(buf["states"]).reshape(N_STEPS + 1, N_ENVS, -1)),
        "actions": floats(np.asarray(buf["actions"]).reshape(N_STEPS + 1, N_ENVS)),
        "rewards": floats(buf["rewards"]), "dones": floats(buf["dones"]),
        "log_pis": floats(buf["log_pis_old"]), "values": floats(buf["values_old"]),
        "perm": [int(p) for p in perm],
        "before": ours(state0.params, LAYERS), "after": ours(state1.params, LAYERS),
    }
    with gzip.open(out, "wt") as f:
        json.dump(rec, f)
    print("wrote", out)


if __name__ == "__main__":
    main()
