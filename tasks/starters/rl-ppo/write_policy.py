"""Write RL-task policies with numpy alone (no safetensors package needed).

A submission is `config.toml` (the `env` line and the `[network]` table) plus
`checkpoints/` holding exactly 5 `*.safetensors` files, one per training seed, each with
the float32 tensors listed by `tensor_shapes` (Flax's layout: `y = x @ kernel + bias`,
kernels `[inputs, outputs]`). The evaluator samples stochastic actions from the actor; the
critic tensors are optional (unused for scoring; leave them all out or write them all).

    python write_policy.py              # 5 freshly initialised (untrained) checkpoints
                                        # for the network in config.toml: a valid, weak
                                        # submission to check the pipeline with `validate`

From your own training code:

    from write_policy import read_config, tensor_shapes, save_safetensors
    env, layers, units = read_config("config.toml")
    save_safetensors("checkpoints/model-0.safetensors", {name: array, ...})
"""
import json
import os
import re
import struct
import sys

import numpy as np

# gymnax name -> (observation length, head, number of action outputs)
ENVS = {
    "MountainCarContinuous-v0": (2, "gaussian", 1),
    "MetaMaze-misc": (15, "categorical", 4),
    "Breakout-MinAtar": (400, "categorical", 3),
}


def save_safetensors(path, tensors, metadata=None):
    """Write {name: array} as a safetensors file of float32 tensors."""
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # pad the header to a multiple of 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Read a safetensors file of F32/F64 tensors back into {name: array}."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n :]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = {"F32": "<f4", "F64": "<f8"}[info["dtype"]]
        out[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(info["shape"])
    return out


def read_config(path="config.toml"):
    """(env name, num_hidden_layers, num_hidden_units) from config.toml."""
    text = open(path).read()
    env = re.search(r'^\s*env\s*=\s*"([^"]+)"', text, re.M).group(1)
    net = text.split("[network]", 1)[1].split("\n[", 1)[0]
    layers = int(re.search(r"num_hidden_layers\s*=\s*([0-9_]+)", net).group(1).replace("_", ""))
    units = int(re.search(r"num_hidden_units\s*=\s*([0-9_]+)", net).group(1).replace("_", ""))
    return env, layers, units


def tensor_shapes(env, layers, units):
    """Every tensor name and shape of the network, in file order."""
    obs_dim, head, n_act = ENVS[env]
    shapes = {}
    for prefix in ("critic", "actor"):
        n_in = obs_dim
        for i in range(1, layers + 1):
            shapes[f"{prefix}_fc_{i}.kernel"] = (n_in, units)
            shapes[f"{prefix}_fc_{i}.bias"] = (units,)
            n_in = units
        if prefix == "critic":
            heads = [("critic_fc_v", 1)]
        elif head == "gaussian":
            heads = [("actor_fc_mu", n_act), ("actor_fc_scale", n_act)]
        else:
            heads = [("actor_fc_logits", n_act)]
        for name, n_out in heads:
            shapes[f"{name}.kernel"] = (n_in, n_out)
            shapes[f"{name}.bias"] = (n_out,)
    return shapes


def init_params(env, layers, units, rng):
    """MLGym's initialisation: truncated LeCun-normal kernels, biases uniform in [0, 0.05)."""
    params = {}
    for name, shape in tensor_shapes(env, layers, units).items():
        if name.endswith(".kernel"):
            std = np.sqrt(1.0 / shape[0]) / 0.8796256610342398
            z = rng.standard_normal(shape)
            while np.any(np.abs(z) > 2):
                bad = np.abs(z) > 2
                z[bad] = rng.standard_normal(bad.sum())
            params[name] = (z * std).astype(np.float32)
        else:
            params[name] = rng.uniform(0.0, 0.05, shape).astype(np.float32)
    return params


def actor_forward(params, obs, layers):
    """The actor on a batch of flattened observations: (mu, scale) or logits."""
    h = np.asarray(obs, dtype=np.float32)
    for i in range(1, layers + 1):
        h = np.maximum(h @ params[f"actor_fc_{i}.kernel"] + params[f"actor_fc_{i}.bias"], 0.0)
    if "actor_fc_mu.kernel" in params:
        mu = h @ params["actor_fc_mu.kernel"] + params["actor_fc_mu.bias"]
        s = h @ params["actor_fc_scale.kernel"] + params["actor_fc_scale.bias"]
        return mu, np.logaddexp(s, 0.0) + 0.001  # softplus + 0.001
    return h @ params["actor_fc_logits.kernel"] + params["actor_fc_logits.bias"]


if __name__ == "__main__":
    config = sys.argv[1] if len(sys.argv) > 1 else "config.toml"
    env, layers, units = read_config(config)
    os.makedirs("checkpoints", exist_ok=True)
    for i in range(5):
        p = init_params(env, layers, units, np.random.default_rng(i))
        save_safetensors(f"checkpoints/model-{i}.safetensors", p, {"env": env, "model": i})
    print(f"wrote 5 untrained {env} checkpoints ({layers}x{units}) to checkpoints/")
