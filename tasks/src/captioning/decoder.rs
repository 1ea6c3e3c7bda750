//! The trainable part of the captioning baseline (MLGym's `EncoderCNN` head and
//! `DecoderRNN`): image feature → linear (feature → embed) → batch norm (momentum
//! `bn_momentum`) → the first LSTM input; word embedding → one-layer LSTM → linear to the
//! vocabulary. Teacher forcing: inputs `[feature, <sos>, w1 … wn]`, targets
//! `[<sos>, w1 … wn, <eos>]` (MLGym's packed sequences), cross-entropy over the real
//! positions only (padding ignored). Greedy decoding feeds back the arg-max word.
//!
//! Parameters are initialised as PyTorch initialises the modules (linear and LSTM
//! uniform in ±1/√fan, embedding N(0, 1), batch norm γ = 1, β = 0), from our seeded
//! [`Rng`]. The LSTM cell is written from differentiable candle ops (gate order i, f, g, o
//! as PyTorch).

use candle_core::{DType, Device, Result, Tensor, Var, D};

use super::vocab::PAD;
use crate::rng::Rng;

const BN_EPS: f64 = 1e-5;

/// Sizes of the decoder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecoderConfig {
    /// Encoder feature length (2048 for ResNet-50).
    pub feature_dim: usize,
    /// Word embedding and projected-feature size (MLGym: 256).
    pub embed: usize,
    /// LSTM hidden size (MLGym: 512).
    pub hidden: usize,
    /// Vocabulary size, specials included.
    pub vocab: usize,
    /// Batch-norm running-statistics momentum (MLGym: 0.01).
    pub bn_momentum: f64,
}

/// The decoder's parameters and batch-norm statistics.
#[derive(Debug)]
pub struct Captioner {
    /// Its sizes.
    pub config: DecoderConfig,
    proj_w: Var,
    proj_b: Var,
    bn_gamma: Var,
    bn_beta: Var,
    running_mean: Tensor,
    running_var: Tensor,
    embed: Var,
    w_ih: Var,
    w_hh: Var,
    b_ih: Var,
    b_hh: Var,
    out_w: Var,
    out_b: Var,
}

fn uniform(shape: &[usize], bound: f64, rng: &mut Rng) -> Result<Var> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
        .collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn filled(shape: &[usize], value: f32) -> Result<Tensor> {
    Tensor::full(value, shape, &Device::Cpu)
}

impl Captioner {
    /// A freshly initialised decoder; `rng` draws every parameter.
    pub fn new(config: DecoderConfig, rng: &mut Rng) -> Result<Captioner> {
        let (f, e, h, v) = (
            config.feature_dim,
            config.embed,
            config.hidden,
            config.vocab,
        );
        let lin = |fan_in: usize| 1.0 / (fan_in as f64).sqrt();
        let proj_w = uniform(&[e, f], lin(f), rng)?;
        let proj_b = uniform(&[e], lin(f), rng)?;
        let embed = {
            let n = v * e;
            let vals: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
            Var::from_tensor(&Tensor::from_vec(vals, (v, e), &Device::Cpu)?)?
        };
        let k = lin(h);
        Ok(Captioner {
            config,
            proj_w,
            proj_b,
            bn_gamma: Var::from_tensor(&filled(&[e], 1.0)?)?,
            bn_beta: Var::from_tensor(&filled(&[e], 0.0)?)?,
            running_mean: filled(&[e], 0.0)?,
            running_var: filled(&[e], 1.0)?,
            embed,
            w_ih: uniform(&[4 * h, e], k, rng)?,
            w_hh: uniform(&[4 * h, h], k, rng)?,
            b_ih: uniform(&[4 * h], k, rng)?,
            b_hh: uniform(&[4 * h], k, rng)?,
            out_w: uniform(&[v, h], lin(h), rng)?,
            out_b: uniform(&[v], lin(h), rng)?,
        })
    }

    /// Every trained parameter (for the optimizer).
    pub fn params(&self) -> Vec<Var> {
        [
            &self.proj_w,
            &self.proj_b,
            &self.bn_gamma,
            &self.bn_beta,
            &self.embed,
            &self.w_ih,
            &self.w_hh,
            &self.b_ih,
            &self.b_hh,
            &self.out_w,
            &self.out_b,
        ]
        .into_iter()
        .cloned()
        .collect()
    }

    fn project(&self, feats: &Tensor) -> Result<Tensor> {
        feats
            .matmul(&self.proj_w.t()?)?
            .broadcast_add(self.proj_b.as_tensor())
    }

    /// Batch norm in training mode: batch statistics, running statistics updated.
    fn features_train(&mut self, feats: &Tensor) -> Result<Tensor> {
        let x = self.project(feats)?;
        let n = x.dim(0)?;
        let mean = x.mean_keepdim(0)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(0)?;
        let normed = centred.broadcast_div(&(var.clone() + BN_EPS)?.sqrt()?)?;
        let m = self.config.bn_momentum;
        // PyTorch tracks the unbiased variance.
        let unbiased = (var.detach().squeeze(0)? * (n as f64 / (n as f64 - 1.0).max(1.0)))?;
        self.running_mean = ((&self.running_mean * (1.0 - m))? + (mean.detach().squeeze(0)? * m)?)?;
        self.running_var = ((&self.running_var * (1.0 - m))? + (unbiased * m)?)?;
        normed
            .broadcast_mul(self.bn_gamma.as_tensor())?
            .broadcast_add(self.bn_beta.as_tensor())
    }

