//! Random torchvision-style ResNet weights for tests and timing (their features mean
//! nothing): He-normal convolutions, batch norms with γ = 1, β = 0, μ = 0, σ² = 1, and a
//! 1000-way classifier, saved as safetensors with torchvision's names, so that
//! [`super::encoder::ResNetEncoder::load`] reads them like the staged ResNet-50.

use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use super::encoder::ResNetConfig;
use crate::datasets::stage::write_atomic;
use crate::datasets::DataError;
use crate::rng::Rng;

/// A two-channel-wide net with one bottleneck per stage (feature length 64).
pub const TINY: ResNetConfig = ResNetConfig {
    blocks: [1, 1, 1, 1],
    width: 2,
};

/// Writes random weights of `config` to `path`; `seed` draws them.
pub fn write_random_resnet(path: &Path, config: &ResNetConfig, seed: u64) -> Result<(), DataError> {
    let mut rng = Rng::new(seed);
    let mut specs = config.tensors();
    let feat = config.feature_dim();
    specs.push(("fc.weight".into(), vec![1000, feat]));
    specs.push(("fc.bias".into(), vec![1000]));
    let data: Vec<Vec<u8>> = specs
        .iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let fan_in: usize = shape.iter().skip(1).product();
            let value = |rng: &mut Rng| -> f32 {
                if name.ends_with("running_var") || name.ends_with(".weight") && shape.len() == 1 {
                    1.0
                } else if shape.len() == 1 {
                    0.0
                } else {
                    (rng.normal() * (2.0 / fan_in as f64).sqrt()) as f32
                }
            };
            (0..n).flat_map(|_| value(&mut rng).to_le_bytes()).collect()
        })
        .collect();
    let views = specs
        .iter()
        .zip(&data)
        .map(|((n, s), d)| {
            TensorView::new(Dtype::F32, s.clone(), d)
                .map(|v| (n.clone(), v))
                .map_err(|e| DataError::format(path, format!("tensor `{n}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bytes =
        safetensors::serialize(views, None).map_err(|e| DataError::format(path, e.to_string()))?;
    write_atomic(path, &bytes)
}
