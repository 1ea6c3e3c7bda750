#!/usr/bin/env python3
"""An independent reference for mlgym's sentence embeddings: BERT encoder + mean pooling
+ L2 normalisation written in plain numpy (no PyTorch, no sentence-transformers), reading
the weights with a small hand-written safetensors reader.

It is what sentence-transformers computes for all-MiniLM-L6-v2 (Transformer -> Pooling
(mean over the attention mask) -> Normalize), written from the BERT architecture:
embeddings (word + position + token type) -> LayerNorm -> N x [self-attention with the
padding mask -> dense -> residual + LayerNorm -> dense -> GELU (erf) -> dense -> residual
+ LayerNorm].

Tokenisation uses the `tokenizers` PyPI package when it is installed (truncation at
max_seq_length, no padding); otherwise pass the token ids with --ids (a JSON list of
lists, e.g. printed by mlgym's tests).

Usage:
  reference_embed.py MODEL_DIR --sentences S.json --out OUT.json [--dtype float64]
      writes {"model_sha256", "max_seq_length", "dtype", "sentences", "token_ids",
      "embeddings"} for the sentences of S.json (a JSON list of strings)
  reference_embed.py MODEL_DIR --bench N --sentences S.json [--batch 32] [--dtype float32]
      embeds N texts (the sentences repeated) in batches of --batch and prints one JSON line
      {"impl": "numpy", "texts", "seconds", "embeddings_per_s", ...}
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys
import time

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


def read_safetensors(path):
    """name -> numpy array, from the format's 8-byte header length + JSON header + data."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=DTYPES[info["dtype"]])
        out[name] = arr.reshape(info["shape"])
    # Checkpoints saved from BertForX carry a "bert." prefix.
    if any(k.startswith("bert.") for k in out):
        out = {k[len("bert."):]: v for k, v in out.items() if k.startswith("bert.")}
    return out


def erf_exact(x):
    return np.vectorize(math.erf, otypes=[x.dtype])(x)


def erf_fast(x):
    # Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7: below float32 resolution here.
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return (s * y).astype(x.dtype)


class Bert:
    def __init__(self, model_dir, dtype):
        self.cfg = json.load(open(os.path.join(model_dir, "config.json")))
        self.dtype = dtype
        w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        self.w = {k: v.astype(dtype) for k, v in w.items() if v.dtype != np.int64}
        self.erf = erf_exact if dtype == np.float64 else erf_fast
        self.eps = self.cfg["layer_norm_eps"]
        self.heads = self.cfg["num_attention_heads"]

    def ln(self, x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.w[p + ".weight"] + self.w[p + ".bias"]

    def dense(self, x, p):
        return x @ self.w[p + ".weight"].T + self.w[p + ".bias"]

    def forward(self, ids, mask):
        """ids, mask: int arrays [B, L] -> last hidden state [B, L, H]."""
        b, l = ids.shape
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][:l][None]
        x = x + w["embeddings.token_type_embeddings.weight"][0][None, None]
        x = self.ln(x, "embeddings.LayerNorm")
        h = x.shape[-1]
        d = h // self.heads
        bias = ((1.0 - mask[:, None, None, :].astype(self.dtype)) * np.finfo(self.dtype).min).astype(self.dtype)
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}"
            split = lambda t: t.reshape(b, l, self.heads, d).transpose(0, 2, 1, 3)
            q = split(self.dense(x, p + ".attention.self.query"))
            k = split(self.dense(x, p + ".attention.self.key"))
            v = split(self.dense(x, p + ".attention.self.value"))
            s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d).astype(self.dtype) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s = s / s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, l, h)
            x = self.ln(self.dense(ctx, p + ".attention.output.dense") + x, p + ".attention.output.LayerNorm")
            inter = self.dense(x, p + ".intermediate.dense")
            inter = 0.5 * inter * (1.0 + self.erf(inter / np.sqrt(2.0).astype(self.dtype)))
            x = self.ln(self.dense(inter, p + ".output.dense") + x, p + ".output.LayerNorm")
        return x

    def embed_ids(self, seqs, batch=32):
        """Mean pooling over the mask, then L2 normalisation; batches sorted by length."""
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out = [None] * len(seqs)
        for c in range(0, len(order), batch):
            idx = order[c : c + batch]
            l = max(len(seqs[i]) for i in idx)
            ids = np.zeros((len(idx), l), dtype=np.int64)
            mask = np.zeros((len(idx), l), dtype=np.int64)
            for r, i in enumerate(idx):
                ids[r, : len(seqs[i])] = seqs[i]
                mask[r, : len(seqs[i])] = 1
            hidden = self.forward(ids, mask)
            m = mask[:, :, None].astype(self.dtype)
            pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            for r, i in enumerate(idx):
                out[i] = pooled[r]
        return out


