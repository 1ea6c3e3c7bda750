//! The frozen image encoder of the captioning baseline: a torchvision bottleneck ResNet
//! (ResNet-50 for the staged asset) in candle, inference only, up to the global average
//! pool (the 2048-d feature of ResNet-50; the classifier `fc` is not used).
//!
//! The architecture is read from the weights: the stem width from `conv1.weight` and the
//! number of bottlenecks of each stage from the `layer{1..4}.{k}` names, then every
//! tensor is checked against [`ResNetConfig::tensors`]. So the staged ResNet-50 and the
//! tiny nets of the tests ([`super::tiny`]) go through the same code. Batch norms are
//! folded into the convolutions (eval mode, ε 1e-5, as torchvision).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, D};

use crate::evaluator::EvalError;

/// Channels out of a bottleneck = this × its inner width (torchvision's `expansion`).
pub const EXPANSION: usize = 4;
const BN_EPS: f64 = 1e-5;

/// Depth and width of a bottleneck ResNet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResNetConfig {
    /// Bottlenecks in `layer1` .. `layer4`.
    pub blocks: [usize; 4],
    /// Channels of the stem (64 in ResNet-50); stage `l` has inner width `width · 2^l`.
    pub width: usize,
}

impl ResNetConfig {
    /// torchvision's ResNet-50.
    pub const fn resnet50() -> ResNetConfig {
        ResNetConfig {
            blocks: [3, 4, 6, 3],
            width: 64,
        }
    }

    /// Length of the pooled feature (2048 for ResNet-50).
    pub fn feature_dim(&self) -> usize {
        self.width * 8 * EXPANSION
    }

    /// Every tensor of the encoder (torchvision names and shapes), without the
    /// classifier and without the `num_batches_tracked` counters.
    pub fn tensors(&self) -> Vec<(String, Vec<usize>)> {
        let w = self.width;
        let mut out = vec![("conv1.weight".to_string(), vec![w, 3, 7, 7])];
        bn_tensors(&mut out, "bn1", w);
        let mut c_in = w;
        for (l, &n) in self.blocks.iter().enumerate() {
            let planes = w << l;
            for b in 0..n {
                let p = format!("layer{}.{b}", l + 1);
                out.push((format!("{p}.conv1.weight"), vec![planes, c_in, 1, 1]));
                bn_tensors(&mut out, &format!("{p}.bn1"), planes);
                out.push((format!("{p}.conv2.weight"), vec![planes, planes, 3, 3]));
                bn_tensors(&mut out, &format!("{p}.bn2"), planes);
                out.push((
                    format!("{p}.conv3.weight"),
                    vec![planes * EXPANSION, planes, 1, 1],
                ));
                bn_tensors(&mut out, &format!("{p}.bn3"), planes * EXPANSION);
                if b == 0 {
                    out.push((
                        format!("{p}.downsample.0.weight"),
                        vec![planes * EXPANSION, c_in, 1, 1],
                    ));
                    bn_tensors(&mut out, &format!("{p}.downsample.1"), planes * EXPANSION);
                }
                c_in = planes * EXPANSION;
            }
        }
        out
    }
}

fn bn_tensors(out: &mut Vec<(String, Vec<usize>)>, prefix: &str, c: usize) {
    for f in ["weight", "bias", "running_mean", "running_var"] {
        out.push((format!("{prefix}.{f}"), vec![c]));
    }
}

/// A convolution with its batch norm folded in.
#[derive(Debug)]
struct ConvBn {
    w: Tensor,
    b: Tensor,
    stride: usize,
    pad: usize,
}

impl ConvBn {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let c = self.b.dim(0)?;
        x.conv2d(&self.w, self.pad, self.stride, 1, 1)?
            .broadcast_add(&self.b.reshape((1, c, 1, 1))?)
    }
}

