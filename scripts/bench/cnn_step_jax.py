"""One training step of MLGym's baseline CNN in JAX (jit, CPU): batch 64, NHWC input of
Fashion-MNIST (28x28x1) or CIFAR-10 (32x32x3) size, conv 3x3 32 (SAME) -> ReLU -> max-pool 2
-> conv 3x3 64 (SAME) -> ReLU -> max-pool 2 -> linear 10, cross-entropy, optax.adamw.
Prints one JSON line (median and best ms per step after warm-up), like our benchmark."""
import argparse, json, time
import numpy as np
import jax, jax.numpy as jnp, optax

ap = argparse.ArgumentParser()
ap.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "cifar10"])
ap.add_argument("--steps", type=int, default=40)
a = ap.parse_args()
h, w, c = (28, 28, 1) if a.dataset == "fashion-mnist" else (32, 32, 3)
rng = np.random.default_rng(1)

def uni(shape, fan_in):
    b = 1 / np.sqrt(fan_in)
    return jnp.asarray(rng.uniform(-b, b, shape), jnp.float32)

flat = 64 * (h // 4) * (w // 4)
params = {"w1": uni((3, 3, c, 32), 9 * c), "b1": uni((32,), 9 * c), "w2": uni((3, 3, 32, 64), 288),
          "b2": uni((64,), 288), "w3": uni((flat, 10), flat), "b3": uni((10,), flat)}

def block(x, w_, b_):
    y = jax.lax.conv_general_dilated(x, w_, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + b_
    y = jax.nn.relu(y)
    return jax.lax.reduce_window(y, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

def loss_fn(p, x, y):
    z = block(block(x, p["w1"], p["b1"]), p["w2"], p["b2"]).reshape(x.shape[0], -1)
    logits = z @ p["w3"] + p["b3"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

opt = optax.adamw(1e-3, weight_decay=0.01)
state = opt.init(params)

@jax.jit
def step(p, s, x, y):
    loss, g = jax.value_and_grad(loss_fn)(p, x, y)
    u, s = opt.update(g, s, p)
    return optax.apply_updates(p, u), s, loss

xs = rng.integers(0, 256, (4, 64, h, w, c)).astype(np.float32) / 255
ys = rng.integers(0, 10, (4, 64))
times = []
for i in range(a.steps + 5):
    t0 = time.perf_counter()
    x, y = jnp.asarray(xs[i % 4]), jnp.asarray(ys[i % 4])
    params, state, loss = step(params, state, x, y)
    loss.block_until_ready()
    if i >= 5:
        times.append((time.perf_counter() - t0) * 1e3)
times.sort()
print(json.dumps({"impl": "jax", "dataset": a.dataset, "jax": jax.__version__, "steps": a.steps,
                  "median_ms": round(times[len(times) // 2], 2), "best_ms": round(times[0], 2)}))
