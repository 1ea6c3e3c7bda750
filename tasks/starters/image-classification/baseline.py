"""Starter baseline: train a classifier on data/ and write submission.csv.

Reads the NumPy arrays in data/ (numpy only is required):
  data/train_images.npy  uint8 (N, H, W, C)    data/train_labels.npy  int64 (N,)
  data/test_images.npy   uint8 (M, H, W, C)    -> predict one label per test image

With PyTorch installed it trains the reference CNN (conv 3x3 32 -> ReLU -> max-pool ->
conv 3x3 64 -> ReLU -> max-pool -> linear 10) with AdamW; without it, a softmax
regression in plain numpy. Either way it keeps 10% of the training images for
validation and writes submission.csv (header `label`, one row per test image, in order).
"""

import numpy as np

SEED = 42
rng = np.random.default_rng(SEED)

x_train = np.load("data/train_images.npy").astype(np.float32) / 255.0
y_train = np.load("data/train_labels.npy").astype(np.int64)
x_test = np.load("data/test_images.npy").astype(np.float32) / 255.0
n_classes = 10

order = rng.permutation(len(x_train))
n_val = len(order) // 10
val_idx, fit_idx = order[:n_val], order[n_val:]


def accuracy(pred, y):
    return float((pred == y).mean())


def train_torch():
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    _, h, w, c = x_train.shape
    model = nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * (h // 4) * (w // 4), n_classes),
    )
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    xf, yf = to_t(x_train[fit_idx]), torch.from_numpy(y_train[fit_idx])
    xv, yv = to_t(x_train[val_idx]), y_train[val_idx]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def predict(x):
        model.eval()
        with torch.no_grad():
            return torch.cat([model(x[i:i + 512]).argmax(1) for i in range(0, len(x), 512)]).numpy()

    for epoch in range(5):
        model.train()
        perm = torch.randperm(len(xf))
        for i in range(0, len(xf), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(xf[b]), yf[b])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: validation accuracy {accuracy(predict(xv), yv):.4f}")
    return predict(to_t(x_test))


def train_numpy():
    xf = x_train[fit_idx].reshape(len(fit_idx), -1)
    xv = x_train[val_idx].reshape(len(val_idx), -1)
    xt = x_test.reshape(len(x_test), -1)
    W = np.zeros((xf.shape[1], n_classes), np.float32)
    b = np.zeros(n_classes, np.float32)
    onehot = np.eye(n_classes, dtype=np.float32)[y_train[fit_idx]]
    for epoch in range(10):
        perm = rng.permutation(len(xf))
        for i in range(0, len(xf), 128):
            idx = perm[i:i + 128]
            z = xf[idx] @ W + b
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            g = (p - onehot[idx]) / len(idx)
            W -= 0.5 * (xf[idx].T @ g + 1e-4 * W)
            b -= 0.5 * g.sum(0)
        print(f"epoch {epoch + 1}: validation accuracy {accuracy((xv @ W + b).argmax(1), y_train[val_idx]):.4f}")
    return (xt @ W + b).argmax(1)


try:
    import torch  # noqa: F401
    predictions = train_torch()
except ImportError:
    print("PyTorch is not installed: training a softmax regression with numpy")
    predictions = train_numpy()

with open("submission.csv", "w") as f:
    f.write("label\n")
    f.writelines(f"{int(p)}\n" for p in predictions)
print(f"wrote submission.csv ({len(predictions)} rows)")
