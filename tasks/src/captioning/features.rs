//! Images → pooled encoder features, computed once per image and kept in memory for
//! every epoch (the encoder is frozen and the transform has no augmentation, so this
//! equals MLGym's per-batch encoding).
//!
//! Transform (MLGym's): RGB, resize to `size × size` (bilinear with antialiasing, as
//! PIL's `BILINEAR`; the image crate's triangle filter, not bit-identical to PIL), scale
//! to [0, 1], normalise with the ImageNet mean and standard deviation.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::encoder::ResNetEncoder;
use crate::evaluator::EvalError;

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The normalised image at `path` as CHW `f32` values of a `size × size` image.
pub fn load_image(path: &Path, size: u32) -> Result<Vec<f32>, EvalError> {
    let img = image::open(path).map_err(|e| {
        EvalError::DataMissing(format!(
            "{}: not a readable image ({e}); import coco again",
            path.display()
        ))
    })?;
    let rgb = image::imageops::resize(
        &img.to_rgb8(),
        size,
        size,
        image::imageops::FilterType::Triangle,
    );
    let plane = (size * size) as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in rgb.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (f32::from(px.0[c]) / 255.0 - MEAN[c]) / STD[c];
        }
    }
    Ok(out)
}

/// Encoded images: row `i` of `values` (`dim` long) is image `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// Row-major `[n, dim]`.
    pub values: Vec<f32>,
    /// Feature length.
    pub dim: usize,
}

impl Features {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.values.len() / self.dim.max(1)
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Rows `idx` as a `[idx.len(), dim]` tensor.
    pub fn rows(&self, idx: &[usize]) -> candle_core::Result<Tensor> {
        let mut v = Vec::with_capacity(idx.len() * self.dim);
        for &i in idx {
            v.extend_from_slice(&self.values[i * self.dim..(i + 1) * self.dim]);
        }
        Tensor::from_vec(v, (idx.len(), self.dim), &Device::Cpu)
    }
}

/// Encodes `paths` in batches of `batch` (images decoded in parallel), reporting
/// progress as `label`.
pub fn encode_all(
    encoder: &ResNetEncoder,
    paths: &[PathBuf],
    size: u32,
    batch: usize,
    label: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Features, EvalError> {
    let dim = encoder.config.feature_dim();
    let mut values = Vec::with_capacity(paths.len() * dim);
    let start = Instant::now();
    let mut last = Instant::now();
    let s = size as usize;
    for (k, chunk) in paths.chunks(batch.max(1)).enumerate() {
        let pixels: Vec<Vec<f32>> = chunk
            .par_iter()
            .map(|p| load_image(p, size))
            .collect::<Result<_, _>>()?;
        let flat: Vec<f32> = pixels.concat();
        let feats = Tensor::from_vec(flat, (chunk.len(), 3, s, s), &Device::Cpu)
            .and_then(|x| encoder.forward(&x))
            .and_then(|f| f.flatten_all())
            .and_then(|f| f.to_vec1::<f32>())
            .map_err(|e| EvalError::Internal(format!("encoding {label} images: {e}")))?;
        values.extend(feats);
        let done = (k * batch.max(1) + chunk.len()).min(paths.len());
        if last.elapsed().as_secs_f64() >= 10.0 || done == paths.len() {
            let rate = done as f64 / start.elapsed().as_secs_f64().max(1e-9);
            progress(&format!(
                "encoded {done}/{} {label} images ({rate:.1} images/s)",
                paths.len()
            ));
            last = Instant::now();
        }
    }
    Ok(Features { values, dim })
}