def max_seq_length(model_dir, cfg):
    p = os.path.join(model_dir, "sentence_bert_config.json")
    n = json.load(open(p)).get("max_seq_length", 256) if os.path.exists(p) else 256
    return max(2, min(n, cfg["max_position_embeddings"]))


def tokenize(model_dir, texts, max_len):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)
    return [tok.encode(t).ids for t in texts]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--sentences", help="JSON list of strings")
    ap.add_argument("--ids", help="JSON list of token-id lists (instead of the tokenizers package)")
    ap.add_argument("--out")
    ap.add_argument("--dtype", choices=["float32", "float64"])
    ap.add_argument("--bench", type=int, default=0, help="embed this many texts and report the rate")
    ap.add_argument("--batch", type=int, default=32, help="texts per encoder call (--bench)")
    a = ap.parse_args()
    dtype = np.dtype(a.dtype or ("float32" if a.bench else "float64")).type
    t_load = time.perf_counter()
    bert = Bert(a.model_dir, dtype)
    load_s = time.perf_counter() - t_load
    max_len = max_seq_length(a.model_dir, bert.cfg)
    texts = json.load(open(a.sentences)) if a.sentences else []
    given = json.load(open(a.ids)) if a.ids else None

    def token_ids(xs):
        if given is not None:
            return [given[i % len(given)] for i in range(len(xs))]
        try:
            return tokenize(a.model_dir, xs, max_len)
        except ImportError:
            sys.exit("the `tokenizers` package is not installed: `pip install tokenizers`, or pass --ids")

    if a.bench:
        batch = [texts[i % len(texts)] for i in range(a.bench)] if texts else [None] * a.bench
        t0 = time.perf_counter()
        seqs = token_ids(batch)  # tokenising is part of the work, as in mlgym
        bert.embed_ids(seqs, batch=a.batch)
        dt = time.perf_counter() - t0
        print(json.dumps({"impl": "numpy", "batch": a.batch, "dtype": np.dtype(dtype).name, "numpy": np.__version__, "texts": a.bench,
                          "seconds": dt, "embeddings_per_s": a.bench / dt, "load_s": load_s,
                          "mean_tokens": sum(map(len, seqs)) / len(seqs)}))
        return
    ids = token_ids(texts) if given is None else given
    emb = bert.embed_ids(ids)
    sha = hashlib.sha256(open(os.path.join(a.model_dir, "model.safetensors"), "rb").read()).hexdigest()
    doc = {
        "generator": "scripts/memory/reference_embed.py (numpy BERT, mean pooling, L2 normalisation)",
        "model_sha256": sha,
        "max_seq_length": max_len,
        "dtype": np.dtype(dtype).name,
        "sentences": texts,
        "token_ids": ids,
        "embeddings": [[float(f"{v:.8g}") for v in e] for e in emb],
    }
    with open(a.out, "w") as f:
        json.dump(doc, f)
        f.write("\n")


if __name__ == "__main__":
    main()
