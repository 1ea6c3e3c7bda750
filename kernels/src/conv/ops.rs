//! The layers of [`super::cpu`] as candle custom ops, so that they take part in
//! candle's autograd: each op's `bwd` runs the hand-written backward pass and returns
//! plain (untracked) gradient tensors.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, Layout, Shape, Tensor};

use super::cpu;
use super::fused;
use super::im2col::ConvGeom;
use crate::cpu_op::{f32s, with_f32};

/// The gradients of a layer with input `x`, weights `w` and bias `b` as tensors of their
/// shapes (`dx` only when it was computed).
fn grad_tensors(
    grads: cpu::Grads,
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
    let dev = x.device();
    let dx = grads
        .dx
        .map(|v| Tensor::from_vec(v, x.shape(), dev))
        .transpose()?;
    Ok((
        dx,
        Some(Tensor::from_vec(grads.dw, w.shape(), dev)?),
        Some(Tensor::from_vec(grads.db, b.shape(), dev)?),
    ))
}

fn dims4(op: &str, what: &str, l: &Layout) -> candle_core::Result<[usize; 4]> {
    match l.dims() {
        &[a, b, c, d] => Ok([a, b, c, d]),
        d => bail!("{op}: {what} must have 4 dimensions, got {d:?}"),
    }
}

/// Stride-1 NHWC convolution with zero padding, bias and optional ReLU.
#[derive(Clone, Copy, Debug)]
pub struct Conv2dOp {
    /// Zero padding on every side.
    pub pad: usize,
    /// Apply ReLU to the output.
    pub relu: bool,
}

impl Conv2dOp {
    fn geom(&self, x: &[usize], w: &[usize], b: &[usize]) -> candle_core::Result<ConvGeom> {
        let (&[n, h, wd, ci], &[kh, kw, wci, co]) = (x, w) else {
            bail!("conv2d_nhwc: x must be [n,h,w,ci] and w [kh,kw,ci,co], got {x:?} and {w:?}");
        };
        if wci != ci || b != [co] {
            bail!("conv2d_nhwc: x {x:?}, w {w:?} and b {b:?} do not fit together");
        }
        let g = ConvGeom {
            n,
            h,
            w: wd,
            ci,
            kh,
            kw,
            co,
            pad: self.pad,
        };
        if h + 2 * self.pad < kh || wd + 2 * self.pad < kw {
            bail!("conv2d_nhwc: kernel {kh}x{kw} larger than the padded {h}x{wd} input");
        }
        Ok(g)
    }
}

