//! Fused CPU kernels for the GPT's hot element-wise steps, as candle custom ops with
//! backward passes (so the same code serves training and evaluation):
//!
//! * [`rms_norm`]: `x / sqrt(mean(x²) + eps)` over the last dimension, no weight;
//! * [`causal_softmax`]: softmax of each row `i` of the last two dimensions over the
//!   columns `j <= i`, zero above the diagonal (the causal mask, fused);
//! * [`cross_entropy`]: mean cross-entropy of `[N, V]` logits against `N` targets;
//! * [`ce_rows`]: per-row cross-entropy in `f64` for the evaluator (no tensor).
//!
//! Each op runs its kernel for contiguous `f32` CPU tensors and falls back to composed
//! candle operations elsewhere (bf16, CUDA), which candle differentiates itself. Every op
//! computes in f32 whatever its input's dtype (a bf16 input is widened first and the
//! result narrowed back), as PyTorch's autocast does for norms, softmax and the loss.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Tensor, D};
use mlgym_kernels::cpu_op::{f32s, with_f32};
use rayon::prelude::*;

/// Rows handed to one rayon task.
const ROWS_PER_TASK: usize = 16;

fn fused(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

// ---------------------------------------------------------------- RMSNorm

struct RmsNormOp {
    eps: f32,
}

impl CustomOp1 for RmsNormOp {
    fn name(&self) -> &'static str {
        "lm-rms-norm"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32s(self.name(), "input", s, l)?;
        let d = l.dims().last().copied().unwrap_or(1).max(1);
        let mut y = vec![0f32; x.len()];
        let eps = self.eps;
        y.par_chunks_mut(d * ROWS_PER_TASK)
            .zip(x.par_chunks(d * ROWS_PER_TASK))
            .for_each(|(yc, xc)| {
                for (yr, xr) in yc.chunks_mut(d).zip(xc.chunks(d)) {
                    let ms = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
                    let r = 1.0 / (ms + eps).sqrt();
                    for (o, v) in yr.iter_mut().zip(xr) {
                        *o = v * r;
                    }
                }
            });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, g: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let d = x.dims().last().copied().unwrap_or(1).max(1);
        let eps = self.eps;
        let dx = with_f32(self.name(), "x", x, |xv| {
            with_f32(self.name(), "gradient", g, |gv| {
                let mut dx = vec![0f32; xv.len()];
                dx.par_chunks_mut(d * ROWS_PER_TASK)
                    .zip(xv.par_chunks(d * ROWS_PER_TASK))
                    .zip(gv.par_chunks(d * ROWS_PER_TASK))
                    .for_each(|((dc, xc), gc)| {
                        for ((dr, xr), gr) in dc.chunks_mut(d).zip(xc.chunks(d)).zip(gc.chunks(d)) {
                            let ms = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
                            let r = 1.0 / (ms + eps).sqrt();
                            // y = x·r; dx = r·(g − y·mean(g·y))
                            let gy =
                                xr.iter().zip(gr).map(|(a, b)| a * r * b).sum::<f32>() / d as f32;
                            for ((o, xv), gv) in dr.iter_mut().zip(xr).zip(gr) {
                                *o = r * (gv - xv * r * gy);
                            }
                        }
                    });
                dx
            })
        })??;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// `x / sqrt(mean(x²) + eps)` over the last dimension (`F.rms_norm` without weight).
pub fn rms_norm(x: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    if fused(x) {
        return x.contiguous()?.apply_op1(RmsNormOp { eps: eps as f32 });
    }
    let dtype = x.dtype();
    let xf = x.to_dtype(DType::F32)?;
    let ms = xf.sqr()?.mean_keepdim(D::Minus1)?;
    xf.broadcast_div(&(ms + eps)?.sqrt()?)?.to_dtype(dtype)
}

// ---------------------------------------------------------------- causal softmax

struct CausalSoftmaxOp;

fn causal_dims(l: &[usize]) -> candle_core::Result<(usize, usize)> {
    match l {
        [.., t, s] if t == s => Ok((*t, l.iter().product::<usize>() / (t * t).max(1))),
        d => bail!("causal softmax: the last two dimensions must be equal, got {d:?}"),
    }
}

impl CustomOp1 for CausalSoftmaxOp {
    fn name(&self) -> &'static str {
        "lm-causal-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32s(self.name(), "input", s, l)?;
        let (t, _) = causal_dims(l.dims())?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(t * ROWS_PER_TASK)
            .zip(x.par_chunks(t * ROWS_PER_TASK))
            .enumerate()
            .for_each(|(c, (yc, xc))| {
                for (k, (yr, xr)) in yc.chunks_mut(t).zip(xc.chunks(t)).enumerate() {
                    let i = (c * ROWS_PER_TASK + k) % t;
                    let (xs, ys) = (&xr[..=i], &mut yr[..=i]);
                    let m = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0f32;
                    for (o, v) in ys.iter_mut().zip(xs) {
                        *o = (v - m).exp();
                        sum += *o;
                    }
                    let inv = 1.0 / sum;
                    for o in ys.iter_mut() {
                        *o *= inv;
                    }
                }
            });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, res: &Tensor, g: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let (t, _) = causal_dims(x.dims())?;
        let dx = with_f32(self.name(), "output", res, |yv| {
            with_f32(self.name(), "gradient", g, |gv| {
                let mut dx = vec![0f32; yv.len()];
                dx.par_chunks_mut(t * ROWS_PER_TASK)
                    .zip(yv.par_chunks(t * ROWS_PER_TASK))
                    .zip(gv.par_chunks(t * ROWS_PER_TASK))
                    .enumerate()
                    .for_each(|(c, ((dc, yc), gc))| {
                        for (k, ((dr, yr), gr)) in dc
                            .chunks_mut(t)
                            .zip(yc.chunks(t))
                            .zip(gc.chunks(t))
                            .enumerate()
                        {
                            let i = (c * ROWS_PER_TASK + k) % t;
                            let dot: f32 = yr[..=i].iter().zip(&gr[..=i]).map(|(a, b)| a * b).sum();
                            for ((o, y), gg) in dr[..=i].iter_mut().zip(&yr[..=i]).zip(&gr[..=i]) {
                                *o = y * (gg - dot);
                            }
                        }
                    });
                dx
            })
        })??;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// Causal softmax over the last dimension of `[..., T, T]` scores: row `i` is the softmax
/// of columns `0..=i`; columns above the diagonal are 0.
pub fn causal_softmax(scores: &Tensor) -> candle_core::Result<Tensor> {
    if scores.dtype() != DType::F32 {
        // A row's sum has up to 1024 terms: accumulated in bf16 (8-bit significand) it
        // stalls once the sum outgrows the terms, so widen (the fused kernel on the CPU).
        return causal_softmax(&scores.to_dtype(DType::F32)?)?.to_dtype(scores.dtype());
    }
    if fused(scores) {
        return scores.contiguous()?.apply_op1(CausalSoftmaxOp);
    }
    let t = scores.dim(D::Minus1)?;
    let mask: Vec<f32> = (0..t * t)
        .map(|k| {
            if k % t > k / t {
                f32::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    let mask = Tensor::from_vec(mask, (t, t), scores.device())?;
    candle_nn::ops::softmax(&scores.broadcast_add(&mask)?, D::Minus1)
}

// ---------------------------------------------------------------- cross-entropy

/// Cross-entropy of each row of `logits` (`rows × vocab`, row-major) against `targets`,
/// added to `out` in `f64`; with `softcap`, the logits are first mapped through
/// `cap · tanh(x / cap)`. Returns the index of the first row whose loss is not finite.
pub fn ce_rows(
    logits: &[f32],
    vocab: usize,
    targets: &[u32],
    softcap: Option<f32>,
    out: &mut [f64],
) -> Option<usize> {
    out.par_iter_mut()
        .zip(logits.par_chunks(vocab))
        .zip(targets.par_iter())
        .for_each(|((o, row), &t)| {
            *o = row_loss(row, t as usize, softcap);
        });
    out.iter().position(|v| !v.is_finite())
}

fn row_loss(row: &[f32], target: usize, softcap: Option<f32>) -> f64 {
    let cap = |v: f32| match softcap {
        Some(c) => c * (v / c).tanh(),
        None => v,
    };
    let m = row
        .iter()
        .map(|&v| cap(v))
        .fold(f32::NEG_INFINITY, f32::max);
    if !m.is_finite() {
        return f64::NAN;
    }
    let sum: f64 = row.iter().map(|&v| f64::from((cap(v) - m).exp())).sum();
    sum.ln() + f64::from(m) - f64::from(row.get(target).map_or(f32::NAN, |&v| cap(v)))
}

struct CrossEntropyOp;

fn ce_dims(l1: &Layout, l2: &Layout) -> candle_core::Result<(usize, usize)> {
    match (l1.dims(), l2.dims()) {
        (&[n, v], &[m]) if n == m => Ok((n, v)),
        (a, b) => bail!("cross-entropy: logits {a:?} and targets {b:?} must be [N, V] and [N]"),
    }
}

impl CustomOp2 for CrossEntropyOp {
    fn name(&self) -> &'static str {
        "lm-cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, v) = ce_dims(l1, l2)?;
        let x = f32s(self.name(), "input", s1, l1)?;
        let t = match (s2, l2.contiguous_offsets()) {
            (CpuStorage::U32(t), Some((a, b))) => &t[a..b],
            _ => bail!("cross-entropy: targets must be contiguous u32"),
        };
        if let Some(bad) = t.iter().find(|&&t| t as usize >= v) {
            bail!("cross-entropy: target {bad} is outside the vocabulary of {v}");
        }
        let mut rows = vec![0f64; n];
        ce_rows(x, v, t, None, &mut rows);
        let mean = rows.iter().sum::<f64>() / n.max(1) as f64;
        Ok((CpuStorage::F32(vec![mean as f32]), Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, v) = logits.dims2()?;
        let scale = g.to_dtype(DType::F32)?.to_vec0::<f32>()? / n.max(1) as f32;
        let t = targets.to_vec1::<u32>()?;
        let dx = with_f32(self.name(), "logits", logits, |x| {
            let mut dx = vec![0f32; x.len()];
            dx.par_chunks_mut(v)
                .zip(x.par_chunks(v))
                .zip(t.par_iter())
                .for_each(|((d, row), &tg)| {
                    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0f32;
                    for (o, &xv) in d.iter_mut().zip(row) {
                        *o = (xv - m).exp();
                        sum += *o;
                    }
                    let k = scale / sum;
                    for o in d.iter_mut() {
                        *o *= k;
                    }
                    if let Some(o) = d.get_mut(tg as usize) {
                        *o -= scale;
                    }
                });
            dx
        })?;
        Ok((Some(Tensor::from_vec(dx, (n, v), logits.device())?), None))
    }
}

/// Mean cross-entropy of `[N, V]` logits against `N` u32 targets, as a scalar tensor.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    if fused(logits) && targets.device().is_cpu() {
        return logits
            .contiguous()?
            .apply_op2(&targets.contiguous()?, CrossEntropyOp);
    }
    let lsm = candle_nn::ops::log_softmax(&logits.to_dtype(DType::F32)?, D::Minus1)?;
    candle_nn::loss::nll(&lsm, targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn close(a: &Tensor, b: &Tensor, tol: f32) {
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap();
        let d = d.to_vec0::<f32>().unwrap();
        assert!(d < tol, "max difference {d}");
    }

    fn sample(shape: &[usize], seed: u64) -> Tensor {
        let mut r = crate::rng::Rng::new(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| r.normal() as f32).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// Gradients of `sum(f(x) · w)` for a fixed random `w`, by autograd.
    fn grad_of(x: &Tensor, w: &Tensor, f: impl Fn(&Tensor) -> Tensor) -> Tensor {
        let v = Var::from_tensor(x).unwrap();
        let y = f(v.as_tensor());
        let loss = (y * w).unwrap().sum_all().unwrap();
        loss.backward().unwrap().get(v.as_tensor()).unwrap().clone()
    }

    #[test]
    fn fused_kernels_match_composed_ops_forward_and_backward() {
        let x = sample(&[2, 3, 5, 8], 1);
        let w = sample(&[2, 3, 5, 8], 2);
        let slow = |x: &Tensor| {
            let ms = x.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
            x.broadcast_div(&(ms + 1e-6).unwrap().sqrt().unwrap())
                .unwrap()
        };
        close(&rms_norm(&x, 1e-6).unwrap(), &slow(&x), 1e-5);
        close(
            &grad_of(&x, &w, |x| rms_norm(x, 1e-6).unwrap()),
            &grad_of(&x, &w, slow),
            1e-4,
        );

        let s = sample(&[2, 3, 6, 6], 3);
        let ws = sample(&[2, 3, 6, 6], 4);
        let mask: Vec<f32> = (0..36)
            .map(|k| {
                if k % 6 > k / 6 {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (6, 6), &Device::Cpu).unwrap();
        let slow = |s: &Tensor| {
            candle_nn::ops::softmax(&s.broadcast_add(&mask).unwrap(), D::Minus1).unwrap()
        };
        close(&causal_softmax(&s).unwrap(), &slow(&s), 1e-6);
        close(
            &grad_of(&s, &ws, |s| causal_softmax(s).unwrap()),
            &grad_of(&s, &ws, slow),
            1e-5,
        );

        let l = sample(&[7, 11], 5);
        let t = Tensor::new(&[0u32, 3, 10, 2, 2, 9, 1], &Device::Cpu).unwrap();
        let slow = |l: &Tensor| candle_nn::loss::cross_entropy(l, &t).unwrap();
        close(&cross_entropy(&l, &t).unwrap(), &slow(&l), 1e-6);
        let one = Tensor::new(1f32, &Device::Cpu).unwrap();
        close(
            &grad_of(&l, &one, |l| cross_entropy(l, &t).unwrap()),
            &grad_of(&l, &one, slow),
            1e-6,
        );
    }

    #[test]
    fn ce_rows_of_zero_logits_is_ln_vocab_and_flags_nan() {
        let mut out = vec![0f64; 3];
        assert_eq!(ce_rows(&[0.0; 15], 5, &[0, 1, 4], None, &mut out), None);
        assert!(out.iter().all(|&v| v == 5f64.ln()));
        let mut x = vec![0.0f32; 15];
        x[7] = f32::NAN;
        assert_eq!(ce_rows(&x, 5, &[0, 1, 4], None, &mut out), Some(1));
    }
}
