//! Reading and writing `model.safetensors`: every tensor of [`tensor_specs`] by name
//! with its shape, float32, bfloat16 or float16 (converted to float32), finite. The
//! prefixes PyTorch adds to state-dict keys (`module.` from DDP, `_orig_mod.` from
//! `torch.compile`) are stripped, as MLGym's evaluator strips them.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype as StDtype, TensorView};

use super::config::ModelConfig;
use super::model::tensor_specs;
use super::LmError;

/// Strips `module.` and `_orig_mod.` prefixes, in any order and number.
pub fn canonical_name(name: &str) -> &str {
    let mut n = name;
    loop {
        match n
            .strip_prefix("module.")
            .or_else(|| n.strip_prefix("_orig_mod."))
        {
            Some(rest) => n = rest,
            None => return n,
        }
    }
}

fn weights_err(file: &Path, message: String) -> LmError {
    LmError::Weights {
        file: file.display().to_string(),
        message,
    }
}

/// Reads `path`, checks it against `cfg` (names, shapes, dtypes, finite values) and
/// returns the tensors as f32 on the CPU, keyed by canonical name.
pub fn load(path: &Path, cfg: &ModelConfig) -> Result<BTreeMap<String, Tensor>, LmError> {
    let bytes = std::fs::read(path).map_err(|e| weights_err(path, format!("cannot read: {e}")))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
        weights_err(path, format!("not a safetensors file ({e}); save the state dict with safetensors (see docs/lm-submission.md)"))
    })?;
    let mut found: BTreeMap<String, TensorView<'_>> = BTreeMap::new();
    for (name, view) in st.tensors() {
        let canon = canonical_name(&name).to_string();
        if found.insert(canon.clone(), view).is_some() {
            return Err(weights_err(path, format!("tensor `{canon}` appears twice (after stripping `module.`/`_orig_mod.` prefixes)")));
        }
    }
    let specs = tensor_specs(cfg);
    if cfg.tie_embeddings {
        // A tied PyTorch model may carry the head under its own name too; it must be the
        // embedding itself.
        if let (Some(h), Some(e)) = (
            found.get("lm_head.weight"),
            found.get("transformer.wte.weight"),
        ) {
            if h.data() != e.data() || h.shape() != e.shape() {
                return Err(weights_err(path, "tensor `lm_head.weight` differs from `transformer.wte.weight`, but `tie_embeddings` is true in model_config.json: remove one or set `tie_embeddings` to false".into()));
            }
        }
        found.remove("lm_head.weight");
    }
    let missing: Vec<&str> = specs
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| !found.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        return Err(weights_err(
            path,
            format!(
                "{} tensor(s) that model_config.json implies are missing: {}{}; check the names in docs/lm-submission.md and the config's fields (n_layer, bias, activation, norm_affine, position, tie_embeddings)",
                missing.len(),
                missing.iter().take(6).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                if missing.len() > 6 { ", ..." } else { "" }
            ),
        ));
    }
    let extra: Vec<&String> = found
        .keys()
        .filter(|n| !specs.iter().any(|s| &s.name == *n))
        .collect();
    if !extra.is_empty() {
        return Err(weights_err(
            path,
            format!(
                "tensor(s) {} are not part of the model model_config.json describes; remove them or fix the config (n_layer, bias, activation, norm_affine, position, tie_embeddings)",
                extra.iter().take(6).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for s in &specs {
        let Some(view) = found.get(&s.name) else {
            continue;
        };
        if view.shape() != s.shape.as_slice() {
            return Err(weights_err(
                path,
                format!(
                    "tensor `{}` has shape {:?}, but model_config.json implies {:?}",
                    s.name,
                    view.shape(),
                    s.shape
                ),
            ));
        }
        let dtype = match view.dtype() {
            StDtype::F32 => DType::F32,
            StDtype::BF16 => DType::BF16,
            StDtype::F16 => DType::F16,
            other => {
                return Err(weights_err(
                    path,
                    format!(
                        "tensor `{}` is {other:?}; use float32, bfloat16 or float16",
                        s.name
                    ),
                ))
            }
        };
        let t = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|e| weights_err(path, format!("tensor `{}`: {e}", s.name)))?;
        let bad = t
            .flatten_all()
            .and_then(|f| f.to_vec1::<f32>())
            .map_err(|e| weights_err(path, format!("tensor `{}`: {e}", s.name)))?
            .iter()
            .position(|v| !v.is_finite());
        if let Some(i) = bad {
            return Err(weights_err(path, format!("tensor `{}` holds a NaN or infinite value (element {i}); the training diverged or the file is damaged", s.name)));
        }
        out.insert(s.name.clone(), t);
    }
    Ok(out)
}

/// The safetensors bytes of `weights` (converted to f32, names sorted).
pub fn serialize(weights: &BTreeMap<String, Tensor>) -> Result<Vec<u8>, LmError> {
    let mut data = Vec::with_capacity(weights.len());
    for (name, t) in weights {
        let v = t
            .to_dtype(DType::F32)
            .and_then(|t| t.to_device(&Device::Cpu))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| LmError::Candle(format!("saving `{name}`: {e}")))?;
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        data.push((name.clone(), t.dims().to_vec(), bytes));
    }
    let views = data
        .iter()
        .map(|(n, shape, b)| {
            TensorView::new(StDtype::F32, shape.clone(), b).map(|v| (n.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LmError::Candle(format!("safetensors: {e}")))?;
    safetensors::tensor::serialize(views, None)
        .map_err(|e| LmError::Candle(format!("safetensors: {e}")))
}

/// Writes a submission: `model.safetensors` and `model_config.json` in `dir` (each
/// through a temporary file and a rename).
pub fn save(
    dir: &Path,
    cfg: &ModelConfig,
    weights: &BTreeMap<String, Tensor>,
) -> Result<(), LmError> {
    use crate::datasets::stage::write_atomic;
    let bytes = serialize(weights)?;
    write_atomic(&dir.join(super::MODEL_FILE), &bytes).map_err(|e| LmError::Io(e.to_string()))?;
    write_atomic(&dir.join(super::CONFIG_FILE), cfg.to_json().as_bytes())
        .map_err(|e| LmError::Io(e.to_string()))
}