impl CustomOp3 for Conv2dOp {
    fn name(&self) -> &'static str {
        "conv2d_nhwc"
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
        let g = self.geom(l1.dims(), l2.dims(), l3.dims())?;
        let (x, w, b) = (
            f32s(self.name(), "x", s1, l1)?,
            f32s(self.name(), "w", s2, l2)?,
            f32s(self.name(), "b", s3, l3)?,
        );
        let y = cpu::conv_forward(&g, x, w, b, self.relu);
        Ok((CpuStorage::F32(y), Shape::from((g.n, g.oh(), g.ow(), g.co))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = self.geom(x.dims(), w.dims(), b.dims())?;
        let name = self.name();
        let grads = with_f32(name, "x", x, |xv| {
            with_f32(name, "w", w, |wv| {
                with_f32(name, "y", res, |yv| {
                    with_f32(name, "dy", grad_res, |dyv| {
                        cpu::conv_backward(&g, xv, wv, yv, dyv, self.relu, x.track_op())
                    })
                })
            })
        })????;
        grad_tensors(grads, x, w, b)
    }
}

/// Fused stride-1 NHWC convolution + bias + ReLU + 2×2 max pooling (see
/// [`super::fused`]). The winners of the pooling windows are kept in the op between
/// the forward and the backward pass.
#[derive(Debug)]
pub struct ConvReluPoolOp {
    /// Zero padding on every side.
    pub pad: usize,
    /// Winning window positions recorded by the forward pass.
    winners: std::sync::Mutex<Vec<u8>>,
}

impl ConvReluPoolOp {
    /// The op with `pad` zeros of padding.
    pub fn new(pad: usize) -> Self {
        ConvReluPoolOp {
            pad,
            winners: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The unfused convolution this op starts with (for its shape checks).
    fn conv(&self) -> Conv2dOp {
        Conv2dOp {
            pad: self.pad,
            relu: true,
        }
    }
}

impl CustomOp3 for ConvReluPoolOp {
    fn name(&self) -> &'static str {
        "conv2d_relu_pool_nhwc"
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
        let g = self.conv().geom(l1.dims(), l2.dims(), l3.dims())?;
        let (x, w, b) = (
            f32s(self.name(), "x", s1, l1)?,
            f32s(self.name(), "w", s2, l2)?,
            f32s(self.name(), "b", s3, l3)?,
        );
        let (y, arg) = fused::forward(&g, x, w, b);
        match self.winners.lock() {
            Ok(mut wv) => *wv = arg,
            Err(_) => bail!("{}: poisoned lock", self.name()),
        }
        Ok((
            CpuStorage::F32(y),
            Shape::from((g.n, g.oh() / 2, g.ow() / 2, g.co)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = self.conv().geom(x.dims(), w.dims(), b.dims())?;
        let name = self.name();
        let winners = match self.winners.lock() {
            Ok(wv) => wv,
            Err(_) => bail!("{name}: poisoned lock"),
        };
        if winners.len() != res.elem_count() {
            bail!("{name}: backward without a matching forward pass");
        }
        let grads = with_f32(name, "x", x, |xv| {
            with_f32(name, "w", w, |wv| {
                with_f32(name, "y", res, |yv| {
                    with_f32(name, "dy", grad_res, |dyv| {
                        fused::backward(&g, xv, wv, yv, &winners, dyv, x.track_op())
                    })
                })
            })
        })????;
        grad_tensors(grads, x, w, b)
    }
}

/// 2×2 max pooling with stride 2 on NHWC tensors.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2Op;

impl CustomOp1 for MaxPool2Op {
    fn name(&self) -> &'static str {
        "max_pool2x2_nhwc"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let [n, h, w, c] = dims4(self.name(), "x", l)?;
        let y = cpu::maxpool2_forward(n, h, w, c, f32s(self.name(), "x", s, l)?);
        Ok((CpuStorage::F32(y), Shape::from((n, h / 2, w / 2, c))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let [n, h, w, c] = dims4(self.name(), "x", x.layout())?;
        let name = self.name();
        let dx = with_f32(name, "x", x, |xv| {
            with_f32(name, "dy", grad_res, |dyv| {
                cpu::maxpool2_backward(n, h, w, c, xv, dyv)
            })
        })??;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// Dense layer `x·wᵀ + b` with `x` `[n, in]`, `w` `[out, in]`, `b` `[out]`.
#[derive(Clone, Copy, Debug)]
pub struct LinearOp;

impl LinearOp {
    fn dims(x: &[usize], w: &[usize], b: &[usize]) -> candle_core::Result<(usize, usize, usize)> {
        match (x, w, b) {
            (&[n, inp], &[out, winp], &[bout]) if winp == inp && bout == out => Ok((n, inp, out)),
            _ => bail!("linear: x {x:?}, w {w:?} and b {b:?} must be [n,in], [out,in] and [out]"),
        }
    }
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "linear"
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
        let (n, inp, out) = Self::dims(l1.dims(), l2.dims(), l3.dims())?;
        let (x, w, b) = (
            f32s(self.name(), "x", s1, l1)?,
            f32s(self.name(), "w", s2, l2)?,
            f32s(self.name(), "b", s3, l3)?,
        );
        Ok((
            CpuStorage::F32(cpu::linear_forward(n, inp, out, x, w, b)),
            Shape::from((n, out)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, inp, out) = Self::dims(x.dims(), w.dims(), b.dims())?;
        let name = self.name();
        let grads = with_f32(name, "x", x, |xv| {
            with_f32(name, "w", w, |wv| {
                with_f32(name, "dy", grad_res, |dyv| {
                    cpu::linear_backward(n, inp, out, xv, wv, dyv, x.track_op())
                })
            })
        })???;
        grad_tensors(grads, x, w, b)
    }
}
