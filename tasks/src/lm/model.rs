//! The GPT family of [`ModelConfig`] in candle: MLGym's baseline (modded-nanogpt of
//! October 2024) and its usual variations, with PyTorch's state-dict names so that a
//! `model.state_dict()` saved with safetensors loads as is.
//!
//! ```text
//! x = wte[idx] (+ wpe[pos])            ; norm(x) if embed_norm
//! per block: x = x + c_proj(attn(norm(x)))      q,k: [qk_norm] -> [rotary]
//!            x = x + mlp(norm(x))
//! logits = lm_head(norm(x))  (wte when tied)     ; cap·tanh(logits/cap) if softcapped
//! ```
//!
//! Rotary follows modded-nanogpt exactly: `inv_freq = 1 / base^(2i/d)`, halves
//! `x1 = x[..d/2]`, `x2 = x[d/2..]`, `y1 = x1·cos + x2·sin`, `y2 = −x1·sin + x2·cos`.
//! Evaluation runs in f32 throughout. In training with bf16 compute (the default on a GPU,
//! `train::Compute`) the linear layers and attention matmuls run in bf16 (as under
//! PyTorch's autocast); the residual stream, norms, softmax and logits stay f32.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Result, Tensor, D};

use super::config::{Activation, ModelConfig, NormKind, Position};
use super::ops;
use crate::rng::Rng;

/// How a parameter is initialised for training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Normal with this standard deviation.
    Normal(f64),
    /// Uniform in ±bound (PyTorch's `nn.Linear` default: `1/sqrt(fan_in)`).
    Uniform(f64),
    /// Zeros (MLGym's output projections and head).
    Zeros,
    /// Ones (norm weights).
    Ones,
}

/// One tensor a config implies: its name, shape and initialisation.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    /// State-dict name, e.g. `transformer.h.0.attn.c_q.weight`.
    pub name: String,
    /// Shape (PyTorch's: `nn.Linear` weights are `[out, in]`).
    pub shape: Vec<usize>,
    /// Training initialisation.
    pub init: Init,
}

fn spec(name: String, shape: Vec<usize>, init: Init) -> TensorSpec {
    TensorSpec { name, shape, init }
}

fn norm_specs(cfg: &ModelConfig, prefix: &str, out: &mut Vec<TensorSpec>) {
    if cfg.norm_affine {
        out.push(spec(
            format!("{prefix}.weight"),
            vec![cfg.n_embd],
            Init::Ones,
        ));
        if cfg.norm == NormKind::Layer {
            out.push(spec(
                format!("{prefix}.bias"),
                vec![cfg.n_embd],
                Init::Zeros,
            ));
        }
    }
}

fn linear_specs(
    cfg: &ModelConfig,
    prefix: &str,
    out_dim: usize,
    in_dim: usize,
    zero: bool,
    out: &mut Vec<TensorSpec>,
) {
    let bound = 1.0 / (in_dim as f64).sqrt();
    let init = if zero {
        Init::Zeros
    } else {
        Init::Uniform(bound)
    };
    out.push(spec(
        format!("{prefix}.weight"),
        vec![out_dim, in_dim],
        init,
    ));
    if cfg.bias {
        out.push(spec(
            format!("{prefix}.bias"),
            vec![out_dim],
            if zero {
                Init::Zeros
            } else {
                Init::Uniform(bound)
            },
        ));
    }
}