    /// Batch norm in evaluation mode (running statistics).
    fn features_eval(&self, feats: &Tensor) -> Result<Tensor> {
        let x = self.project(feats)?;
        x.broadcast_sub(&self.running_mean)?
            .broadcast_div(&(&self.running_var + BN_EPS)?.sqrt()?)?
            .broadcast_mul(self.bn_gamma.as_tensor())?
            .broadcast_add(self.bn_beta.as_tensor())
    }

    /// One LSTM step from the input projection `xw` (`x·W_ihᵀ + b`) and the state.
    fn cell(&self, xw: &Tensor, h: &Tensor, c: &Tensor) -> Result<(Tensor, Tensor)> {
        let hd = self.config.hidden;
        let g = (xw + h.matmul(&self.w_hh.t()?)?)?;
        let i = candle_nn::ops::sigmoid(&g.narrow(1, 0, hd)?)?;
        let f = candle_nn::ops::sigmoid(&g.narrow(1, hd, hd)?)?;
        let gg = g.narrow(1, 2 * hd, hd)?.tanh()?;
        let o = candle_nn::ops::sigmoid(&g.narrow(1, 3 * hd, hd)?)?;
        let c = ((f * c)? + (i * gg)?)?;
        let h = (o * c.tanh()?)?;
        Ok((h, c))
    }

    fn input_bias(&self) -> Result<Tensor> {
        self.b_ih.as_tensor() + self.b_hh.as_tensor()
    }

    fn zeros(&self, b: usize) -> Result<Tensor> {
        Tensor::zeros((b, self.config.hidden), DType::F32, &Device::Cpu)
    }

    /// Mean cross-entropy of the captions `tokens` (each `<sos> … <eos>`) given the
    /// features `[b, feature_dim]`, with teacher forcing; updates the batch-norm
    /// statistics.
    pub fn loss(&mut self, feats: &Tensor, tokens: &[Vec<u32>]) -> Result<Tensor> {
        let b = tokens.len();
        let t = tokens.iter().map(Vec::len).max().unwrap_or(0);
        if b == 0 || t < 2 {
            candle_core::bail!("no caption tokens in the batch");
        }
        let (e, hd) = (self.config.embed, self.config.hidden);
        let mut ids = vec![PAD; b * t];
        for (row, seq) in tokens.iter().enumerate() {
            ids[row * t..row * t + seq.len()].copy_from_slice(seq);
        }
        let ids = Tensor::from_vec(ids, (b, t), &Device::Cpu)?;
        let inputs = ids.narrow(1, 0, t - 1)?.flatten_all()?;
        let emb = self
            .embed
            .as_tensor()
            .index_select(&inputs, 0)?
            .reshape((b, t - 1, e))?;
        let first = self.features_train(feats)?.unsqueeze(1)?;
        let x = Tensor::cat(&[&first, &emb], 1)?.reshape((b * t, e))?;
        let xw = x
            .matmul(&self.w_ih.t()?)?
            .broadcast_add(&self.input_bias()?)?
            .reshape((b, t, 4 * hd))?;
        let (mut h, mut c) = (self.zeros(b)?, self.zeros(b)?);
        let mut hs = Vec::with_capacity(t);
        for step in 0..t {
            let x_t = xw.narrow(1, step, 1)?.squeeze(1)?;
            (h, c) = self.cell(&x_t, &h, &c)?;
            hs.push(h.clone());
        }
        let hs = Tensor::stack(&hs, 1)?.reshape((b * t, hd))?;
        // The real positions only, as MLGym's packed sequences.
        let (mut rows, mut targets) = (Vec::new(), Vec::new());
        for (row, seq) in tokens.iter().enumerate() {
            for (k, &tok) in seq.iter().enumerate() {
                rows.push((row * t + k) as u32);
                targets.push(tok);
            }
        }
        let n = rows.len();
        let rows = Tensor::from_vec(rows, n, &Device::Cpu)?;
        let logits = hs
            .index_select(&rows, 0)?
            .matmul(&self.out_w.t()?)?
            .broadcast_add(self.out_b.as_tensor())?;
        let targets = Tensor::from_vec(targets, n, &Device::Cpu)?;
        candle_nn::loss::cross_entropy(&logits, &targets)
    }

    /// Greedy decoding of `max_len` tokens per image of `feats` `[b, feature_dim]`
    /// (batch norm in evaluation mode).
    pub fn generate(&self, feats: &Tensor, max_len: usize) -> Result<Vec<Vec<u32>>> {
        let b = feats.dim(0)?;
        let bias = self.input_bias()?;
        let w_ih = self.w_ih.t()?;
        let mut x = self.features_eval(feats)?;
        let (mut h, mut c) = (self.zeros(b)?, self.zeros(b)?);
        let mut out = vec![Vec::with_capacity(max_len); b];
        for _ in 0..max_len {
            let xw = x.matmul(&w_ih)?.broadcast_add(&bias)?;
            (h, c) = self.cell(&xw, &h, &c)?;
            let logits = h
                .matmul(&self.out_w.t()?)?
                .broadcast_add(self.out_b.as_tensor())?;
            let tok = logits.argmax(D::Minus1)?;
            for (seq, t) in out.iter_mut().zip(tok.to_vec1::<u32>()?) {
                seq.push(t);
            }
            x = self.embed.as_tensor().index_select(&tok, 0)?;
        }
        Ok(out)
    }
}
