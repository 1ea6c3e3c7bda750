//! Fast CPU layers for the vision baselines' CNN, as candle ops with hand-written
//! backward passes: convolution through im2col + SGEMM (`gemm` crate, one thread per
//! fixed chunk of images, rayon across chunks), 2×2 max pooling and a dense layer.
//!
//! Tensors are NHWC (`[batch, height, width, channels]`) and convolution weights are
//! `[kh, kw, ci, co]`, so that the convolution is one matrix product per chunk with no
//! transposes. Results do not depend on the number of threads (see [`cpu`]).
//!
//! Candle's own `conv2d` is the reference these ops are tested against
//! (`kernels/tests/conv_reference.rs`).

pub mod cpu;
pub mod fused;
pub mod gemm;
pub mod im2col;
pub mod ops;

use candle_core::{Result, Tensor};

pub use im2col::ConvGeom;
pub use ops::{Conv2dOp, ConvReluPoolOp, LinearOp, MaxPool2Op};

/// `[relu](conv(x, w) + b)`, stride 1, `pad` zeros on every side. `x` is
/// `[n, h, w, ci]`, `w` is `[kh, kw, ci, co]`, `b` is `[co]`; f32 on the CPU.
pub fn conv2d_nhwc(x: &Tensor, w: &Tensor, b: &Tensor, pad: usize, relu: bool) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, Conv2dOp { pad, relu })
}

/// `max_pool2x2(relu(conv(x, w) + b))` as one op (stride 1, `pad` zeros): the
/// same values and gradients as [`conv2d_nhwc`] followed by [`max_pool2x2_nhwc`], with
/// less memory traffic.
pub fn conv2d_relu_pool_nhwc(x: &Tensor, w: &Tensor, b: &Tensor, pad: usize) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, ConvReluPoolOp::new(pad))
}

/// 2×2 max pooling with stride 2 of an NHWC tensor (a last odd row or column is dropped).
pub fn max_pool2x2_nhwc(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(MaxPool2Op)
}

/// `x·wᵀ + b` with `x` `[n, in]`, `w` `[out, in]` and `b` `[out]`.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, LinearOp)
}
