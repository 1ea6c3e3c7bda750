#!/usr/bin/env python3
"""Train one model with MLGym's own PPO (its JAX code, unmodified) and convert it.

Calibrates our baseline against the reference implementation on this machine: the
published baseline scores (rlBreakoutMinAtar 48.82, ...) come from MLGym's `src/train.py`,
which trains five models from `PRNGKey(42)`; this script trains model I of those five
exactly as that script does (same keys: rng_list[0] for training, rng_list[1 + I] for the
initialisation), then writes

  OUT/config-42-I.pkl         MLGym's checkpoint (for its evaluate.py)
  OUT/model-I.safetensors     the same weights in our submission layout (docs/rl-policies.md)
  OUT/log-I.json              its periodic evaluation returns and the wall time

Usage: rl_mlgym_reference.py MLGYM_TASK_DIR I OUT [NUM_TRAIN_STEPS]
MLGYM_TASK_DIR is data/<task> of an MLGym checkout (MLGym is CC-BY-NC: it is run here,
never copied into this repository). Needs jax, flax, optax, gymnax,
tensorflow-probability, dotmap (rl_mlgym_reference.sh creates that environment).
"""

import json
import os
import pickle
import re
import sys
import time

import numpy as np

# The starter's writer: one implementation of our checkpoint format in Python.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tasks/starters/rl-ppo"))
from write_policy import save_safetensors  # noqa: E402


def flax_to_ours(params, hidden_layers):
    """Flax parameter tree -> {our tensor name: array}. The actor's Dense layers are unnamed
    in MLGym's categorical model (Dense_0.., the last one being the logits)."""
    out = {}
    for layer, leaves in params.items():
        m = re.fullmatch(r"Dense_(\d+)", layer)
        if m:
            i = int(m.group(1))
            layer = f"actor_fc_{i + 1}" if i < hidden_layers else "actor_fc_logits"
        for kind, value in leaves.items():
            out[f"{layer}.{kind}"] = np.asarray(value, dtype="<f4")
    return out


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    task_dir, model, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sys.path.insert(0, os.path.join(task_dir, "src"))
    import jax
    from helpers import load_config
    from networks import get_model_ready
    from policy import train_ppo

    config = load_config(os.path.join(task_dir, "src/config.yaml"), 42).train_config
    if len(sys.argv) > 4:
        config.num_train_steps = int(sys.argv[4])
    rng_list = jax.random.split(jax.random.PRNGKey(config["seed_id"]), 6)
    net, params = get_model_ready(rng_list[1 + model], config)
    start = time.time()
    log_steps, log_return, trained = train_ppo(rng_list[0], config, net, params, None)
    seconds = time.time() - start
    os.makedirs(out, exist_ok=True)
    with open(f"{out}/config-42-{model}.pkl", "wb") as f:
        pickle.dump({"log_steps": log_steps, "log_return": log_return, "network": trained,
                     "train_config": config}, f)
    layers = int(config.network_config.num_hidden_layers)
    save_safetensors(f"{out}/model-{model}.safetensors", flax_to_ours(trained["params"], layers))
    log = {"model": model, "num_train_steps": int(config.num_train_steps), "seconds": seconds,
           "steps_per_second": config.num_train_steps / seconds,
           "log_steps": [int(s) for s in log_steps], "log_return": [float(r) for r in log_return]}
    with open(f"{out}/log-{model}.json", "w") as f:
        json.dump(log, f)
    print(f"RESULT model {model}: {config.num_train_steps} steps in {seconds:.0f} s "
          f"({log['steps_per_second']:.0f} steps/s); last periodic returns {log['log_return'][-3:]}")


if __name__ == "__main__":
    main()