/// Every tensor of `cfg`, in a fixed order (embeddings, blocks, final norm, head).
pub fn tensor_specs(cfg: &ModelConfig) -> Vec<TensorSpec> {
    let (d, hd, h, kv, f) = (
        cfg.n_embd,
        cfg.head_dim(),
        cfg.n_head,
        cfg.kv_heads(),
        cfg.mlp_hidden(),
    );
    let mut out = vec![spec(
        "transformer.wte.weight".into(),
        vec![cfg.vocab_size, d],
        Init::Normal(1.0),
    )];
    if let (Position::Learned, Some(b)) = (cfg.position, cfg.block_size) {
        out.push(spec(
            "transformer.wpe.weight".into(),
            vec![b, d],
            Init::Normal(0.02),
        ));
    }
    if cfg.embed_norm {
        norm_specs(cfg, "transformer.ln_e", &mut out);
    }
    for i in 0..cfg.n_layer {
        let p = format!("transformer.h.{i}");
        norm_specs(cfg, &format!("{p}.ln_1"), &mut out);
        linear_specs(cfg, &format!("{p}.attn.c_q"), h * hd, d, false, &mut out);
        linear_specs(cfg, &format!("{p}.attn.c_k"), kv * hd, d, false, &mut out);
        linear_specs(cfg, &format!("{p}.attn.c_v"), kv * hd, d, false, &mut out);
        linear_specs(cfg, &format!("{p}.attn.c_proj"), d, h * hd, true, &mut out);
        norm_specs(cfg, &format!("{p}.ln_2"), &mut out);
        linear_specs(cfg, &format!("{p}.mlp.c_fc"), f, d, false, &mut out);
        if cfg.activation == Activation::Swiglu {
            linear_specs(cfg, &format!("{p}.mlp.c_gate"), f, d, false, &mut out);
        }
        linear_specs(cfg, &format!("{p}.mlp.c_proj"), d, f, true, &mut out);
    }
    norm_specs(cfg, "transformer.ln_f", &mut out);
    if !cfg.tie_embeddings {
        out.push(spec(
            "lm_head.weight".into(),
            vec![cfg.vocab_size, d],
            Init::Zeros,
        ));
    }
    out
}

/// Freshly initialised parameters of `cfg` (f32, on the CPU) drawn from `rng`.
pub fn init_weights(cfg: &ModelConfig, rng: &mut Rng) -> Result<BTreeMap<String, Tensor>> {
    let mut out = BTreeMap::new();
    for s in tensor_specs(cfg) {
        let n: usize = s.shape.iter().product();
        let v: Vec<f32> = match s.init {
            Init::Normal(std) => (0..n).map(|_| (rng.normal() * std) as f32).collect(),
            Init::Uniform(b) => (0..n)
                .map(|_| ((rng.next_f64() * 2.0 - 1.0) * b) as f32)
                .collect(),
            Init::Zeros => vec![0.0; n],
            Init::Ones => vec![1.0; n],
        };
        out.insert(s.name, Tensor::from_vec(v, s.shape, &Device::Cpu)?);
    }
    Ok(out)
}

struct Norm {
    weight: Option<Tensor>,
    bias: Option<Tensor>,
}

struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

struct Block {
    ln_1: Norm,
    c_q: Linear,
    c_k: Linear,
    c_v: Linear,
    attn_proj: Linear,
    ln_2: Norm,
    c_fc: Linear,
    c_gate: Option<Linear>,
    mlp_proj: Linear,
}

/// A GPT whose tensors are borrowed from a name → tensor map (plain tensors for
/// evaluation, `Var`s' tensors for training).
pub struct Gpt {
    cfg: ModelConfig,
    compute: DType,
    wte: Tensor,
    wpe: Option<Tensor>,
    ln_e: Norm,
    blocks: Vec<Block>,
    ln_f: Norm,
    head: Tensor,
}

impl std::fmt::Debug for Gpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpt")
            .field("cfg", &self.cfg)
            .field("compute", &self.compute)
            .finish_non_exhaustive()
    }
}

