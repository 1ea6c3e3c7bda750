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

use super::cpu::Grads;
use super::gemm::{sgemm, Trans};
use super::im2col::{col2im, im2col, ConvGeom};

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
                im2col(g, &x[img0 * g.in_image()..], images, cols);
                for r in z.chunks_exact_mut(co) {
                    r.copy_from_slice(b);
                }
                sgemm(rows, co, k, cols, Trans::No, w, Trans::No, z, true);
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
    let ipc = g.images_per_chunk();
    let chunks = g.n.div_ceil(ipc);
    let work = |c: usize, dxc: Option<&mut [f32]>| -> (Vec<f32>, Vec<f32>) {
        let img0 = c * ipc;
        let images = ipc.min(g.n - img0);
        let rows = images * rows_img;
        let mut dw = vec![0.0f32; k * co];
        let mut db = vec![0.0f32; co];
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
            for r in dz.chunks_exact(co) {
                for (s, v) in db.iter_mut().zip(r) {
                    *s += *v;
                }
            }
            im2col(g, &x[img0 * g.in_image()..], images, cols);
            sgemm(k, co, rows, cols, Trans::Yes, dz, Trans::No, &mut dw, false);
            if let Some(dxc) = dxc {
                sgemm(rows, k, co, dz, Trans::No, w, Trans::Yes, cols, false);
                col2im(g, cols, images, dxc);
            }
        });
        (dw, db)
    };
    let mut dx = need_dx.then(|| vec![0.0f32; g.n * g.in_image()]);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = match dx.as_mut() {
        Some(dx) if !dx.is_empty() => dx
            .par_chunks_mut(ipc * g.in_image())
            .enumerate()
            .map(|(c, dxc)| work(c, Some(dxc)))
            .collect(),
        _ => (0..chunks).into_par_iter().map(|c| work(c, None)).collect(),
    };
    let mut dw = vec![0.0f32; k * co];
    let mut db = vec![0.0f32; co];
    for (pw_, pb) in &partials {
        for (a, b) in dw.iter_mut().zip(pw_) {
            *a += *b;
        }
        for (a, b) in db.iter_mut().zip(pb) {
            *a += *b;
        }
    }
    Grads { dx, dw, db }
}
