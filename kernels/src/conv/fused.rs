//! Convolution + bias + ReLU + 2×2 max pooling as one layer, the shape of both of the
//! baseline CNN's blocks. Fusing them means the full-resolution activation is never
//! materialised as a tensor (so neither is its gradient): the forward pass pools each
//! chunk of convolution output as it is produced and records which window element won;
//! the backward pass rebuilds the convolution's output gradient chunk by chunk from the
//! pooled gradient and those winners.
//!
//! Scratch buffers are per thread and reused, so a training step allocates only its
//! outputs. Chunks are fixed by the shapes (see [`ConvGeom::images_per_chunk`]), and
//! partial weight gradients are summed in chunk order: results do not depend on the
//! number of threads.

use std::cell::RefCell;

use rayon::prelude::*;

use super::cpu::{backward_by_chunks, chunk_forward, chunk_grads, Grads};
use super::im2col::ConvGeom;

thread_local! {
    static SCRATCH: RefCell<[Vec<f32>; 2]> = const { RefCell::new([Vec::new(), Vec::new()]) };
}

/// Runs `f` with two scratch slices of at least `a` and `b` elements (contents arbitrary).
fn with_scratch<R>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let [sa, sb] = &mut *s;
        if sa.len() < a {
            sa.resize(a, 0.0);
        }
        if sb.len() < b {
            sb.resize(b, 0.0);
        }
        f(&mut sa[..a], &mut sb[..b])
    })
}

/// Pooled output size of a convolution's output.
fn pooled(g: &ConvGeom) -> (usize, usize) {
    (g.oh() / 2, g.ow() / 2)
}

/// `maxpool2(relu(conv(x, w) + b))`: `x` `[n, h, w, ci]`, `w` `[kh, kw, ci, co]`, `b`
/// `[co]`. Returns the pooled output `[n, oh/2, ow/2, co]` and, per output element, the
/// winning window position (0..4, row-major; the first maximum).
pub fn forward(g: &ConvGeom, x: &[f32], w: &[f32], b: &[f32]) -> (Vec<f32>, Vec<u8>) {
    let (rows_img, k, co) = (g.out_pixels(), g.k(), g.co);
    let (ph, pw) = pooled(g);
    let per_img = ph * pw * co;
    let ipc = g.images_per_chunk();
    let mut y = vec![0.0f32; g.n * per_img];
    let mut arg = vec![0u8; g.n * per_img];
    if y.is_empty() {
        return (y, arg);
    }
    y.par_chunks_mut(ipc * per_img)
        .zip(arg.par_chunks_mut(ipc * per_img))
        .enumerate()
        .for_each(|(c, (yc, ac))| {
            let img0 = c * ipc;
            let images = yc.len() / per_img;
            let rows = images * rows_img;
            with_scratch(rows * k, rows * co, |cols, z| {
                chunk_forward(g, x, w, b, img0, images, cols, z);
                for img in 0..images {
                    let zi = &z[img * rows_img * co..(img + 1) * rows_img * co];
                    for py in 0..ph {
                        for px in 0..pw {
                            let at = |d: usize| ((2 * py + d / 2) * g.ow() + 2 * px + d % 2) * co;
                            let cells = [at(0), at(1), at(2), at(3)];
                            let o = ((img * ph + py) * pw + px) * co;
                            for ch in 0..co {
                                let (mut m, mut best) = (zi[cells[0] + ch], 0u8);
                                for (d, cell) in cells.iter().enumerate().skip(1) {
                                    let v = zi[cell + ch];
                                    if v > m || (v.is_nan() && !m.is_nan()) {
                                        m = v;
                                        best = d as u8;
                                    }
                                }
                                // relu(max) == max(relu): ReLU after pooling is the same.
                                yc[o + ch] = if m < 0.0 { 0.0 } else { m };
                                ac[o + ch] = best;
                            }
                        }
                    }
                }
            });
        });
    (y, arg)
}

/// Backward pass of [`forward`]: `y` and `arg` are its outputs, `dy` the gradient of `y`.
/// A pooled element passes its gradient to the winning convolution output only if that
/// output was positive (ReLU), as PyTorch's separate layers do.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    y: &[f32],
    arg: &[u8],
    dy: &[f32],
    need_dx: bool,
) -> Grads {
    let (rows_img, k, co) = (g.out_pixels(), g.k(), g.co);
    let (ph, pw) = pooled(g);
    let per_img = ph * pw * co;
    backward_by_chunks(g, need_dx, |img0, images, dxc| {
        let rows = images * rows_img;
        with_scratch(rows * k, rows * co, |cols, dz| {
            dz.fill(0.0);
            for img in 0..images {
                let o0 = (img0 + img) * per_img;
                let dzi = &mut dz[img * rows_img * co..(img + 1) * rows_img * co];
                for py in 0..ph {
                    for px in 0..pw {
                        let o = o0 + (py * pw + px) * co;
                        for ch in 0..co {
                            if y[o + ch] > 0.0 {
                                let d = arg[o + ch] as usize;
                                dzi[((2 * py + d / 2) * g.ow() + 2 * px + d % 2) * co + ch] =
                                    dy[o + ch];
                            }
                        }
                    }
                }
            }
            chunk_grads(g, x, w, img0, images, dz, cols, dxc)
        })
    })
}
