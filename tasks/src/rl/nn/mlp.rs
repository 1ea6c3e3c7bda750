//! Forward and backward passes of one MLP ([`MlpLayout`]) over a batch of rows, reading
//! and writing flat parameter and gradient vectors.
//!
//! Hidden layers are `relu(x · kernel + bias)`; the heads are linear and read the last
//! hidden layer; their outputs are stored side by side (`[rows, n_out]`). The backward pass
//! takes the loss's gradient with respect to those outputs and adds the parameter gradients
//! into a flat vector laid out like the parameters. ReLU's derivative at 0 is 0 (as JAX's).
//!
//! `sparse_input` makes the first layer skip the zeros of the input (observations of
//! MetaMaze and Breakout are mostly 0/1) in both passes.

use super::kernels::{gemm_acc, gemm_bias_act, gemm_narrow_acc, relu_in_place, Strided};
use super::par::{for_row_blocks, Par};
use super::sparse::{sparse_at_b_acc, sparse_rows_acc};
use crate::rl::policy::net::{Dense, MlpLayout};

/// Fewest rows worth a thread of their own.
const MIN_ROWS_PER_TASK: usize = 48;
/// Layers with fewer outputs than this (the heads) use the narrow kernels.
const NARROW: usize = 16;

/// The activations of one forward pass, kept for the backward pass.
#[derive(Clone, Debug, Default)]
pub struct Tape {
    /// Post-ReLU output of each hidden layer, `[rows, units]`.
    pub hidden: Vec<Vec<f32>>,
    /// The heads' outputs side by side, `[rows, n_out]`.
    pub out: Vec<f32>,
    /// Rows of the last forward pass.
    pub rows: usize,
}

/// Buffers of the backward pass, reused between calls.
#[derive(Clone, Debug, Default)]
pub struct BackScratch {
    dh: Vec<f32>,
    dh_prev: Vec<f32>,
    wt: Vec<f32>,
}

/// Runs the MLP on `rows` rows of `x` (`[rows, n_in]`), filling `tape`.
pub fn forward(
    layout: &MlpLayout,
    params: &[f32],
    x: &[f32],
    rows: usize,
    sparse_input: bool,
    tape: &mut Tape,
    par: &dyn Par,
) {
    tape.rows = rows;
    tape.hidden.resize_with(layout.hidden.len(), Vec::new);
    for (l, d) in layout.hidden.iter().enumerate() {
        let (done, rest) = tape.hidden.split_at_mut(l);
        let input: &[f32] = if l == 0 { x } else { &done[l - 1] };
        let out = &mut rest[0];
        out.resize(rows * d.n_out, 0.0);
        layer_forward(
            d,
            params,
            input,
            d.n_in,
            rows,
            sparse_input && l == 0,
            true,
            out,
            d.n_out,
            0,
            par,
        );
    }
    let n_out = layout.n_out();
    tape.out.resize(rows * n_out, 0.0);
    let last: &[f32] = tape.hidden.last().map_or(x, |h| h.as_slice());
    let mut col = 0;
    for d in &layout.heads {
        let sparse = sparse_input && layout.hidden.is_empty();
        layer_forward(
            d,
            params,
            last,
            d.n_in,
            rows,
            sparse,
            false,
            &mut tape.out,
            n_out,
            col,
            par,
        );
        col += d.n_out;
    }
}

/// `c[:, col0..col0+n_out] = act(a · kernel + bias)` for `rows` rows.
#[allow(clippy::too_many_arguments)]
fn layer_forward(
    d: &Dense,
    params: &[f32],
    a: &[f32],
    lda: usize,
    rows: usize,
    sparse: bool,
    relu: bool,
    c: &mut [f32],
    ldc: usize,
    col0: usize,
    par: &dyn Par,
) {
    let w = &params[d.w..d.w + d.n_in * d.n_out];
    let bias = &params[d.b..d.b + d.n_out];
    let narrow = !sparse && d.n_out < NARROW;
    let wt = if narrow {
        transpose(w, d.n_in, d.n_out)
    } else {
        Vec::new()
    };
    for_row_blocks(par, c, ldc, rows, MIN_ROWS_PER_TASK, &|row0, piece| {
        let m = piece.len() / ldc;
        let a_blk = &a[row0 * lda..];
        if !sparse && !narrow {
            let a = Strided {
                data: a_blk,
                rs: lda,
                cs: 1,
            };
            gemm_bias_act(
                m,
                d.n_out,
                d.n_in,
                a,
                w,
                d.n_out,
                bias,
                relu,
                &mut piece[col0..],
                ldc,
            );
            return;
        }
        for r in 0..m {
            piece[r * ldc + col0..r * ldc + col0 + d.n_out].copy_from_slice(bias);
        }
        let c_blk = &mut piece[col0..];
        if sparse {
            sparse_rows_acc(m, d.n_out, d.n_in, a_blk, lda, w, d.n_out, c_blk, ldc);
        } else {
            gemm_narrow_acc(m, d.n_out, d.n_in, a_blk, lda, &wt, c_blk, ldc);
        }
        if relu {
            for r in 0..m {
                relu_in_place(&mut piece[r * ldc + col0..r * ldc + col0 + d.n_out]);
            }
        }
    });
}

