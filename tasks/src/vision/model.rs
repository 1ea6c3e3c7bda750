//! MLGym's baseline network for both image tasks:
//! conv 3×3 (C→32, pad 1) → ReLU → max-pool 2 → conv 3×3 (32→64, pad 1) → ReLU →
//! max-pool 2 → flatten → linear (64·H/4·W/4 → 10), in NHWC on the layers of
//! [`mlgym_kernels::conv`]. Initialised as PyTorch initialises `Conv2d` and `Linear`
//! (weights and biases uniform in ±1/√fan_in), from our seeded [`Rng`].

use candle_core::{Device, Result, Tensor, Var};
use mlgym_kernels::conv::{conv2d_relu_pool_nhwc, linear};

use crate::rng::Rng;

/// The network's parameters.
#[derive(Debug)]
pub struct Cnn {
    /// First convolution, `[3, 3, C, 32]`.
    pub w1: Var,
    /// Its bias, `[32]`.
    pub b1: Var,
    /// Second convolution, `[3, 3, 32, 64]`.
    pub w2: Var,
    /// Its bias, `[64]`.
    pub b2: Var,
    /// Classifier, `[classes, 64·H/4·W/4]`.
    pub w3: Var,
    /// Its bias, `[classes]`.
    pub b3: Var,
}

fn uniform(shape: &[usize], fan_in: usize, rng: &mut Rng) -> Result<Var> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
        .collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu)?)
}

impl Cnn {
    /// A freshly initialised network for `h × w × c` images and `classes` classes.
    pub fn new(h: usize, w: usize, c: usize, classes: usize, rng: &mut Rng) -> Result<Cnn> {
        let flat = 64 * (h / 4) * (w / 4);
        Ok(Cnn {
            w1: uniform(&[3, 3, c, 32], 9 * c, rng)?,
            b1: uniform(&[32], 9 * c, rng)?,
            w2: uniform(&[3, 3, 32, 64], 9 * 32, rng)?,
            b2: uniform(&[64], 9 * 32, rng)?,
            w3: uniform(&[classes, flat], flat, rng)?,
            b3: uniform(&[classes], flat, rng)?,
        })
    }

    /// Logits `[n, classes]` of images `x` `[n, h, w, c]` (f32, scaled to [0, 1]).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = conv2d_relu_pool_nhwc(x, &self.w1, &self.b1, 1)?;
        let h = conv2d_relu_pool_nhwc(&h, &self.w2, &self.b2, 1)?;
        let n = h.dim(0)?;
        linear(&h.reshape((n, ()))?, &self.w3, &self.b3)
    }

    /// The weights (decayed by AdamW) and the biases (not decayed, as in HF's Trainer).
    pub fn params(&self) -> (Vec<Var>, Vec<Var>) {
        (
            vec![self.w1.clone(), self.w2.clone(), self.w3.clone()],
            vec![self.b1.clone(), self.b2.clone(), self.b3.clone()],
        )
    }

    /// Copies of every parameter (to restore the best epoch later).
    pub fn snapshot(&self) -> Result<Vec<Tensor>> {
        [&self.w1, &self.b1, &self.w2, &self.b2, &self.w3, &self.b3]
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect()
    }

    /// Restores a [`Cnn::snapshot`].
    pub fn restore(&self, snap: &[Tensor]) -> Result<()> {
        for (v, t) in [&self.w1, &self.b1, &self.w2, &self.b2, &self.w3, &self.b3]
            .iter()
            .zip(snap)
        {
            v.set(t)?;
        }
        Ok(())
    }
}

/// Images `idx` of `pixels` (uint8 NHWC) as an f32 tensor scaled to [0, 1].
pub fn batch(pixels: &[u8], idx: &[usize], h: usize, w: usize, c: usize) -> Result<Tensor> {
    let per = h * w * c;
    let mut v = Vec::with_capacity(idx.len() * per);
    for &i in idx {
        v.extend(
            pixels[i * per..(i + 1) * per]
                .iter()
                .map(|&p| f32::from(p) / 255.0),
        );
    }
    Tensor::from_vec(v, (idx.len(), h, w, c), &Device::Cpu)
}
