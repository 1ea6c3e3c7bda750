//! The CPU arithmetic of the baseline CNN's layers on plain `f32` slices: convolution
//! (+ bias, + optional ReLU) through im2col and SGEMM, 2×2 max pooling, and a dense
//! layer; each with its backward pass.
//!
//! Parallel work is split by images into chunks whose size depends on the shapes only
//! ([`ConvGeom::images_per_chunk`]); weight and bias gradients are summed per chunk and
//! then across chunks in chunk order. Results are therefore the same bit for bit for
//! any number of threads.

use rayon::prelude::*;

use super::gemm::{sgemm, Trans};
use super::im2col::{col2im, im2col, ConvGeom};

/// Gradients of a layer with weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Grads {
    /// Gradient of the input, when asked for.
    pub dx: Option<Vec<f32>>,
    /// Gradient of the weights (same layout as the weights).
    pub dw: Vec<f32>,
    /// Gradient of the bias.
    pub db: Vec<f32>,
}

/// `y = [relu](conv(x, w) + b)`: `x` is `[n, h, w, ci]`, `w` is `[kh, kw, ci, co]`, `b`
/// is `[co]`; the result is `[n, oh, ow, co]`.
pub fn conv_forward(g: &ConvGeom, x: &[f32], w: &[f32], b: &[f32], relu: bool) -> Vec<f32> {
    let (rows_img, k, co) = (g.out_pixels(), g.k(), g.co);
    let ipc = g.images_per_chunk();
    let mut y = vec![0.0f32; g.n * rows_img * co];
    if y.is_empty() {
        return y;
    }
    y.par_chunks_mut(ipc * rows_img * co)
        .enumerate()
        .for_each(|(c, yc)| {
            let img0 = c * ipc;
            let images = yc.len() / (rows_img * co);
            let mut cols = vec![0.0f32; images * rows_img * k];
            chunk_forward(g, x, w, b, img0, images, &mut cols, yc);
            if relu {
                relu_in_place(yc);
            }
        });
    y
}

/// `z = conv(x, w) + b` for the images `img0..img0 + images` (`z` holds exactly their
/// output); `cols` is scratch of `images * out_pixels * k` elements. Shared with
/// [`super::fused`].
#[allow(clippy::too_many_arguments)]
pub(super) fn chunk_forward(
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    img0: usize,
    images: usize,
    cols: &mut [f32],
    z: &mut [f32],
) {
    im2col(g, &x[img0 * g.in_image()..], images, cols);
    for r in z.chunks_exact_mut(g.co) {
        r.copy_from_slice(b);
    }
    let rows = images * g.out_pixels();
    sgemm(rows, g.co, g.k(), cols, Trans::No, w, Trans::No, z, true);
}

fn relu_in_place(v: &mut [f32]) {
    for x in v {
        if *x < 0.0 {
            *x = 0.0;
        }
    }
}

/// Backward pass of [`conv_forward`]: `y` is its output (used for the ReLU mask), `dy`
/// the gradient of the output. `dx` is computed only with `need_dx`.
#[allow(clippy::too_many_arguments)]
pub fn conv_backward(
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    y: &[f32],
    dy: &[f32],
    relu: bool,
    need_dx: bool,
) -> Grads {
    let (rows_img, k, co) = (g.out_pixels(), g.k(), g.co);
    let masked: Vec<f32>;
    let dz: &[f32] = if relu {
        masked = dy
            .iter()
            .zip(y)
            .map(|(d, y)| if *y > 0.0 { *d } else { 0.0 })
            .collect();
        &masked
    } else {
        dy
    };
    backward_by_chunks(g, need_dx, |img0, images, dxc| {
        let rows = images * rows_img;
        let mut cols = vec![0.0f32; rows * k];
        let dzc = &dz[img0 * rows_img * co..(img0 * rows_img + rows) * co];
        chunk_grads(g, x, w, img0, images, dzc, &mut cols, dxc)
    })
}

/// Weight, bias and (with `dxc`) input gradients of the images `img0..img0 + images`
/// from the gradient `dz` of their convolution output (before any ReLU). `cols` is
/// scratch of `images * out_pixels * k` elements. Shared with [`super::fused`].
#[allow(clippy::too_many_arguments)]
pub(super) fn chunk_grads(
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    img0: usize,
    images: usize,
    dz: &[f32],
    cols: &mut [f32],
    dxc: Option<&mut [f32]>,
) -> (Vec<f32>, Vec<f32>) {
    let (k, co) = (g.k(), g.co);
    let rows = images * g.out_pixels();
    im2col(g, &x[img0 * g.in_image()..], images, cols);
    let mut dw = vec![0.0f32; k * co];
    sgemm(k, co, rows, cols, Trans::Yes, dz, Trans::No, &mut dw, false);
    let mut db = vec![0.0f32; co];
    for r in dz.chunks_exact(co) {
        add_into(&mut db, r);
    }
    if let Some(dxc) = dxc {
        // Reuse the column buffer for the gradient of the columns.
        sgemm(rows, k, co, dz, Trans::No, w, Trans::Yes, cols, false);
        col2im(g, cols, images, dxc);
    }
    (dw, db)
}

