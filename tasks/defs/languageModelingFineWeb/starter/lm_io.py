"""The languageModelingFineWeb formats in numpy alone (no PyTorch needed).

* token shards: ``read_shard`` / ``write_shard`` (a header of 256 little-endian int32:
  magic 20240520, version 1, token count; then the tokens as uint16);
* ``model_config.json``: ``complete_config`` fills the defaults and checks the fields,
  ``tensor_shapes`` lists every tensor a config implies (names and shapes);
* ``model.safetensors``: ``save_safetensors`` / ``load_safetensors`` (float32, float16,
  bfloat16), ``save_submission`` writes both files;
* ``check_submission``: what the evaluator will refuse, before you submit;
* ``forward`` / ``mean_loss``: the model in numpy (slow; for checking small models and a
  few windows, not for training);
* ``unigram_submission``: the simplest valid submission (no blocks; the head predicts
  the training unigram distribution).

Command line::

    python lm_io.py check [DIR]                # checks DIR/model_config.json + model.safetensors
    python lm_io.py loss [DIR] [--tokens N]    # numpy val_loss on the first N validation tokens
    python lm_io.py unigram [--out DIR] [--tokens N]
"""

import argparse
import glob
import json
import math
import os
import struct
import sys

import numpy as np

MAGIC = 20240520
VERSION = 1
HEADER_INTS = 256
DATA_DIR = "data/fineweb10B"
VAL_FILE = "fineweb_val_000000.bin"
VAL_TOKENS = 10_485_760
SEQ_LEN = 1024
MODEL_FILE = "model.safetensors"
CONFIG_FILE = "model_config.json"

# ---------------------------------------------------------------- token shards


def read_shard(path, mmap=True):
    """The tokens of a shard as a uint16 array (memory-mapped unless ``mmap`` is False)."""
    header = np.fromfile(path, dtype="<i4", count=HEADER_INTS)
    if header.size < HEADER_INTS:
        raise ValueError(f"{path}: shorter than the 1024-byte header of a token shard")
    if header[0] != MAGIC:
        raise ValueError(f"{path}: magic {header[0]}, expected {MAGIC}: not a token shard")
    if header[1] != VERSION:
        raise ValueError(f"{path}: version {header[1]}, expected {VERSION}")
    count = int(header[2])
    expected = 4 * HEADER_INTS + 2 * count
    size = os.path.getsize(path)
    if size != expected:
        raise ValueError(
            f"{path}: {size} bytes, but the header announces {count} tokens ({expected} bytes);"
            " the file is truncated or damaged"
        )
    if mmap:
        return np.memmap(path, dtype="<u2", mode="r", offset=4 * HEADER_INTS, shape=(count,))
    return np.fromfile(path, dtype="<u2", offset=4 * HEADER_INTS, count=count)


def write_shard(path, tokens):
    """Writes ``tokens`` (ids below 65536) as a shard, through a temporary file."""
    tokens = np.asarray(tokens)
    if tokens.size and (tokens.min() < 0 or tokens.max() > 0xFFFF):
        raise ValueError("token ids must fit in uint16")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[0], header[1], header[2] = MAGIC, VERSION, tokens.size
    _write_atomic(path, header.tobytes() + tokens.astype("<u2").tobytes())


def train_shards(data_dir=DATA_DIR):
    """The training shards, sorted."""
    return sorted(glob.glob(os.path.join(data_dir, "fineweb_train_*.bin")))