/// Adds to `grads` the gradient of the loss whose gradient with respect to the outputs
/// is `d_out` (`[rows, n_out]`), for the forward pass recorded in `tape` on input `x`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    layout: &MlpLayout,
    params: &[f32],
    x: &[f32],
    sparse_input: bool,
    tape: &Tape,
    d_out: &[f32],
    grads: &mut [f32],
    s: &mut BackScratch,
    par: &dyn Par,
) {
    let rows = tape.rows;
    let n_out = layout.n_out();
    let n_hidden = layout.hidden.len();
    let last: &[f32] = tape.hidden.last().map_or(x, |h| h.as_slice());
    let last_sparse = sparse_input && n_hidden == 0;
    // Heads: their parameter gradients, and the gradient reaching the last hidden layer.
    let units = layout.heads.first().map_or(0, |h| h.n_in);
    s.dh.clear();
    s.dh.resize(rows * units, 0.0);
    let mut col = 0;
    for d in &layout.heads {
        weight_grad(
            d,
            last,
            d.n_in,
            rows,
            last_sparse,
            &d_out[col..],
            n_out,
            grads,
            par,
        );
        if n_hidden > 0 {
            input_grad(
                d,
                params,
                &d_out[col..],
                n_out,
                rows,
                &mut s.dh,
                &mut s.wt,
                par,
            );
        }
        col += d.n_out;
    }
    // Hidden layers, last to first.
    for l in (0..n_hidden).rev() {
        let d = &layout.hidden[l];
        let h = &tape.hidden[l];
        for (g, &v) in s.dh.iter_mut().zip(h) {
            if v <= 0.0 || v.is_nan() {
                *g = 0.0;
            }
        }
        let input: &[f32] = if l == 0 { x } else { &tape.hidden[l - 1] };
        weight_grad(
            d,
            input,
            d.n_in,
            rows,
            sparse_input && l == 0,
            &s.dh,
            d.n_out,
            grads,
            par,
        );
        if l > 0 {
            s.dh_prev.clear();
            s.dh_prev.resize(rows * d.n_in, 0.0);
            input_grad(
                d,
                params,
                &s.dh,
                d.n_out,
                rows,
                &mut s.dh_prev,
                &mut s.wt,
                par,
            );
            std::mem::swap(&mut s.dh, &mut s.dh_prev);
        }
    }
}

/// `grads[kernel] += aᵀ · dz` and `grads[bias] += Σ_rows dz`, where `dz` is read from
/// columns `0..n_out` of rows of stride `ldz`.
#[allow(clippy::too_many_arguments)]
fn weight_grad(
    d: &Dense,
    a: &[f32],
    lda: usize,
    rows: usize,
    sparse: bool,
    dz: &[f32],
    ldz: usize,
    grads: &mut [f32],
    par: &dyn Par,
) {
    let n = d.n_out;
    let (gw, gb) = {
        let (lo, hi) = grads.split_at_mut(d.b);
        (&mut lo[d.w..d.w + d.n_in * n], &mut hi[..n])
    };
    if !sparse && n < NARROW {
        // dWᵀ = dzᵀ · a has wide rows, which the dense tiles handle well.
        let mut gt = vec![0.0f32; n * d.n_in];
        gemm_acc(
            n,
            d.n_in,
            rows,
            Strided {
                data: dz,
                rs: 1,
                cs: ldz,
            },
            a,
            lda,
            &mut gt,
            d.n_in,
        );
        for p in 0..d.n_in {
            for j in 0..n {
                gw[p * n + j] += gt[j * d.n_in + p];
            }
        }
    } else {
        for_row_blocks(par, gw, n, d.n_in, 8, &|p0, piece| {
            let kc = piece.len() / n;
            if sparse {
                sparse_at_b_acc(rows, kc, p0, n, a, lda, dz, ldz, piece);
            } else {
                gemm_acc(
                    kc,
                    n,
                    rows,
                    Strided {
                        data: &a[p0..],
                        rs: 1,
                        cs: lda,
                    },
                    dz,
                    ldz,
                    piece,
                    n,
                );
            }
        });
    }
    for r in 0..rows {
        for (g, &v) in gb.iter_mut().zip(&dz[r * ldz..r * ldz + n]) {
            *g += v;
        }
    }
}

