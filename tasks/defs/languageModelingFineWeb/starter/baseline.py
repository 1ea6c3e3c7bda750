"""Baseline for languageModelingFineWeb (PyTorch): a modded-nanogpt-style GPT trained
with MLGym's recipe, saved as ``model.safetensors`` + ``model_config.json``.

Recipe (one GPU): 12 layers, 6 heads of 128, width 768, vocabulary 50304; RMSNorm without
weights, rotary embeddings, QK-norm, ReLU² MLP, zero-initialised output projections and
head (untied). Adam (betas 0.9/0.95) with lr 0.3 for the embedding and 0.002 for the head,
Muon (lr 0.02, momentum 0.95, Nesterov, 5 Newton-Schulz steps) for every block matrix;
500 steps of 64 x 1024 tokens per GPU; the learning rate decays linearly (warm-down).
Matrices run in bfloat16 on a GPU (autocast), float32 on a CPU.

    python baseline.py                                   # one GPU (or the CPU, slowly)
    torchrun --standalone --nproc_per_node=N baseline.py # N GPUs
    python baseline.py --n-layer 2 --n-embd 64 --n-head 2 --batch-size 4 --seq-len 128 \
        --iterations 20 --val-tokens 8192                # a quick CPU check

The model follows ``model_config.json`` (see ``lm_io.py`` for every field): pass
``--model-config FILE`` to train another member of the family. Everything is saved with
``lm_io.save_submission``; ``python lm_io.py check`` checks the result.
"""

import argparse
import contextlib
import inspect
import json
import math
import os
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

import lm_io

# ---------------------------------------------------------------- model


def rms(x, eps):
    # F.rms_norm exists from PyTorch 2.4 on; the formula is the same.
    if hasattr(F, "rms_norm"):
        return F.rms_norm(x, (x.size(-1),), eps=eps)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


class Norm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.kind, self.eps, d = c["norm"], c["norm_eps"], c["n_embd"]
        self.weight = nn.Parameter(torch.ones(d)) if c["norm_affine"] else None
        self.bias = nn.Parameter(torch.zeros(d)) if c["norm_affine"] and self.kind == "layer" else None

    def forward(self, x):
        if self.kind == "layer":
            return F.layer_norm(x, (x.size(-1),), self.weight, self.bias, self.eps)
        y = rms(x, self.eps)
        return y if self.weight is None else y * self.weight


def linear(c, i, o, zero=False):
    layer = nn.Linear(i, o, bias=c["bias"])
    if zero:  # the residual branches start as the identity
        nn.init.zeros_(layer.weight)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    return layer


