//! Checkpoints: `checkpoints/*.safetensors`, one per training seed, holding the tensors of
//! [`NetSpec::tensors`] (see `docs/rl-policies.md` for names and shapes).
//!
//! Reading checks everything and names the file and the tensor in each error: the file must
//! parse as safetensors; every actor tensor must be present with its exact shape; the critic
//! tensors (unused by the evaluation) may be left out, but only all together; no other
//! tensor may be present; the dtype must be F32 (F64 is accepted and rounded to F32); every
//! value must be finite.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use super::config::PolicyConfig;
use super::net::NetSpec;
use super::PolicyError;

/// The folder of the checkpoints inside the submission.
pub const CHECKPOINT_DIR: &str = "checkpoints";
/// Checkpoints a submission must hold (MLGym trains and evaluates five model seeds).
pub const NUM_CHECKPOINTS: usize = 5;
/// The file extension of a checkpoint.
pub const EXTENSION: &str = "safetensors";

/// The checkpoint files of the submission in `dir`, as paths relative to it
/// (`checkpoints/<name>.safetensors`), sorted by name. There must be exactly `expected`.
pub fn list_checkpoints(dir: &Path, expected: usize) -> Result<Vec<PathBuf>, PolicyError> {
    let folder = dir.join(CHECKPOINT_DIR);
    let entries = match std::fs::read_dir(&folder) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PolicyError::NotFound(format!(
                "{CHECKPOINT_DIR}/ is missing: save {expected} checkpoints as \
                 {CHECKPOINT_DIR}/<name>.{EXTENSION}"
            )))
        }
        Err(e) => {
            return Err(PolicyError::invalid(
                format!("{CHECKPOINT_DIR}/"),
                format!("cannot be read: {e}"),
            ))
        }
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(&format!(".{EXTENSION}")))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(PolicyError::NotFound(format!(
            "no {CHECKPOINT_DIR}/*.{EXTENSION} files: save {expected} checkpoints, one per training seed"
        )));
    }
    if names.len() != expected {
        return Err(PolicyError::invalid(
            format!("{CHECKPOINT_DIR}/"),
            format!(
                "found {} checkpoints ({}); the evaluation needs exactly {expected}, one per training seed",
                names.len(),
                names.join(", ")
            ),
        ));
    }
    Ok(names
        .into_iter()
        .map(|n| Path::new(CHECKPOINT_DIR).join(n))
        .collect())
}

/// Reads and checks the checkpoint at `path` (named `rel` in messages) against `spec`;
/// returns the flat parameters (critic left at zero when the file has no critic).
pub fn read_checkpoint(
    path: &Path,
    rel: &Path,
    spec: &NetSpec,
    cfg: &PolicyConfig,
) -> Result<Vec<f32>, PolicyError> {
    let file = rel.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| PolicyError::invalid(&file, format!("cannot be read: {e}")))?;
    decode(&bytes, spec, cfg).map_err(|m| PolicyError::invalid(file, m))
}

/// [`read_checkpoint`] on bytes; the error is the message without the file name.
pub fn decode(bytes: &[u8], spec: &NetSpec, cfg: &PolicyConfig) -> Result<Vec<f32>, String> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        format!(
            "not a valid safetensors file ({e}); write it with safetensors' save_file or the \
             writer in docs/rl-policies.md"
        )
    })?;
    let expected = spec.tensors();
    let present: HashMap<&str, TensorView<'_>> = st.iter().collect();
    let mut unknown: Vec<&str> = present
        .keys()
        .copied()
        .filter(|n| !expected.iter().any(|t| t.name == *n))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(format!(
            "unexpected tensor `{}` ({}); expected only: {}",
            unknown[0],
            cfg.describe(),
            expected
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let has_critic = expected
        .iter()
        .any(|t| t.name.starts_with("critic") && present.contains_key(t.name.as_str()));
    let mut params = vec![0.0f32; spec.num_params()];
    for t in &expected {
        let Some(view) = present.get(t.name.as_str()) else {
            if t.name.starts_with("critic") && !has_critic {
                continue;
            }
            return Err(format!(
                "missing tensor `{}` (shape {:?}, {}); the critic tensors may be left out only \
                 all together",
                t.name,
                t.shape,
                cfg.describe()
            ));
        };
        if view.shape() != t.shape.as_slice() {
            let hint = if t.shape.len() == 2 && view.shape() == [t.shape[1], t.shape[0]] {
                " (kernels are [inputs, outputs]: transpose a PyTorch-style [outputs, inputs] weight)"
            } else {
                ""
            };
            return Err(format!(
                "tensor `{}` has shape {:?}; expected {:?}{hint} ({})",
                t.name,
                view.shape(),
                t.shape,
                cfg.describe()
            ));
        }
        let dst = &mut params[t.offset..t.offset + t.len()];
        match view.dtype() {
            Dtype::F32 => {
                for (d, c) in dst.iter_mut().zip(view.data().chunks_exact(4)) {
                    *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
            Dtype::F64 => {
                for (d, c) in dst.iter_mut().zip(view.data().chunks_exact(8)) {
                    *d =
                        f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32;
                }
            }
            other => {
                return Err(format!(
                    "tensor `{}` has dtype {other:?}; write float32 (numpy: .astype(np.float32))",
                    t.name
                ))
            }
        }
        if let Some(i) = dst.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "tensor `{}` holds a non-finite value ({}) at flat index {i}; every weight must be finite",
                t.name, dst[i]
            ));
        }
    }
    Ok(params)
}

