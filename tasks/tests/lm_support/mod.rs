//! Shared by the language-model tests: synthetic token streams and staged shards, small
//! configs, and an independent reference of the model's loss (plain f64 loops, one token
//! at a time, with its own key/value cache) to check the candle evaluator against.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Tensor;
use mlgym_tasks::datasets::fineweb;
use mlgym_tasks::lm::config::{Activation, ModelConfig, NormKind, Position};
use mlgym_tasks::lm::shards;
use mlgym_tasks::rng::Rng;

/// A learnable stream: mostly `next = (7·prev + 3) mod vocab`, sometimes random.
pub fn markov_tokens(n: usize, vocab: u16, seed: u64) -> Vec<u16> {
    let mut r = Rng::new(seed);
    let mut t = 0u16;
    (0..n)
        .map(|_| {
            t = if r.bernoulli(0.85) {
                ((u32::from(t) * 7 + 3) % u32::from(vocab)) as u16
            } else {
                r.below(u64::from(vocab)) as u16
            };
            t
        })
        .collect()
}

/// Writes `val` and one training shard per entry of `train` into `dir` (MLGym's names).
pub fn write_shards(dir: &Path, val: &[u16], train: &[Vec<u16>]) {
    std::fs::create_dir_all(dir).unwrap();
    shards::write(&dir.join(fineweb::VAL_FILE), val).unwrap();
    for (i, t) in train.iter().enumerate() {
        shards::write(&dir.join(fineweb::train_name(i + 1)), t).unwrap();
    }
}

/// Stages synthetic FineWeb under `root`: a validation shard of `val_tokens` tokens and
/// `train_shards` training shards of `train_tokens` tokens, over `vocab` ids.
pub fn stage_synthetic(
    root: &Path,
    vocab: u16,
    val_tokens: usize,
    train_shards: usize,
    train_tokens: usize,
) -> Vec<u16> {
    let src = tempfile::tempdir().unwrap();
    let val = markov_tokens(val_tokens, vocab, 1);
    let train: Vec<Vec<u16>> = (0..train_shards)
        .map(|i| markov_tokens(train_tokens, vocab, 100 + i as u64))
        .collect();
    write_shards(src.path(), &val, &train);
    fineweb::import(src.path(), root).unwrap();
    val
}

/// MLGym's architecture at toy size.
pub fn tiny(vocab: usize) -> ModelConfig {
    ModelConfig::small(vocab, 2, 2, 16)
}

/// A config exercising every option away from its default.
pub fn exotic(vocab: usize) -> ModelConfig {
    ModelConfig {
        n_kv_head: Some(1),
        head_dim: Some(6),
        mlp_hidden: Some(20),
        activation: Activation::Swiglu,
        position: Position::Learned,
        block_size: Some(64),
        qk_norm: false,
        tie_embeddings: true,
        norm: NormKind::Layer,
        norm_affine: true,
        norm_eps: 1e-5,
        embed_norm: false,
        bias: true,
        logit_softcap: Some(3.0),
        attn_scale: Some(0.3),
        ..ModelConfig::small(vocab, 2, 2, 12)
    }
}

/// Random weights of every tensor of `cfg` (none zero), so that every path matters.
pub fn random_weights(cfg: &ModelConfig, seed: u64, scale: f64) -> BTreeMap<String, Tensor> {
    let mut r = Rng::new(seed);
    mlgym_tasks::lm::model::tensor_specs(cfg)
        .into_iter()
        .map(|s| {
            let n: usize = s.shape.iter().product();
            let v: Vec<f32> = (0..n).map(|_| (r.normal() * scale) as f32).collect();
            (
                s.name,
                Tensor::from_vec(v, s.shape, &candle_core::Device::Cpu).unwrap(),
            )
        })
        .collect()
}

// ------------------------------------------------------------ reference loss

type W = BTreeMap<String, Vec<f64>>;