def rotary_tables(c, t, device):
    hd = c["_head_dim"]
    inv = 1.0 / (c["rotary_base"] ** (torch.arange(0, hd // 2, dtype=torch.float32, device=device) * 2 / hd))
    ang = torch.arange(t, dtype=torch.float32, device=device)[:, None] * inv[None, :]
    return ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]


def rotate(x, cos, sin):
    half = x.size(-1) // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * cos + x2 * sin, x2 * cos - x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        h, kv, hd, d = c["n_head"], c["_kv"], c["_head_dim"], c["n_embd"]
        self.c_q = linear(c, d, h * hd)
        self.c_k = linear(c, d, kv * hd)
        self.c_v = linear(c, d, kv * hd)
        self.c_proj = linear(c, h * hd, d, zero=True)

    def forward(self, x, rope):
        c = self.c
        b, t, _ = x.shape
        h, kv, hd = c["n_head"], c["_kv"], c["_head_dim"]
        q = self.c_q(x).view(b, t, h, hd)
        k = self.c_k(x).view(b, t, kv, hd)
        v = self.c_v(x).view(b, t, kv, hd)
        if c["qk_norm"]:
            q, k = rms(q, c["norm_eps"]), rms(k, c["norm_eps"])
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        if kv != h:  # grouped-query attention: query head j reads key/value head j // (h/kv)
            k, v = k.repeat_interleave(h // kv, dim=2), v.repeat_interleave(h // kv, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if _sdpa_has_scale():
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=c["_scale"])
        else:  # PyTorch < 2.1
            s = (q * c["_scale"]) @ k.transpose(-1, -2)
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            y = s.masked_fill(mask, float("-inf")).softmax(-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(b, t, h * hd))


def _sdpa_has_scale():
    """Whether F.scaled_dot_product_attention takes ``scale`` (PyTorch 2.1 on)."""
    try:
        return "scale" in inspect.signature(F.scaled_dot_product_attention).parameters
    except (AttributeError, TypeError, ValueError):
        return False


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = c["activation"]
        d, f = c["n_embd"], c["_hidden"]
        self.c_fc = linear(c, d, f)
        if self.act == "swiglu":
            self.c_gate = linear(c, d, f)
        self.c_proj = linear(c, f, d, zero=True)

    def forward(self, x):
        z = self.c_fc(x)
        if self.act == "relu2":
            z = F.relu(z).square()
        elif self.act == "relu":
            z = F.relu(z)
        elif self.act == "gelu":
            z = F.gelu(z)
        elif self.act == "gelu_tanh":
            z = F.gelu(z, approximate="tanh")
        elif self.act == "silu":
            z = F.silu(z)
        else:
            z = F.silu(self.c_gate(x)) * z
        return self.c_proj(z)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        # Weightless norms (the default) hold no tensors, so nothing appears in the state dict.
        self.ln_1, self.ln_2 = Norm(c), Norm(c)
        self.attn = Attention(c)
        self.mlp = MLP(c)

    def forward(self, x, rope):
        x = x + self.attn(self.ln_1(x), rope)
        return x + self.mlp(self.ln_2(x))


class Model(nn.Module):
    """The GPT of a completed ``model_config.json``; its state-dict names are the ones
    the evaluator reads."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        t = nn.ModuleDict({"wte": nn.Embedding(c["vocab_size"], c["n_embd"])})
        if c["position"] == "learned":
            t["wpe"] = nn.Embedding(c["block_size"], c["n_embd"])
            nn.init.normal_(t["wpe"].weight, std=0.02)
        if c["embed_norm"]:
            t["ln_e"] = Norm(c)
        t["h"] = nn.ModuleList([Block(c) for _ in range(c["n_layer"])])
        t["ln_f"] = Norm(c)
        self.transformer = t
        if not c["tie_embeddings"]:
            self.lm_head = nn.Linear(c["n_embd"], c["vocab_size"], bias=False)
            nn.init.zeros_(self.lm_head.weight)

    def forward(self, idx, targets):
        c, t = self.c, idx.size(1)
        x = self.transformer["wte"](idx)
        if "wpe" in self.transformer:
            x = x + self.transformer["wpe"].weight[:t]
        if c["embed_norm"]:
            x = self.transformer["ln_e"](x)
        rope = rotary_tables(c, t, idx.device) if c["position"] == "rotary" else None
        for block in self.transformer["h"]:
            x = block(x, rope)
        x = self.transformer["ln_f"](x)
        head = self.transformer["wte"].weight if c["tie_embeddings"] else self.lm_head.weight
        logits = (x @ head.to(x.dtype).T).float()
        if c["logit_softcap"]:
            logits = c["logit_softcap"] * torch.tanh(logits / c["logit_softcap"])
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def state_dict_for_submission(model):
    """The state dict under the evaluator's names, as float32 numpy arrays."""
    return {lm_io.canonical_name(k): v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- Muon


def orthogonalize(g, steps, dtype):
    """Newton-Schulz iteration towards the nearest semi-orthogonal matrix (quintic
    coefficients 3.4445, -4.7750, 2.0315), from ``g / (|g|_F + 1e-7)``."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.to(dtype)
    x = x / (x.norm() + 1e-7)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return (x.T if tall else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    """SGD with Nesterov momentum whose update is orthogonalised, scaled by
    ``sqrt(max(1, rows / cols))``; for 2-D parameters only."""

    def __init__(self, params, lr=0.02, momentum=0.95, steps=5, dtype=torch.float32):
        super().__init__(params, dict(lr=lr, momentum=momentum, steps=steps, dtype=dtype))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "buf" not in st:
                    st["buf"] = torch.zeros_like(p.grad)
                buf = st["buf"]
                buf.mul_(group["momentum"]).add_(p.grad)
                g = p.grad.add(buf, alpha=group["momentum"])
                u = orthogonalize(g, group["steps"], group["dtype"])
                p.add_(u, alpha=-group["lr"] * max(1.0, p.size(0) / p.size(1)) ** 0.5)


# ---------------------------------------------------------------- data


class Loader:
    """Windows of ``B*T + 1`` tokens read in order through the training shards; rank
    ``r`` of ``n`` reads the ``r``-th of every ``n`` consecutive windows."""

    def __init__(self, files, b, t, rank, world):
        if not files:
            raise SystemExit("no training shards: expected data/fineweb10B/fineweb_train_*.bin")
        self.files, self.b, self.t, self.rank, self.world = files, b, t, rank, world
        self.shard = -1
        self._next_shard()

    def _next_shard(self):
        self.shard = (self.shard + 1) % len(self.files)
        self.tokens = lm_io.read_shard(self.files[self.shard])
        self.pos = self.rank * self.b * self.t

    def next(self, device):
        n = self.b * self.t
        if self.pos + n + 1 > len(self.tokens):
            self._next_shard()
            if self.pos + n + 1 > len(self.tokens):
                raise SystemExit(f"{self.files[self.shard]}: too few tokens for a batch of {self.b}x{self.t}")
        buf = torch.from_numpy(np.asarray(self.tokens[self.pos : self.pos + n + 1], dtype=np.int64))
        self.pos += n * self.world
        x, y = buf[:-1].view(self.b, self.t), buf[1:].view(self.b, self.t)
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


# ---------------------------------------------------------------- training


def parse_args():
    ap = argparse.ArgumentParser(description="languageModelingFineWeb baseline (PyTorch)")
    ap.add_argument("--model-config", help="a model_config.json to train (default: MLGym's baseline)")
    ap.add_argument("--vocab-size", type=int, default=50304)
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--n-head", type=int, default=6)
    ap.add_argument("--n-embd", type=int, default=768)
    ap.add_argument("--batch-size", type=int, default=64, help="sequences per step per GPU")
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--iterations", type=int, default=500)
    ap.add_argument("--warmup-iters", type=int, default=0)
    ap.add_argument("--warmdown-iters", type=int, default=1308, help="MLGym's value (more than the steps)")
    ap.add_argument("--embed-lr", type=float, default=0.3)
    ap.add_argument("--head-lr", type=float, default=0.002)
    ap.add_argument("--scalar-lr", type=float, default=0.04, help="Adam lr of norm weights and biases")
    ap.add_argument("--muon-lr", type=float, default=0.02)
    ap.add_argument("--muon-momentum", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--data-dir", default=lm_io.DATA_DIR)
    ap.add_argument("--val-tokens", type=int, default=lm_io.VAL_TOKENS, help="validation tokens scored at the end (0: none)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--out", default=".", help="where model.safetensors and model_config.json go")
    return ap.parse_args()


def lr_multiplier(it, a):
    """Linear warm-up, constant, then linear warm-down to zero at ``a.iterations``."""
    if it < a.warmup_iters:
        return (it + 1) / a.warmup_iters
    if it < a.iterations - a.warmdown_iters:
        return 1.0
    return (a.iterations - it) / max(1, a.warmdown_iters)


@torch.no_grad()
def validate(model, a, device, autocast, rank, world):
    """Mean loss over the first ``a.val_tokens`` validation tokens with the evaluator's
    windowing (windows of 1024), so that it is comparable with the score."""
    seq = lm_io.SEQ_LEN
    n = min(a.val_tokens, lm_io.VAL_TOKENS) // seq * seq
    if n == 0:
        return None
    val = lm_io.read_shard(os.path.join(a.data_dir, lm_io.VAL_FILE))[: n + 1]
    windows, per_batch = n // seq, max(1, a.batch_size * a.seq_len // seq)
    total = torch.zeros((), device=device, dtype=torch.float64)
    for w in range(rank * per_batch, windows, per_batch * world):
        b = min(per_batch, windows - w)
        buf = torch.from_numpy(np.asarray(val[w * seq : (w + b) * seq + 1], dtype=np.int64)).to(device)
        with autocast():
            total += model(buf[:-1].view(b, seq), buf[1:].view(b, seq)).double() * (b * seq)
    if world > 1:
        dist.all_reduce(total)
    return total.item() / n


def main():
    a = parse_args()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group(backend="nccl")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        a.device = f"cuda:{local}"
    device = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    master = rank == 0

    if a.model_config:
        with open(a.model_config) as f:
            cfg = json.load(f)
    else:
        cfg = {"vocab_size": a.vocab_size, "n_layer": a.n_layer, "n_head": a.n_head, "n_embd": a.n_embd}
    c = lm_io.complete_config(cfg)
    model = Model(c).to(device)
    raw = model
    if a.compile:
        model = torch.compile(model)
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index])

    cuda = device.type == "cuda"

    def autocast():
        if cuda:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    embed = [p for n, p in raw.named_parameters() if n.startswith(("transformer.wte", "transformer.wpe"))]
    head = [p for n, p in raw.named_parameters() if n == "lm_head.weight"]
    matrices = [p for n, p in raw.named_parameters() if n.startswith("transformer.h.") and p.ndim == 2]
    seen = {id(p) for p in embed + head + matrices}
    scalars = [p for p in raw.parameters() if id(p) not in seen]
    betas = (0.9, 0.95)
    optimizers = [torch.optim.Adam([{"params": embed, "lr": a.embed_lr}], betas=betas, eps=1e-8)]
    if head:
        optimizers.append(torch.optim.Adam([{"params": head, "lr": a.head_lr}], betas=betas, eps=1e-8))
    if scalars:
        optimizers.append(torch.optim.Adam([{"params": scalars, "lr": a.scalar_lr}], betas=betas, eps=1e-8))
    if matrices:
        optimizers.append(Muon(matrices, lr=a.muon_lr, momentum=a.muon_momentum, dtype=torch.bfloat16 if cuda else torch.float32))
    for o in optimizers:
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]

    loader = Loader(lm_io.train_shards(a.data_dir), a.batch_size, a.seq_len, rank, world)
    n_params = sum(p.numel() for p in raw.parameters())
    if master:
        print(f"training {c['n_layer']} layers x {c['n_embd']} ({n_params / 1e6:.1f}M parameters) on {device}: "
              f"{a.iterations} steps of {world}x{a.batch_size}x{a.seq_len} tokens", flush=True)
    tokens_per_step = world * a.batch_size * a.seq_len
    start = window_start = time.perf_counter()
    window_tokens, timed_tokens, timed_since = 0, 0, None
    for it in range(a.iterations):
        m = lr_multiplier(it, a)
        for o in optimizers:
            for g in o.param_groups:
                g["lr"] = g["initial_lr"] * m
        x, y = loader.next(device)
        with autocast():
            loss = model(x, y)
        loss.backward()
        for o in optimizers:
            o.step()
        model.zero_grad(set_to_none=True)
        window_tokens += tokens_per_step
        if it == 1:  # the first steps include start-up costs; time from the third on
            timed_since = time.perf_counter()
        elif timed_since is not None:
            timed_tokens += tokens_per_step
        if master and ((it + 1) % a.log_every == 0 or it + 1 == a.iterations):
            value = loss.item()
            if not math.isfinite(value):
                raise SystemExit(f"the loss is {value} at step {it + 1}; lower the learning rates")
            now = time.perf_counter()
            rate = window_tokens / max(now - window_start, 1e-9)
            print(f"step {it + 1}/{a.iterations} loss {value:.4f} lr x{m:.3f} {rate:.0f} tokens/s", flush=True)
            window_start, window_tokens = now, 0
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    if master:
        steady = timed_tokens / max(time.perf_counter() - timed_since, 1e-9) if timed_tokens else float("nan")
        print(f"trained {a.iterations * tokens_per_step} tokens in {elapsed:.1f} s; steady {steady:.0f} tokens/s", flush=True)
    model.eval()
    val = validate(raw, a, device, autocast, rank, world)
    if master:
        if val is not None:
            print(f"val_loss {val:.6f} (first {min(a.val_tokens, lm_io.VAL_TOKENS) // 1024 * 1024} validation tokens)", flush=True)
        cfg_out = lm_io.public_config(c)
        for k, v in lm_io.DEFAULTS.items():  # keep the file short: only what differs
            if k in cfg_out and cfg_out[k] == v:
                del cfg_out[k]
        lm_io.save_submission(a.out, cfg_out, state_dict_for_submission(raw))
        print(f"wrote {lm_io.MODEL_FILE} and {lm_io.CONFIG_FILE} to {a.out}", flush=True)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