/// `dx += dz · kernelᵀ` (`dx` is `[rows, n_in]`; `dz` columns `0..n_out`, stride `ldz`).
#[allow(clippy::too_many_arguments)]
fn input_grad(
    d: &Dense,
    params: &[f32],
    dz: &[f32],
    ldz: usize,
    rows: usize,
    dx: &mut [f32],
    wt: &mut Vec<f32>,
    par: &dyn Par,
) {
    let (n_in, n_out) = (d.n_in, d.n_out);
    let w = &params[d.w..d.w + n_in * n_out];
    wt.clear();
    wt.resize(n_in * n_out, 0.0);
    transpose_into(w, n_in, n_out, wt);
    let wt: &[f32] = wt;
    for_row_blocks(par, dx, n_in, rows, MIN_ROWS_PER_TASK, &|row0, piece| {
        let m = piece.len() / n_in;
        let a = Strided {
            data: &dz[row0 * ldz..],
            rs: ldz,
            cs: 1,
        };
        gemm_acc(m, n_in, n_out, a, wt, n_in, piece, n_in);
    });
}

/// The transpose (`cols × rows`) of a row-major `rows × cols` matrix.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; rows * cols];
    transpose_into(w, rows, cols, &mut t);
    t
}

fn transpose_into(w: &[f32], rows: usize, cols: usize, t: &mut [f32]) {
    for p in 0..rows {
        for j in 0..cols {
            t[j * rows + p] = w[p * cols + j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::nn::par::{Scoped, Serial};
    use crate::rl::policy::net::{HeadKind, NetSpec};
    use crate::rng::Rng;

    /// Sum of `weights · outputs` as a scalar loss, in f64.
    fn loss(spec: &NetSpec, params: &[f32], x: &[f32], rows: usize, wts: &[f32]) -> f64 {
        let (_, actor) = spec.layouts();
        let mut tape = Tape::default();
        forward(&actor, params, x, rows, false, &mut tape, &Serial);
        tape.out
            .iter()
            .zip(wts)
            .map(|(&o, &w)| o as f64 * w as f64)
            .sum()
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let spec = NetSpec {
            obs_dim: 5,
            hidden_layers: 2,
            hidden_units: 7,
            head: HeadKind::Gaussian,
        };
        let mut rng = Rng::new(9);
        let params = spec.init(&mut rng);
        let rows = 11;
        let x: Vec<f32> = (0..rows * 5).map(|_| rng.normal() as f32).collect();
        let wts: Vec<f32> = (0..rows * 2).map(|_| rng.normal() as f32).collect();
        let (_, actor) = spec.layouts();
        let mut tape = Tape::default();
        forward(&actor, &params, &x, rows, false, &mut tape, &Serial);
        let mut grads = vec![0.0; params.len()];
        backward(
            &actor,
            &params,
            &x,
            false,
            &tape,
            &wts,
            &mut grads,
            &mut BackScratch::default(),
            &Serial,
        );
        let first_actor = actor.hidden[0].w;
        let fd = |i: usize, h: f32| {
            let mut p = params.clone();
            p[i] += h;
            let up = loss(&spec, &p, &x, rows, &wts);
            p[i] -= 2.0 * h;
            (up - loss(&spec, &p, &x, rows, &wts)) / (2.0 * h as f64)
        };
        let mut checked = 0;
        for (i, &g) in grads.iter().enumerate().skip(first_actor) {
            let (a, b) = (fd(i, 2e-3), fd(i, 1e-3));
            // A step that crosses a ReLU kink changes the slope: skip those parameters.
            if (a - b).abs() > 1e-2 * (1.0 + a.abs()) {
                continue;
            }
            checked += 1;
            assert!(
                (b - g as f64).abs() < 1e-2 * (1.0 + b.abs()),
                "param {i}: fd {b} vs {g}"
            );
        }
        assert!(
            checked > (params.len() - first_actor) * 3 / 4,
            "only {checked} checked"
        );
        // The critic's part is untouched.
        assert!(grads[..first_actor].iter().all(|&g| g == 0.0));
    }

    #[test]
    fn threads_and_sparse_input_do_not_change_the_bits() {
        let spec = NetSpec {
            obs_dim: 40,
            hidden_layers: 2,
            hidden_units: 33,
            head: HeadKind::Categorical(3),
        };
        let mut rng = Rng::new(4);
        let params = spec.init(&mut rng);
        let rows = 200;
        let x: Vec<f32> = (0..rows * 40)
            .map(|_| if rng.bernoulli(0.8) { 0.0 } else { 1.0 })
            .collect();
        let d_out: Vec<f32> = (0..rows * 3).map(|_| rng.normal() as f32).collect();
        let (_, actor) = spec.layouts();
        let run = |sparse: bool, par: &dyn Par| {
            let mut tape = Tape::default();
            forward(&actor, &params, &x, rows, sparse, &mut tape, par);
            let mut grads = vec![0.0; params.len()];
            backward(
                &actor,
                &params,
                &x,
                sparse,
                &tape,
                &d_out,
                &mut grads,
                &mut BackScratch::default(),
                par,
            );
            (tape.out, grads)
        };
        let (out, grads) = run(false, &Serial);
        for (sparse, par) in [
            (false, &Scoped { threads: 3 } as &dyn Par),
            (true, &Serial),
            (true, &Scoped { threads: 2 }),
        ] {
            let (o, g) = run(sparse, par);
            assert_eq!(o, out);
            assert_eq!(g, grads);
        }
    }
}