#[derive(Debug)]
struct Bottleneck {
    conv1: ConvBn,
    conv2: ConvBn,
    conv3: ConvBn,
    down: Option<ConvBn>,
}

impl Bottleneck {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = self.conv1.forward(x)?.relu()?;
        let y = self.conv2.forward(&y)?.relu()?;
        let y = self.conv3.forward(&y)?;
        let shortcut = match &self.down {
            Some(d) => d.forward(x)?,
            None => x.clone(),
        };
        (y + shortcut)?.relu()
    }
}

/// The loaded encoder.
#[derive(Debug)]
pub struct ResNetEncoder {
    /// Its architecture.
    pub config: ResNetConfig,
    stem: ConvBn,
    blocks: Vec<Bottleneck>,
}

fn bad(path: &Path, problem: String) -> EvalError {
    EvalError::DataMissing(format!(
        "{}: {problem}; {}",
        path.display(),
        super::resnet::how_to_stage()
    ))
}

/// Reads the architecture from tensor names (see the module docs).
fn infer_config(path: &Path, t: &HashMap<String, Tensor>) -> Result<ResNetConfig, EvalError> {
    let width = t.get("conv1.weight").map(|w| w.dims()[0]).ok_or_else(|| {
        bad(
            path,
            "has no tensor `conv1.weight`: not a torchvision ResNet".into(),
        )
    })?;
    let mut blocks = [0; 4];
    for (l, n) in blocks.iter_mut().enumerate() {
        while t.contains_key(&format!("layer{}.{}.conv1.weight", l + 1, *n)) {
            *n += 1;
        }
        if *n == 0 {
            return Err(bad(
                path,
                format!(
                    "has no `layer{}.0.*` tensors: not a torchvision ResNet",
                    l + 1
                ),
            ));
        }
    }
    Ok(ResNetConfig { blocks, width })
}

impl ResNetEncoder {
    /// Loads a torchvision bottleneck ResNet state dict saved as safetensors.
    pub fn load(path: &Path) -> Result<ResNetEncoder, EvalError> {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| bad(path, format!("unreadable as safetensors ({e})")))?;
        Self::from_tensors(path, &tensors)
    }

    /// Builds the encoder from loaded tensors (`path` only names them in errors).
    pub fn from_tensors(
        path: &Path,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<ResNetEncoder, EvalError> {
        let config = infer_config(path, tensors)?;
        for (name, shape) in config.tensors() {
            match tensors.get(&name) {
                Some(t) if t.dims() == shape.as_slice() => {}
                Some(t) => {
                    return Err(bad(
                        path,
                        format!("`{name}` has shape {:?}, expected {shape:?}", t.dims()),
                    ))
                }
                None => return Err(bad(path, format!("has no tensor `{name}`"))),
            }
        }
        let internal =
            |e: candle_core::Error| EvalError::Internal(format!("folding {}: {e}", path.display()));
        let fold = |conv: &str, bn: &str, stride, pad| {
            fold_bn(tensors, conv, bn, stride, pad).map_err(internal)
        };
        let stem = fold("conv1", "bn1", 2, 3)?;
        let mut blocks = Vec::new();
        for (l, &n) in config.blocks.iter().enumerate() {
            for b in 0..n {
                let p = format!("layer{}.{b}", l + 1);
                let stride = if b == 0 && l > 0 { 2 } else { 1 };
                blocks.push(Bottleneck {
                    conv1: fold(&format!("{p}.conv1"), &format!("{p}.bn1"), 1, 0)?,
                    conv2: fold(&format!("{p}.conv2"), &format!("{p}.bn2"), stride, 1)?,
                    conv3: fold(&format!("{p}.conv3"), &format!("{p}.bn3"), 1, 0)?,
                    down: if b == 0 {
                        Some(fold(
                            &format!("{p}.downsample.0"),
                            &format!("{p}.downsample.1"),
                            stride,
                            0,
                        )?)
                    } else {
                        None
                    },
                });
            }
        }
        Ok(ResNetEncoder {
            config,
            stem,
            blocks,
        })
    }

    /// Pooled features `[n, feature_dim]` of normalised images `[n, 3, h, w]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.stem.forward(x)?.relu()?;
        // Zero padding equals torchvision's -inf padding here: the input is ≥ 0 (ReLU).
        let mut x = x
            .pad_with_zeros(D::Minus1, 1, 1)?
            .pad_with_zeros(D::Minus2, 1, 1)?
            .max_pool2d_with_stride(3, 2)?;
        for b in &self.blocks {
            x = b.forward(&x)?;
        }
        x.mean(D::Minus1)?.mean(D::Minus1)
    }
}