def _write_atomic(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---------------------------------------------------------------- model_config.json

DEFAULTS = {
    "n_kv_head": None,
    "head_dim": None,
    "mlp_ratio": 4.0,
    "mlp_hidden": None,
    "activation": "relu2",
    "position": "rotary",
    "rotary_base": 10000.0,
    "block_size": None,
    "qk_norm": True,
    "tie_embeddings": False,
    "norm": "rms",
    "norm_affine": False,
    "norm_eps": float(np.finfo(np.float32).eps),
    "embed_norm": True,
    "bias": False,
    "logit_softcap": None,
    "attn_scale": None,
}
REQUIRED = ("vocab_size", "n_layer", "n_head", "n_embd")
ACTIVATIONS = ("relu2", "relu", "gelu", "gelu_tanh", "silu", "swiglu")
POSITIONS = ("rotary", "learned", "none")
NORMS = ("rms", "layer")


def complete_config(cfg):
    """``cfg`` with every default filled in and derived sizes added (``_head_dim``,
    ``_kv``, ``_hidden``, ``_scale``); raises ValueError naming the field."""
    unknown = sorted(set(cfg) - set(DEFAULTS) - set(REQUIRED))
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; see the task description for the fields")
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise ValueError(f"missing field(s) {missing}")
    c = dict(DEFAULTS)
    c.update(cfg)
    for k in REQUIRED:
        if not isinstance(c[k], int) or isinstance(c[k], bool) or c[k] < (0 if k == "n_layer" else 1):
            raise ValueError(f"field `{k}`: {c[k]!r} must be a positive integer")
    if c["activation"] not in ACTIVATIONS:
        raise ValueError(f"field `activation`: {c['activation']!r} is not one of {ACTIVATIONS}")
    if c["position"] not in POSITIONS:
        raise ValueError(f"field `position`: {c['position']!r} is not one of {POSITIONS}")
    if c["norm"] not in NORMS:
        raise ValueError(f"field `norm`: {c['norm']!r} is not one of {NORMS}")
    if c["head_dim"] is None and c["n_embd"] % c["n_head"]:
        raise ValueError("field `n_embd`: not a multiple of `n_head`; set `head_dim` or change one")
    hd = c["head_dim"] or c["n_embd"] // c["n_head"]
    kv = c["n_kv_head"] or c["n_head"]
    if c["n_head"] % kv:
        raise ValueError(f"field `n_kv_head`: {kv} does not divide `n_head` {c['n_head']}")
    if c["position"] == "rotary" and hd % 2:
        raise ValueError(f"field `head_dim`: rotary embeddings need an even head width, got {hd}")
    if c["position"] == "learned" and not c["block_size"]:
        raise ValueError("field `block_size`: required with position `learned` (at least 1024)")
    if c["position"] != "learned" and c["block_size"] is not None:
        raise ValueError("field `block_size`: only used with position `learned`; remove it")
    # Rust's f64::round rounds halves away from zero; so does floor(x + 0.5) for x > 0.
    hidden = c["mlp_hidden"] or int(math.floor(c["mlp_ratio"] * c["n_embd"] + 0.5))
    if hidden < 1:
        raise ValueError("field `mlp_ratio`/`mlp_hidden`: the MLP needs at least one unit")
    c["_head_dim"], c["_kv"], c["_hidden"] = hd, kv, hidden
    c["_scale"] = c["attn_scale"] or 1.0 / math.sqrt(hd)
    return c


def public_config(cfg):
    """The fields of ``cfg`` worth writing to ``model_config.json`` (no derived ones)."""
    return {k: v for k, v in cfg.items() if not k.startswith("_") and v is not None}


def tensor_shapes(cfg):
    """Every tensor of the model ``cfg`` describes: an ordered dict name -> shape."""
    c = complete_config(cfg)
    d, hd, h, kv, f = c["n_embd"], c["_head_dim"], c["n_head"], c["_kv"], c["_hidden"]
    out = {"transformer.wte.weight": (c["vocab_size"], d)}

    def norm(p):
        if c["norm_affine"]:
            out[f"{p}.weight"] = (d,)
            if c["norm"] == "layer":
                out[f"{p}.bias"] = (d,)

    def linear(p, o, i):
        out[f"{p}.weight"] = (o, i)
        if c["bias"]:
            out[f"{p}.bias"] = (o,)

    if c["position"] == "learned":
        out["transformer.wpe.weight"] = (c["block_size"], d)
    if c["embed_norm"]:
        norm("transformer.ln_e")
    for i in range(c["n_layer"]):
        p = f"transformer.h.{i}"
        norm(f"{p}.ln_1")
        linear(f"{p}.attn.c_q", h * hd, d)
        linear(f"{p}.attn.c_k", kv * hd, d)
        linear(f"{p}.attn.c_v", kv * hd, d)
        linear(f"{p}.attn.c_proj", d, h * hd)
        norm(f"{p}.ln_2")
        linear(f"{p}.mlp.c_fc", f, d)
        if c["activation"] == "swiglu":
            linear(f"{p}.mlp.c_gate", f, d)
        linear(f"{p}.mlp.c_proj", d, f)
    norm("transformer.ln_f")
    if not c["tie_embeddings"]:
        out["lm_head.weight"] = (c["vocab_size"], d)
    return out


# ---------------------------------------------------------------- safetensors

_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2")}


def canonical_name(name):
    """Strips the ``module.`` (DDP) and ``_orig_mod.`` (torch.compile) prefixes."""
    while True:
        for p in ("module.", "_orig_mod."):
            if name.startswith(p):
                name = name[len(p):]
                break
        else:
            return name


def save_safetensors(path, tensors):
    """Writes ``tensors`` (name -> numpy array; float16 stays float16, anything else is
    stored as float32) as a safetensors file, through a temporary file."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        a = a.astype("<f2") if a.dtype == np.float16 else a.astype("<f4")
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {
            "dtype": "F16" if a.dtype == np.float16 else "F32",
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(b)],
        }
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    _write_atomic(path, struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_safetensors(path):
    """Reads a safetensors file: name -> float32 numpy array (float16 and bfloat16 are
    converted)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: not a safetensors file (header length {n} beyond the file)")
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        buf = data[a:b]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif info["dtype"] in _DTYPES:
            arr = np.frombuffer(buf, dtype=_DTYPES[info["dtype"]]).astype(np.float32)
        else:
            raise ValueError(f"{path}: tensor `{name}` is {info['dtype']}; use F32, F16 or BF16")
        out[name] = arr.reshape(info["shape"])
    return out


def save_submission(out_dir, cfg, tensors):
    """Writes ``model.safetensors`` (names canonicalised) and ``model_config.json``."""
    complete_config(cfg)
    os.makedirs(out_dir, exist_ok=True)
    save_safetensors(
        os.path.join(out_dir, MODEL_FILE), {canonical_name(k): v for k, v in tensors.items()}
    )
    text = json.dumps(public_config(cfg), indent=2) + "\n"
    _write_atomic(os.path.join(out_dir, CONFIG_FILE), text.encode())


def check_submission(dir_="."):
    """Loads and checks a submission as the evaluator does; returns (config, tensors) or
    raises ValueError naming the file, field or tensor."""
    cfg_path, model_path = os.path.join(dir_, CONFIG_FILE), os.path.join(dir_, MODEL_FILE)
    for p in (cfg_path, model_path):
        if not os.path.isfile(p):
            raise ValueError(f"{p}: missing; submit {MODEL_FILE} and {CONFIG_FILE}")
    with open(cfg_path) as f:
        try:
            cfg = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{cfg_path}: not JSON ({e})") from None
    try:
        c = complete_config(cfg)
    except ValueError as e:
        raise ValueError(f"{cfg_path}: {e}") from None
    raw = load_safetensors(model_path)
    w = {}
    for k, v in raw.items():
        n = canonical_name(k)
        if n in w:
            raise ValueError(f"{model_path}: tensor `{n}` appears twice")
        w[n] = v
    if c["tie_embeddings"] and "lm_head.weight" in w:
        if not np.array_equal(w.pop("lm_head.weight"), w.get("transformer.wte.weight")):
            raise ValueError(f"{model_path}: `lm_head.weight` differs from the tied embedding")
    shapes = tensor_shapes(cfg)
    missing = [n for n in shapes if n not in w]
    extra = [n for n in w if n not in shapes]
    if missing:
        raise ValueError(f"{model_path}: missing tensor(s) {missing[:6]}")
    if extra:
        raise ValueError(f"{model_path}: tensor(s) {extra[:6]} are not part of the configured model")
    for n, s in shapes.items():
        if tuple(w[n].shape) != tuple(s):
            raise ValueError(f"{model_path}: tensor `{n}` has shape {w[n].shape}, expected {s}")
        if not np.isfinite(w[n]).all():
            raise ValueError(f"{model_path}: tensor `{n}` holds NaN or infinite values")
    return c, w


# ---------------------------------------------------------------- the model in numpy


def _erf(x):
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf of its own.
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return s * y


def _norm(c, w, prefix, x):
    eps = c["norm_eps"]
    if c["norm"] == "rms":
        y = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    else:
        xc = x - x.mean(-1, keepdims=True)
        y = xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)
    if f"{prefix}.weight" in w:
        y = y * w[f"{prefix}.weight"]
    if f"{prefix}.bias" in w:
        y = y + w[f"{prefix}.bias"]
    return y


