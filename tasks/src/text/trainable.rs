//! Trainable variables for fine-tuning a checkpoint: a candle [`VarBuilder`] backend that
//! turns every tensor a model asks for into a [`Var`] holding the checkpoint's value, and
//! remembers them by name so that an optimiser can update them and a saver can write
//! them back.
//!
//! Names are canonical: without the `bert.` prefix (a `BertFor…` checkpoint's encoder
//! tensors are found either way) and with LayerNorm's `weight`/`bias` (the legacy
//! `gamma`/`beta` of TensorFlow-converted checkpoints such as bert-base-uncased are read
//! under those names). Tensors absent from the checkpoint are created only under the
//! prefixes given as new heads (e.g. `classifier.`), from the seed: weights N(0, std),
//! biases 0, LayerNorm weights 1 (Hugging Face's `_init_weights`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::{Init, VarBuilder};

use crate::rng::Rng;

struct Inner {
    tensors: HashMap<String, Tensor>,
    new_heads: Vec<String>,
    init_std: f64,
    rng: Mutex<Rng>,
    vars: Mutex<Vec<(String, Var)>>,
}

/// The checkpoint's tensors and the variables made from them so far.
#[derive(Clone)]
pub struct TrainableWeights {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TrainableWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainableWeights")
            .field("tensors", &self.inner.tensors.len())
            .field("new_heads", &self.inner.new_heads)
            .finish()
    }
}

fn canonical(name: &str) -> &str {
    name.strip_prefix("bert.").unwrap_or(name)
}

fn lock<T>(m: &Mutex<T>) -> candle_core::Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| candle_core::Error::Msg("trainable weights: a lock was poisoned".into()))
}

impl TrainableWeights {
    /// Wraps a checkpoint's `tensors` (any float dtype; read as `f32`). Tensors missing
    /// from it may be created only under `new_heads` prefixes, with weights drawn from
    /// N(0, `init_std`) by a generator seeded with `seed`.
    pub fn new(
        tensors: HashMap<String, Tensor>,
        new_heads: &[&str],
        init_std: f64,
        seed: u64,
    ) -> TrainableWeights {
        TrainableWeights {
            inner: Arc::new(Inner {
                tensors,
                new_heads: new_heads.iter().map(|s| s.to_string()).collect(),
                init_std,
                rng: Mutex::new(Rng::new(seed)),
                vars: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A [`VarBuilder`] over these weights (f32, CPU).
    pub fn var_builder(&self) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self.clone()), DType::F32, Device::Cpu)
    }

    /// The variables created so far, sorted by canonical name.
    pub fn vars(&self) -> candle_core::Result<Vec<(String, Var)>> {
        let mut v = lock(&self.inner.vars)?.clone();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }

    /// The checkpoint tensor stored for canonical `name`, under any of its spellings.
    fn find(&self, name: &str) -> Option<&Tensor> {
        let legacy = name
            .strip_suffix("LayerNorm.weight")
            .map(|s| format!("{s}LayerNorm.gamma"))
            .or_else(|| {
                name.strip_suffix("LayerNorm.bias")
                    .map(|s| format!("{s}LayerNorm.beta"))
            });
        let t = &self.inner.tensors;
        [Some(name.to_string()), legacy]
            .into_iter()
            .flatten()
            .flat_map(|n| [format!("bert.{n}"), n])
            .find_map(|n| t.get(&n))
    }

    fn fresh(&self, shape: &Shape, name: &str, hint: Init) -> candle_core::Result<Tensor> {
        let allowed = self.inner.new_heads.iter().any(|p| name.starts_with(p));
        if !allowed {
            candle_core::bail!(
                "the checkpoint has no tensor `{name}` (nor `bert.{name}`): it is not the model that config.json describes"
            );
        }
        let n = shape.elem_count();
        let values: Vec<f32> = match hint {
            Init::Const(c) => vec![c as f32; n],
            _ if name.ends_with("bias") => vec![0.0; n],
            _ => {
                let mut rng = lock(&self.inner.rng)?;
                (0..n)
                    .map(|_| (rng.normal() * self.inner.init_std) as f32)
                    .collect()
            }
        };
        Tensor::from_vec(values, shape, &Device::Cpu)
    }
}

impl candle_nn::var_builder::SimpleBackend for TrainableWeights {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        hint: Init,
        dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let name = canonical(name);
        if let Some((_, v)) = lock(&self.inner.vars)?.iter().find(|(n, _)| n == name) {
            return Ok(v.as_tensor().clone());
        }
        let value = match self.find(name) {
            Some(t) if t.shape() != &shape => candle_core::bail!(
                "tensor `{name}` has shape {:?} in the checkpoint, but the model needs {:?}",
                t.dims(),
                shape.dims()
            ),
            Some(t) => t.to_dtype(dtype)?,
            None => self.fresh(&shape, name, hint)?.to_dtype(dtype)?,
        };
        let var = Var::from_tensor(&value)?;
        lock(&self.inner.vars)?.push((name.to_string(), var.clone()));
        Ok(var.as_tensor().clone())
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        match self.find(canonical(name)) {
            Some(t) => t.to_dtype(dtype),
            None => candle_core::bail!("the checkpoint has no tensor `{name}`"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.find(canonical(name)).is_some()
    }
}