/// Runs `work(first image, images, dx of those images)` on every chunk of images in
/// parallel and sums the per-chunk weight and bias gradients in chunk order, so the
/// result does not depend on the number of threads.
pub(super) fn backward_by_chunks(
    g: &ConvGeom,
    need_dx: bool,
    work: impl Fn(usize, usize, Option<&mut [f32]>) -> (Vec<f32>, Vec<f32>) + Sync,
) -> Grads {
    let ipc = g.images_per_chunk();
    let chunk = |c: usize, dxc: Option<&mut [f32]>| {
        let img0 = c * ipc;
        work(img0, ipc.min(g.n - img0), dxc)
    };
    let mut dx = need_dx.then(|| vec![0.0f32; g.n * g.in_image()]);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = match dx.as_mut() {
        Some(dx) if !dx.is_empty() => dx
            .par_chunks_mut(ipc * g.in_image())
            .enumerate()
            .map(|(c, dxc)| chunk(c, Some(dxc)))
            .collect(),
        _ => (0..g.n.div_ceil(ipc))
            .into_par_iter()
            .map(|c| chunk(c, None))
            .collect(),
    };
    let mut dw = vec![0.0f32; g.k() * g.co];
    let mut db = vec![0.0f32; g.co];
    for (pw, pb) in &partials {
        add_into(&mut dw, pw);
        add_into(&mut db, pb);
    }
    Grads { dx, dw, db }
}

fn add_into(acc: &mut [f32], v: &[f32]) {
    for (a, b) in acc.iter_mut().zip(v) {
        *a += *b;
    }
}

/// 2×2 max pooling with stride 2 (floor: a last odd row or column is dropped) of
/// `x` `[n, h, w, c]`; the result is `[n, h/2, w/2, c]`.
pub fn maxpool2_forward(n: usize, h: usize, w: usize, c: usize, x: &[f32]) -> Vec<f32> {
    let (oh, ow) = (h / 2, w / 2);
    let mut y = vec![0.0f32; n * oh * ow * c];
    if y.is_empty() {
        return y;
    }
    y.par_chunks_mut(oh * ow * c)
        .enumerate()
        .for_each(|(img, yi)| {
            let xi = &x[img * h * w * c..(img + 1) * h * w * c];
            for oy in 0..oh {
                for ox in 0..ow {
                    let out = &mut yi[(oy * ow + ox) * c..(oy * ow + ox + 1) * c];
                    let at = |dy: usize, dx: usize| ((2 * oy + dy) * w + 2 * ox + dx) * c;
                    let (p00, p01, p10, p11) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
                    for ch in 0..c {
                        let mut m = xi[p00 + ch];
                        for p in [p01, p10, p11] {
                            // `>` keeps the first maximum, as PyTorch does; NaN propagates.
                            let v = xi[p + ch];
                            if v > m || v.is_nan() {
                                m = v;
                            }
                        }
                        out[ch] = m;
                    }
                }
            }
        });
    y
}

/// Backward pass of [`maxpool2_forward`]: each output gradient goes to the first
/// maximum of its window (row-major order); everything else gets 0.
pub fn maxpool2_backward(
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    x: &[f32],
    dy: &[f32],
) -> Vec<f32> {
    let (oh, ow) = (h / 2, w / 2);
    let mut dx = vec![0.0f32; n * h * w * c];
    if dx.is_empty() || oh * ow == 0 {
        return dx;
    }
    dx.par_chunks_mut(h * w * c)
        .enumerate()
        .for_each(|(img, dxi)| {
            let xi = &x[img * h * w * c..(img + 1) * h * w * c];
            let dyi = &dy[img * oh * ow * c..(img + 1) * oh * ow * c];
            for oy in 0..oh {
                for ox in 0..ow {
                    let at = |dy: usize, dx: usize| ((2 * oy + dy) * w + 2 * ox + dx) * c;
                    let ps = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                    for ch in 0..c {
                        let mut best = ps[0];
                        let mut m = xi[best + ch];
                        for &p in &ps[1..] {
                            let v = xi[p + ch];
                            if v > m || (v.is_nan() && !m.is_nan()) {
                                m = v;
                                best = p;
                            }
                        }
                        dxi[best + ch] = dyi[(oy * ow + ox) * c + ch];
                    }
                }
            }
        });
    dx
}

/// Dense layer `y = x·wᵀ + b`: `x` is `[n, inp]`, `w` is `[out, inp]` (PyTorch's
/// layout), `b` is `[out]`; the result is `[n, out]`.
pub fn linear_forward(
    n: usize,
    inp: usize,
    out: usize,
    x: &[f32],
    w: &[f32],
    b: &[f32],
) -> Vec<f32> {
    let mut y = vec![0.0f32; n * out];
    for r in y.chunks_exact_mut(out.max(1)) {
        r.copy_from_slice(&b[..out]);
    }
    sgemm(n, out, inp, x, Trans::No, w, Trans::Yes, &mut y, true);
    y
}

/// Backward pass of [`linear_forward`].
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    n: usize,
    inp: usize,
    out: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    need_dx: bool,
) -> Grads {
    let mut dw = vec![0.0f32; out * inp];
    sgemm(out, inp, n, dy, Trans::Yes, x, Trans::No, &mut dw, false);
    let mut db = vec![0.0f32; out];
    for r in dy.chunks_exact(out.max(1)) {
        add_into(&mut db, r);
    }
    let dx = need_dx.then(|| {
        let mut dx = vec![0.0f32; n * inp];
        sgemm(n, inp, out, dy, Trans::No, w, Trans::No, &mut dx, false);
        dx
    });
    Grads { dx, dw, db }
}