/// Encodes `params` (laid out as `spec`) as a safetensors file with `metadata`.
pub fn encode(
    spec: &NetSpec,
    params: &[f32],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, String> {
    let tensors = spec.tensors();
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| le_bytes(&params[t.offset..t.offset + t.len()]))
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for (t, b) in tensors.iter().zip(&bytes) {
        let v = TensorView::new(Dtype::F32, t.shape.clone(), b)
            .map_err(|e| format!("tensor `{}`: {e}", t.name))?;
        views.push((t.name.clone(), v));
    }
    let meta: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    safetensors::serialize(views, Some(meta)).map_err(|e| e.to_string())
}

/// `values` as safetensors' little-endian F32 payload.
fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `params` as the checkpoint file `path`.
pub fn write_checkpoint(
    path: &Path,
    spec: &NetSpec,
    params: &[f32],
    metadata: &BTreeMap<String, String>,
) -> Result<(), PolicyError> {
    let file = path.display().to_string();
    let bytes = encode(spec, params, metadata).map_err(|m| PolicyError::invalid(&file, m))?;
    std::fs::write(path, bytes)
        .map_err(|e| PolicyError::invalid(file, format!("cannot be written: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::policy::config::NetworkConfig;
    use crate::rl::policy::net::HeadKind;
    use crate::rng::Rng;

    fn setup() -> (NetSpec, PolicyConfig) {
        let spec = NetSpec {
            obs_dim: 2,
            hidden_layers: 2,
            hidden_units: 4,
            head: HeadKind::Gaussian,
        };
        (
            spec,
            PolicyConfig {
                network: NetworkConfig {
                    num_hidden_layers: 2,
                    num_hidden_units: 4,
                },
            },
        )
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let (spec, cfg) = setup();
        let params = spec.init(&mut Rng::new(1));
        let bytes = encode(&spec, &params, &BTreeMap::new()).unwrap();
        assert_eq!(decode(&bytes, &spec, &cfg).unwrap(), params);
    }

    #[test]
    fn critic_may_be_left_out_but_not_half_of_it() {
        let (spec, cfg) = setup();
        let params = spec.init(&mut Rng::new(1));
        let tensors: Vec<_> = spec
            .tensors()
            .into_iter()
            .filter(|t| !t.name.starts_with("critic"))
            .collect();
        let bytes: Vec<Vec<u8>> = tensors
            .iter()
            .map(|t| le_bytes(&params[t.offset..t.offset + t.len()]))
            .collect();
        let views: Vec<_> = tensors
            .iter()
            .zip(&bytes)
            .map(|(t, b)| {
                (
                    t.name.clone(),
                    TensorView::new(Dtype::F32, t.shape.clone(), b).unwrap(),
                )
            })
            .collect();
        let file = safetensors::serialize(views.clone(), None).unwrap();
        let got = decode(&file, &spec, &cfg).unwrap();
        let first_actor = tensors[0].offset;
        assert_eq!(got[first_actor..], params[first_actor..]);
        assert!(got[..first_actor].iter().all(|&v| v == 0.0));
        let mut half = views;
        let k = spec.tensors()[0].clone();
        let kb = le_bytes(&params[..k.len()]);
        half.push((
            k.name.clone(),
            TensorView::new(Dtype::F32, k.shape.clone(), &kb).unwrap(),
        ));
        let e = decode(&safetensors::serialize(half, None).unwrap(), &spec, &cfg).unwrap_err();
        assert!(e.contains("missing tensor `critic_fc_1.bias`"), "{e}");
    }
}