def _linear(w, prefix, x):
    y = x @ w[f"{prefix}.weight"].T
    b = w.get(f"{prefix}.bias")
    return y if b is None else y + b


def _rotate(c, x):
    # x: [B, T, H, hd]; halves rotated as modded-nanogpt does, tables in float32.
    t, hd = x.shape[1], x.shape[3]
    inv = 1.0 / np.float32(c["rotary_base"]) ** (np.arange(0, hd // 2, dtype=np.float32) * 2 / np.float32(hd))
    ang = np.arange(t, dtype=np.float32)[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[None, :, None, :], np.sin(ang)[None, :, None, :]
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return np.concatenate([x1 * cos + x2 * sin, x2 * cos - x1 * sin], axis=-1)


def forward(c, w, idx):
    """Logits ``[B, T, vocab]`` of token ids ``idx`` ``[B, T]`` for a completed config
    ``c`` and canonical weights ``w`` (as returned by ``check_submission``)."""
    idx = np.asarray(idx)
    bsz, t = idx.shape
    h, kv, hd = c["n_head"], c["_kv"], c["_head_dim"]
    x = w["transformer.wte.weight"][idx]
    if c["position"] == "learned":
        x = x + w["transformer.wpe.weight"][:t]
    if c["embed_norm"]:
        x = _norm(c, w, "transformer.ln_e", x)
    mask = np.triu(np.ones((t, t), dtype=bool), 1)
    for i in range(c["n_layer"]):
        p = f"transformer.h.{i}"
        a = _norm(c, w, f"{p}.ln_1", x)
        q = _linear(w, f"{p}.attn.c_q", a).reshape(bsz, t, h, hd)
        k = _linear(w, f"{p}.attn.c_k", a).reshape(bsz, t, kv, hd)
        v = _linear(w, f"{p}.attn.c_v", a).reshape(bsz, t, kv, hd)
        if c["qk_norm"]:
            q = q / np.sqrt((q * q).mean(-1, keepdims=True) + c["norm_eps"])
            k = k / np.sqrt((k * k).mean(-1, keepdims=True) + c["norm_eps"])
        if c["position"] == "rotary":
            q, k = _rotate(c, q), _rotate(c, k)
        k, v = np.repeat(k, h // kv, axis=2), np.repeat(v, h // kv, axis=2)
        s = np.einsum("bthd,bshd->bhts", q * c["_scale"], k)
        s = np.where(mask, -np.inf, s)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        y = np.einsum("bhts,bshd->bthd", s, v).reshape(bsz, t, h * hd)
        x = x + _linear(w, f"{p}.attn.c_proj", y)
        m = _norm(c, w, f"{p}.ln_2", x)
        z = _linear(w, f"{p}.mlp.c_fc", m)
        act = c["activation"]
        if act == "relu2":
            z = np.maximum(z, 0) ** 2
        elif act == "relu":
            z = np.maximum(z, 0)
        elif act == "gelu":
            z = 0.5 * z * (1 + _erf(z / math.sqrt(2)))
        elif act == "gelu_tanh":
            z = 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
        elif act == "silu":
            z = z / (1 + np.exp(-z))
        else:
            g = _linear(w, f"{p}.mlp.c_gate", m)
            z = g / (1 + np.exp(-g)) * z
        x = x + _linear(w, f"{p}.mlp.c_proj", z)
    x = _norm(c, w, "transformer.ln_f", x)
    head = w["transformer.wte.weight"] if c["tie_embeddings"] else w["lm_head.weight"]
    logits = x @ head.T
    if c["logit_softcap"]:
        cap = c["logit_softcap"]
        logits = cap * np.tanh(logits / cap)
    return logits


def mean_loss(c, w, tokens, seq_len=SEQ_LEN, batch=1):
    """Mean next-token cross-entropy over consecutive windows of ``seq_len`` (the
    evaluator's windowing) of ``tokens`` (``n * seq_len + 1`` of them)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    windows = (tokens.size - 1) // seq_len
    if windows == 0:
        raise ValueError(f"need at least {seq_len + 1} tokens")
    if tokens[: windows * seq_len + 1].max() >= c["vocab_size"]:
        raise ValueError("field `vocab_size`: too small for the tokens (GPT-2 needs 50257)")
    total = 0.0
    for w0 in range(0, windows, batch):
        b = min(batch, windows - w0)
        base = w0 * seq_len
        x = tokens[base : base + b * seq_len].reshape(b, seq_len)
        y = tokens[base + 1 : base + b * seq_len + 1].reshape(b, seq_len)
        logits = forward(c, w, x).astype(np.float64)
        mx = logits.max(-1, keepdims=True)
        lse = mx[..., 0] + np.log(np.exp(logits - mx).sum(-1))
        picked = np.take_along_axis(logits, y[..., None], -1)[..., 0]
        total += float((lse - picked).sum())
    return total / (windows * seq_len)


# ---------------------------------------------------------------- a unigram submission


def unigram_submission(out_dir=".", tokens=10_000_000, vocab_size=50304, n_embd=64, data_dir=DATA_DIR):
    """A model without blocks whose logits are the log-frequencies of the first
    ``tokens`` training tokens (add-one smoothed), whatever the input: every embedding
    row is the first unit vector, and the head's first column holds the log-frequencies
    divided by the normalised embedding's first coordinate."""
    counts = np.ones(vocab_size, dtype=np.float64)
    left = tokens
    for path in train_shards(data_dir):
        if left <= 0:
            break
        t = read_shard(path)[:left]
        counts += np.bincount(t, minlength=vocab_size)[:vocab_size]
        left -= t.size
    logp = np.log(counts / counts.sum())
    cfg = {"vocab_size": vocab_size, "n_layer": 0, "n_head": 1, "n_embd": n_embd}
    c = complete_config(cfg)
    wte = np.zeros((vocab_size, n_embd), dtype=np.float32)
    wte[:, 0] = 1.0
    w = {"transformer.wte.weight": wte, "lm_head.weight": np.zeros_like(wte)}
    # The normalised embedding (embed norm, then final norm) of any token.
    e = forward(c, {**w, "lm_head.weight": np.eye(n_embd, dtype=np.float32)}, np.zeros((1, 1), dtype=np.int64))[0, 0]
    w["lm_head.weight"][:, 0] = (logp / e[0]).astype(np.float32)
    save_submission(out_dir, cfg, w)
    return cfg, w


# ---------------------------------------------------------------- command line


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check", help="check a submission as the evaluator will")
    p.add_argument("dir", nargs="?", default=".")
    p = sub.add_parser("loss", help="numpy val_loss of a submission (slow)")
    p.add_argument("dir", nargs="?", default=".")
    p.add_argument("--tokens", type=int, default=4 * SEQ_LEN, help="validation tokens scored")
    p.add_argument("--data-dir", default=DATA_DIR)
    p = sub.add_parser("unigram", help="write a unigram submission")
    p.add_argument("--out", default=".")
    p.add_argument("--tokens", type=int, default=10_000_000, help="training tokens counted")
    p.add_argument("--data-dir", default=DATA_DIR)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "check":
            c, w = check_submission(a.dir)
            n = sum(v.size for v in w.values())
            print(f"ok: {c['n_layer']} layers, width {c['n_embd']}, {n / 1e6:.2f}M parameters")
        elif a.cmd == "loss":
            c, w = check_submission(a.dir)
            n = max(SEQ_LEN, min(a.tokens, VAL_TOKENS)) // SEQ_LEN * SEQ_LEN
            val = read_shard(os.path.join(a.data_dir, VAL_FILE))[: n + 1]
            print(f"val_loss over the first {n} tokens: {mean_loss(c, w, val):.6f}")
        else:
            unigram_submission(a.out, a.tokens, data_dir=a.data_dir)
            print(f"wrote {MODEL_FILE} and {CONFIG_FILE} to {a.out}")
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
