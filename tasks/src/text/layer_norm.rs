//! BERT's LayerNorm as a candle custom op with a backward pass.
//!
//! candle's fused `candle_nn::ops::layer_norm` (what candle-transformers' BERT calls) has
//! no backward pass, so gradients stop at the first LayerNorm. This op computes the same
//! forward with the same `f32` arithmetic (row sums of `x` and `x²`, `var = E[x²] −
//! mean²`), so its outputs equal candle's bit for bit, and adds the analytic gradients of
//! the input, the weight (γ) and the bias (β). Rows are reduced in fixed chunks and the
//! chunks summed in order, so the gradients are deterministic whatever the thread count.
//! Non-`f32` or non-CPU tensors take candle's composed (differentiable) path.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Module, Shape, Tensor};
use candle_nn::VarBuilder;
use mlgym_kernels::cpu_op::{f32s, with_f32};
use rayon::prelude::*;

/// Rows handed to one rayon task (fixed, so that reductions do not depend on threads).
const ROWS_PER_TASK: usize = 16;

struct LayerNormOp {
    eps: f32,
}

/// Mean and `1/std` of one row, exactly as candle's fused kernel computes them.
fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
    let mut sum = 0f32;
    let mut sum2 = 0f32;
    for &v in row {
        sum += v;
        sum2 += v * v;
    }
    let n = row.len() as f32;
    let mean = sum / n;
    let var = sum2 / n - mean * mean;
    (mean, (var + eps).sqrt().recip())
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "bert-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32s(self.name(), "input", s1, l1)?;
        let gamma = f32s(self.name(), "weight", s2, l2)?;
        let beta = f32s(self.name(), "bias", s3, l3)?;
        let d = gamma.len().max(1);
        let mut y = vec![0f32; x.len()];
        let eps = self.eps;
        y.par_chunks_mut(d * ROWS_PER_TASK)
            .zip(x.par_chunks(d * ROWS_PER_TASK))
            .for_each(|(yc, xc)| {
                for (yr, xr) in yc.chunks_mut(d).zip(xc.chunks(d)) {
                    let (mean, inv_std) = row_stats(xr, eps);
                    for ((o, &v), (&a, &b)) in yr.iter_mut().zip(xr).zip(gamma.iter().zip(beta)) {
                        *o = (v - mean) * inv_std * a + b;
                    }
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = gamma.elem_count().max(1);
        let eps = self.eps;
        let name = self.name();
        // Per chunk of rows: dx for those rows, and partial sums of dγ and dβ.
        let (dx, dgamma, dbeta) = with_f32(name, "x", x, |xv| {
            with_f32(name, "weight", gamma, |gm| {
                with_f32(name, "gradient", g, |gv| {
                    let mut dx = vec![0f32; xv.len()];
                    let partial: Vec<(Vec<f32>, Vec<f32>)> = dx
                        .par_chunks_mut(d * ROWS_PER_TASK)
                        .zip(xv.par_chunks(d * ROWS_PER_TASK))
                        .zip(gv.par_chunks(d * ROWS_PER_TASK))
                        .map(|((dc, xc), gc)| {
                            let mut dg = vec![0f32; d];
                            let mut db = vec![0f32; d];
                            for ((dr, xr), gr) in
                                dc.chunks_mut(d).zip(xc.chunks(d)).zip(gc.chunks(d))
                            {
                                let (mean, inv_std) = row_stats(xr, eps);
                                // x̂ = (x − mean)·r, y = x̂·γ + β; with h = g·γ:
                                // dx = r·(h − mean(h) − x̂·mean(h·x̂)).
                                let mut mh = 0f32;
                                let mut mhx = 0f32;
                                for i in 0..d {
                                    let xh = (xr[i] - mean) * inv_std;
                                    let h = gr[i] * gm[i];
                                    mh += h;
                                    mhx += h * xh;
                                    dg[i] += gr[i] * xh;
                                    db[i] += gr[i];
                                }
                                mh /= d as f32;
                                mhx /= d as f32;
                                for i in 0..d {
                                    let xh = (xr[i] - mean) * inv_std;
                                    dr[i] = inv_std * (gr[i] * gm[i] - mh - xh * mhx);
                                }
                            }
                            (dg, db)
                        })
                        .collect();
                    let mut dgamma = vec![0f32; d];
                    let mut dbeta = vec![0f32; d];
                    for (dg, db) in &partial {
                        for i in 0..d {
                            dgamma[i] += dg[i];
                            dbeta[i] += db[i];
                        }
                    }
                    (dx, dgamma, dbeta)
                })
            })
        })???;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dgamma, gamma.shape(), dev)?),
            Some(Tensor::from_vec(dbeta, gamma.shape(), dev)?),
        ))
    }
}

/// Layer normalisation of `x` over its last dimension with weight `gamma` and bias
/// `beta` (both as wide as that dimension): candle's fused LayerNorm, differentiable.
pub fn layer_norm(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
) -> candle_core::Result<Tensor> {
    let width = x.dims().last().copied().unwrap_or(0);
    if gamma.dims() != [width] || beta.dims() != [width] {
        candle_core::bail!(
            "layer norm: input {:?} needs weight and bias of shape [{width}], got {:?} and {:?}",
            x.shape(),
            gamma.shape(),
            beta.shape()
        );
    }
    let fused = [x, gamma, beta]
        .iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32);
    if fused {
        x.contiguous()?.apply_op3(
            &gamma.contiguous()?,
            &beta.contiguous()?,
            LayerNormOp { eps: eps as f32 },
        )
    } else {
        candle_nn::ops::layer_norm_slow(x, gamma, beta, eps as f32)
    }
}

/// A LayerNorm module (weight and bias) backed by [`layer_norm`].
#[derive(Clone, Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads `weight` and `bias` of width `size` from `vb`, accepting the legacy names
    /// `gamma` and `beta` of checkpoints converted from TensorFlow (as candle does).
    pub fn load(size: usize, eps: f64, vb: VarBuilder<'_>) -> candle_core::Result<LayerNorm> {
        let pick = |names: [&'static str; 2]| {
            names
                .into_iter()
                .find(|n| vb.contains_tensor(n))
                .unwrap_or(names[0])
        };
        let weight =
            vb.get_with_hints(size, pick(["weight", "gamma"]), candle_nn::Init::Const(1.0))?;
        let bias = vb.get_with_hints(size, pick(["bias", "beta"]), candle_nn::Init::Const(0.0))?;
        Ok(LayerNorm { weight, bias, eps })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}