impl Gpt {
    /// Builds the model of `cfg` from `weights` (names of [`tensor_specs`], f32, shapes
    /// already checked); linear layers and attention compute in `compute` (f32 for
    /// evaluation, the recipe's `train::Compute` in training).
    pub fn new(
        cfg: &ModelConfig,
        weights: &BTreeMap<String, Tensor>,
        compute: DType,
    ) -> Result<Gpt> {
        let get = |n: &str| {
            weights
                .get(n)
                .cloned()
                .ok_or_else(|| candle_core::Error::Msg(format!("tensor `{n}` is missing")))
        };
        let opt = |n: &str| weights.get(n).cloned();
        let norm = |p: &str| Norm {
            weight: opt(&format!("{p}.weight")),
            bias: opt(&format!("{p}.bias")),
        };
        let linear = |p: &str| -> Result<Linear> {
            Ok(Linear {
                weight: get(&format!("{p}.weight"))?,
                bias: opt(&format!("{p}.bias")),
            })
        };
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let p = format!("transformer.h.{i}");
            blocks.push(Block {
                ln_1: norm(&format!("{p}.ln_1")),
                c_q: linear(&format!("{p}.attn.c_q"))?,
                c_k: linear(&format!("{p}.attn.c_k"))?,
                c_v: linear(&format!("{p}.attn.c_v"))?,
                attn_proj: linear(&format!("{p}.attn.c_proj"))?,
                ln_2: norm(&format!("{p}.ln_2")),
                c_fc: linear(&format!("{p}.mlp.c_fc"))?,
                c_gate: if cfg.activation == Activation::Swiglu {
                    Some(linear(&format!("{p}.mlp.c_gate"))?)
                } else {
                    None
                },
                mlp_proj: linear(&format!("{p}.mlp.c_proj"))?,
            });
        }
        let wte = get("transformer.wte.weight")?;
        let head = if cfg.tie_embeddings {
            wte.clone()
        } else {
            get("lm_head.weight")?
        };
        Ok(Gpt {
            cfg: cfg.clone(),
            compute,
            wpe: if cfg.position == Position::Learned {
                Some(get("transformer.wpe.weight")?)
            } else {
                None
            },
            ln_e: norm("transformer.ln_e"),
            ln_f: norm("transformer.ln_f"),
            wte,
            blocks,
            head,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn norm(&self, x: &Tensor, n: &Norm) -> Result<Tensor> {
        let eps = self.cfg.norm_eps;
        let y = match self.cfg.norm {
            NormKind::Rms => ops::rms_norm(x, eps)?,
            NormKind::Layer => {
                let mean = x.mean_keepdim(D::Minus1)?;
                let xc = x.broadcast_sub(&mean)?;
                let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
                xc.broadcast_div(&(var + eps)?.sqrt()?)?
            }
        };
        let y = match &n.weight {
            Some(w) => y.broadcast_mul(w)?,
            None => y,
        };
        match &n.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }

    /// `x·Wᵀ (+ b)` in the compute dtype, for `x` of any rank.
    fn linear(&self, x: &Tensor, l: &Linear) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let k = dims.last().copied().unwrap_or(1);
        let rows = x.elem_count() / k.max(1);
        let w = l.weight.to_dtype(self.compute)?;
        let y = x
            .to_dtype(self.compute)?
            .reshape((rows, k))?
            .matmul(&w.t()?)?;
        let y = match &l.bias {
            Some(b) => y.broadcast_add(&b.to_dtype(self.compute)?)?,
            None => y,
        };
        let mut out = dims;
        if let Some(last) = out.last_mut() {
            *last = l.weight.dim(0)?;
        }
        y.reshape(out)
    }

    /// Rotary tables `[T, head_dim/2]` (cos, sin), computed in f32 as PyTorch does.
    fn rotary(&self, t: usize, device: &Device) -> Result<(Tensor, Tensor)> {
        let hd = self.cfg.head_dim();
        let half = hd / 2;
        let base = self.cfg.rotary_base as f32;
        let inv: Vec<f32> = (0..half)
            .map(|i| 1.0 / base.powf((2 * i) as f32 / hd as f32))
            .collect();
        let mut cos = Vec::with_capacity(t * half);
        let mut sin = Vec::with_capacity(t * half);
        for p in 0..t {
            for f in &inv {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        let c = Tensor::from_vec(cos, (1, t, 1, half), device)?.to_dtype(self.compute)?;
        let s = Tensor::from_vec(sin, (1, t, 1, half), device)?.to_dtype(self.compute)?;
        Ok((c, s))
    }

    fn apply_rotary(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let half = x.dim(3)? / 2;
        let x1 = x.narrow(3, 0, half)?;
        let x2 = x.narrow(3, half, half)?;
        let y1 = (x1.broadcast_mul(cos)? + x2.broadcast_mul(sin)?)?;
        let y2 = (x2.broadcast_mul(cos)? - x1.broadcast_mul(sin)?)?;
        Tensor::cat(&[y1, y2], 3)
    }

    fn attention(&self, x: &Tensor, b: &Block, rope: Option<&(Tensor, Tensor)>) -> Result<Tensor> {
        let (bsz, t, _) = x.dims3()?;
        let (h, kv, hd) = (self.cfg.n_head, self.cfg.kv_heads(), self.cfg.head_dim());
        let mut q = self.linear(x, &b.c_q)?.reshape((bsz, t, h, hd))?;
        let mut k = self.linear(x, &b.c_k)?.reshape((bsz, t, kv, hd))?;
        let v = self.linear(x, &b.c_v)?.reshape((bsz, t, kv, hd))?;
        if self.cfg.qk_norm {
            q = ops::rms_norm(&q, self.cfg.norm_eps)?;
            k = ops::rms_norm(&k, self.cfg.norm_eps)?;
        }
        if let Some((cos, sin)) = rope {
            q = Self::apply_rotary(&q, cos, sin)?;
            k = Self::apply_rotary(&k, cos, sin)?;
        }
        let repeat = |z: Tensor| -> Result<Tensor> {
            if kv == h {
                return Ok(z);
            }
            z.unsqueeze(3)?
                .expand((bsz, t, kv, h / kv, hd))?
                .reshape((bsz, t, h, hd))
        };
        let q = (q.transpose(1, 2)? * self.cfg.attn_scale())?.contiguous()?;
        let k = repeat(k)?.transpose(1, 2)?.contiguous()?;
        let v = repeat(v)?.transpose(1, 2)?.contiguous()?;
        let att = ops::causal_softmax(&q.matmul(&k.t()?)?)?;
        let y = att.matmul(&v)?.transpose(1, 2)?.reshape((bsz, t, h * hd))?;
        self.linear(&y, &b.attn_proj)
    }

    fn mlp(&self, x: &Tensor, b: &Block) -> Result<Tensor> {
        let hdn = self.linear(x, &b.c_fc)?;
        let act = match self.cfg.activation {
            Activation::Relu2 => hdn.relu()?.sqr()?,
            Activation::Relu => hdn.relu()?,
            Activation::Gelu => hdn.gelu_erf()?,
            Activation::GeluTanh => hdn.gelu()?,
            Activation::Silu => hdn.silu()?,
            Activation::Swiglu => match &b.c_gate {
                Some(g) => (self.linear(x, g)?.silu()? * hdn)?,
                None => return Err(candle_core::Error::Msg("swiglu without c_gate".into())),
            },
        };
        self.linear(&act, &b.mlp_proj)
    }

    /// The final hidden states `[B, T, n_embd]` (f32, after the final norm) of token ids
    /// `idx` `[B, T]` (u32).
    pub fn hidden(&self, idx: &Tensor) -> Result<Tensor> {
        let (bsz, t) = idx.dims2()?;
        let d = self.cfg.n_embd;
        let mut x = self
            .wte
            .embedding(&idx.flatten_all()?)?
            .reshape((bsz, t, d))?;
        if let Some(wpe) = &self.wpe {
            x = x.broadcast_add(&wpe.narrow(0, 0, t)?.unsqueeze(0)?)?;
        }
        if self.cfg.embed_norm {
            x = self.norm(&x, &self.ln_e)?;
        }
        let rope = match self.cfg.position {
            Position::Rotary => Some(self.rotary(t, idx.device())?),
            _ => None,
        };
        for b in &self.blocks {
            let a = self.attention(&self.norm(&x, &b.ln_1)?, b, rope.as_ref())?;
            x = (x + a.to_dtype(DType::F32)?)?;
            let m = self.mlp(&self.norm(&x, &b.ln_2)?, b)?;
            x = (x + m.to_dtype(DType::F32)?)?;
        }
        self.norm(&x, &self.ln_f)
    }

    /// Raw logits `[N, vocab]` (f32, before any softcap) of hidden rows `h` `[N, n_embd]`.
    pub fn head_logits(&self, h: &Tensor) -> Result<Tensor> {
        let w = self.head.to_dtype(self.compute)?;
        h.to_dtype(self.compute)?
            .matmul(&w.t()?)?
            .to_dtype(DType::F32)
    }

    /// Logits `[N, vocab]` (f32, softcapped when configured) of hidden rows `h`.
    pub fn logits(&self, h: &Tensor) -> Result<Tensor> {
        let l = self.head_logits(h)?;
        match self.cfg.logit_softcap {
            Some(c) => (l / c)?.tanh()? * c,
            None => Ok(l),
        }
    }

    /// Mean next-token cross-entropy of inputs `x` against targets `y` (both `[B, T]`
    /// u32): the training loss.
    pub fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let h = self.hidden(x)?;
        let n = h.dim(0)? * h.dim(1)?;
        let logits = self.logits(&h.reshape((n, self.cfg.n_embd))?)?;
        ops::cross_entropy(&logits, &y.flatten_all()?)
    }
}