/// `conv.weight` scaled by γ/√(σ²+ε) per output channel, and the bias β − μ·γ/√(σ²+ε).
fn fold_bn(
    t: &HashMap<String, Tensor>,
    conv: &str,
    bn: &str,
    stride: usize,
    pad: usize,
) -> candle_core::Result<ConvBn> {
    let get = |n: String| -> candle_core::Result<Tensor> {
        t.get(&n)
            .ok_or_else(|| candle_core::Error::Msg(format!("missing `{n}`")))?
            .to_dtype(DType::F32)
    };
    let w = get(format!("{conv}.weight"))?;
    let gamma = get(format!("{bn}.weight"))?;
    let beta = get(format!("{bn}.bias"))?;
    let mean = get(format!("{bn}.running_mean"))?;
    let var = get(format!("{bn}.running_var"))?;
    let scale = (gamma / (var + BN_EPS)?.sqrt()?)?;
    let c = scale.dim(0)?;
    Ok(ConvBn {
        w: w.broadcast_mul(&scale.reshape((c, 1, 1, 1))?)?
            .contiguous()?,
        b: (beta - (mean * &scale)?)?,
        stride,
        pad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet50_has_torchvision_tensor_count() {
        // torchvision's resnet50 state dict: 320 tensors, of which 53 are
        // num_batches_tracked and 2 the classifier.
        let c = ResNetConfig::resnet50();
        assert_eq!(c.tensors().len(), 320 - 53 - 2);
        assert_eq!(c.feature_dim(), 2048);
    }

    #[test]
    fn folded_batch_norm_equals_conv_then_batch_norm() {
        let mut rng = crate::rng::Rng::new(3);
        let mut rand = |shape: &[usize], lo: f64, hi: f64| {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|_| (lo + (hi - lo) * rng.next_f64()) as f32)
                .collect();
            Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
        };
        let mut t = HashMap::new();
        t.insert("c.weight".to_string(), rand(&[5, 3, 3, 3], -1.0, 1.0));
        t.insert("b.weight".to_string(), rand(&[5], 0.5, 2.0));
        t.insert("b.bias".to_string(), rand(&[5], -1.0, 1.0));
        t.insert("b.running_mean".to_string(), rand(&[5], -1.0, 1.0));
        t.insert("b.running_var".to_string(), rand(&[5], 0.1, 3.0));
        let x = rand(&[2, 3, 9, 7], -2.0, 2.0);
        let folded = fold_bn(&t, "c", "b", 2, 1).unwrap().forward(&x).unwrap();
        let col = |n: &str| t[n].reshape((1, 5, 1, 1)).unwrap();
        let reference = x
            .conv2d(&t["c.weight"], 1, 2, 1, 1)
            .unwrap()
            .broadcast_sub(&col("b.running_mean"))
            .unwrap()
            .broadcast_div(&(col("b.running_var") + BN_EPS).unwrap().sqrt().unwrap())
            .unwrap()
            .broadcast_mul(&col("b.weight"))
            .unwrap()
            .broadcast_add(&col("b.bias"))
            .unwrap();
        assert_eq!(folded.dims(), [2, 5, 5, 4]);
        let diff = (folded - reference)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "{diff}");
    }
}