fn erf(x: f64) -> f64 {
    // Abramowitz & Stegun 7.1.26 is only 1.5e-7 accurate; use the series/continued
    // fraction pair instead (accurate to ~1e-15 for the magnitudes seen here).
    if x.abs() < 3.0 {
        let mut sum = x;
        let mut term = x;
        let x2 = x * x;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -x2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() < 1e-17 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc continued fraction (Lentz), for |x| >= 3.
        let ax = x.abs();
        let mut f = ax;
        for k in (1..60).rev() {
            f = ax + (k as f64 / 2.0) / f;
        }
        let erfc = (-ax * ax).exp() / (f * std::f64::consts::PI.sqrt());
        x.signum() * (1.0 - erfc)
    }
}

fn norm(cfg: &ModelConfig, w: &W, prefix: &str, x: &[f64]) -> Vec<f64> {
    let d = x.len() as f64;
    let mut y: Vec<f64> = match cfg.norm {
        NormKind::Rms => {
            let ms = x.iter().map(|v| v * v).sum::<f64>() / d;
            x.iter().map(|v| v / (ms + cfg.norm_eps).sqrt()).collect()
        }
        NormKind::Layer => {
            let m = x.iter().sum::<f64>() / d;
            let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / d;
            x.iter()
                .map(|v| (v - m) / (var + cfg.norm_eps).sqrt())
                .collect()
        }
    };
    if let Some(g) = w.get(&format!("{prefix}.weight")) {
        y.iter_mut().zip(g).for_each(|(a, b)| *a *= b);
    }
    if let Some(b) = w.get(&format!("{prefix}.bias")) {
        y.iter_mut().zip(b).for_each(|(a, b)| *a += b);
    }
    y
}

fn linear(w: &W, prefix: &str, x: &[f64]) -> Vec<f64> {
    let m = &w[&format!("{prefix}.weight")];
    let k = x.len();
    let mut y: Vec<f64> = m
        .chunks(k)
        .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
        .collect();
    if let Some(b) = w.get(&format!("{prefix}.bias")) {
        y.iter_mut().zip(b).for_each(|(a, b)| *a += b);
    }
    y
}

fn rms(x: &mut [f64], eps: f64) {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let r = 1.0 / (ms + eps).sqrt();
    x.iter_mut().for_each(|v| *v *= r);
}

fn rotate(cfg: &ModelConfig, x: &mut [f64], pos: usize) {
    let hd = x.len();
    let half = hd / 2;
    for i in 0..half {
        let inv = 1.0 / cfg.rotary_base.powf((2 * i) as f64 / hd as f64);
        let (s, c) = (pos as f64 * inv).sin_cos();
        let (x1, x2) = (x[i], x[i + half]);
        x[i] = x1 * c + x2 * s;
        x[i + half] = -x1 * s + x2 * c;
    }
}

fn act(cfg: &ModelConfig, w: &W, prefix: &str, h: &[f64], x: &[f64]) -> Vec<f64> {
    let silu = |v: f64| v / (1.0 + (-v).exp());
    match cfg.activation {
        Activation::Relu2 => h.iter().map(|v| v.max(0.0).powi(2)).collect(),
        Activation::Relu => h.iter().map(|v| v.max(0.0)).collect(),
        Activation::Gelu => h
            .iter()
            .map(|v| 0.5 * v * (1.0 + erf(v / 2f64.sqrt())))
            .collect(),
        Activation::GeluTanh => h
            .iter()
            .map(|v| {
                0.5 * v
                    * (1.0
                        + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh())
            })
            .collect(),
        Activation::Silu => h.iter().map(|&v| silu(v)).collect(),
        Activation::Swiglu => {
            let g = linear(w, &format!("{prefix}.c_gate"), x);
            g.iter().zip(h).map(|(&a, b)| silu(a) * b).collect()
        }
    }
}

/// Mean next-token loss of the model over `tokens` (`n·seq + 1` of them), computed one
/// token at a time with a key/value cache, in f64.
pub fn reference_loss(
    cfg: &ModelConfig,
    weights: &BTreeMap<String, Tensor>,
    tokens: &[u16],
    seq: usize,
) -> f64 {
    let w: W = weights
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                t.flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .into_iter()
                    .map(f64::from)
                    .collect(),
            )
        })
        .collect();
    let (d, h, kv, hd) = (cfg.n_embd, cfg.n_head, cfg.kv_heads(), cfg.head_dim());
    let head = if cfg.tie_embeddings {
        &w["transformer.wte.weight"]
    } else {
        &w["lm_head.weight"]
    };
    let windows = (tokens.len() - 1) / seq;
    let mut total = 0.0;
    for win in 0..windows {
        let mut keys: Vec<Vec<Vec<f64>>> = vec![Vec::new(); cfg.n_layer];
        let mut values: Vec<Vec<Vec<f64>>> = vec![Vec::new(); cfg.n_layer];
        for t in 0..seq {
            let tok = usize::from(tokens[win * seq + t]);
            let target = usize::from(tokens[win * seq + t + 1]);
            let mut x: Vec<f64> = w["transformer.wte.weight"][tok * d..(tok + 1) * d].to_vec();
            if cfg.position == Position::Learned {
                let p = &w["transformer.wpe.weight"][t * d..(t + 1) * d];
                x.iter_mut().zip(p).for_each(|(a, b)| *a += b);
            }
            if cfg.embed_norm {
                x = norm(cfg, &w, "transformer.ln_e", &x);
            }
            for l in 0..cfg.n_layer {
                let p = format!("transformer.h.{l}");
                let hn = norm(cfg, &w, &format!("{p}.ln_1"), &x);
                let mut q = linear(&w, &format!("{p}.attn.c_q"), &hn);
                let mut k = linear(&w, &format!("{p}.attn.c_k"), &hn);
                let v = linear(&w, &format!("{p}.attn.c_v"), &hn);
                for (z, heads) in [(&mut q, h), (&mut k, kv)] {
                    for j in 0..heads {
                        let s = &mut z[j * hd..(j + 1) * hd];
                        if cfg.qk_norm {
                            rms(s, cfg.norm_eps);
                        }
                        if cfg.position == Position::Rotary {
                            rotate(cfg, s, t);
                        }
                    }
                }
                keys[l].push(k);
                values[l].push(v);
                let mut y = vec![0.0; h * hd];
                for j in 0..h {
                    let g = j / (h / kv);
                    let qj = &q[j * hd..(j + 1) * hd];
                    let scores: Vec<f64> = keys[l]
                        .iter()
                        .map(|ks| {
                            ks[g * hd..(g + 1) * hd]
                                .iter()
                                .zip(qj)
                                .map(|(a, b)| a * b)
                                .sum::<f64>()
                                * cfg.attn_scale()
                        })
                        .collect();
                    let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for (s, vs) in values[l].iter().enumerate() {
                        for i in 0..hd {
                            y[j * hd + i] += e[s] / z * vs[g * hd + i];
                        }
                    }
                }
                let a = linear(&w, &format!("{p}.attn.c_proj"), &y);
                x.iter_mut().zip(&a).for_each(|(u, b)| *u += b);
                let hn = norm(cfg, &w, &format!("{p}.ln_2"), &x);
                let f = linear(&w, &format!("{p}.mlp.c_fc"), &hn);
                let f = act(cfg, &w, &format!("{p}.mlp"), &f, &hn);
                let m = linear(&w, &format!("{p}.mlp.c_proj"), &f);
                x.iter_mut().zip(&m).for_each(|(u, b)| *u += b);
            }
            let x = norm(cfg, &w, "transformer.ln_f", &x);
            let logits: Vec<f64> = head
                .chunks(d)
                .map(|row| {
                    let v: f64 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
                    match cfg.logit_softcap {
                        Some(c) => c * (v / c).tanh(),
                        None => v,
                    }
                })
                .collect();
            let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + logits.iter().map(|l| (l - m).exp()).sum::<f64>().ln();
            total += lse - logits[target];
        }
    }
    total / (windows * seq) as f64
}
