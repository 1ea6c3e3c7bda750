//! A tiny random `BertForSequenceClassification` checkpoint: the tiny BERT of
//! [`crate::text::tiny`] with the `bert.` prefix, a pooler and a 3-way classifier, as
//! `save_pretrained` lays it out. For tests and smoke runs (its predictions mean nothing).

use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use crate::rng::Rng;
use crate::text::bert::WEIGHTS_FILE;
use crate::text::tiny::{write_tiny_bert, TINY_HIDDEN};
use crate::text::TextError;

/// Writes the tiny classifier (config.json, model.safetensors, tokenizer.json) into
/// `dir`; `seed` draws its weights, `labels` is the classifier's width.
pub fn write_tiny_classifier(dir: &Path, seed: u64, labels: usize) -> Result<(), TextError> {
    write_tiny_bert(dir, seed)?;
    let path = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).map_err(|e| TextError::read(&path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| TextError::format(&path, e.to_string()))?;
    let mut rng = Rng::new(seed ^ 0x6e6c69);
    let h = TINY_HIDDEN;
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (format!("bert.{n}"), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    // A small pooler keeps tanh out of saturation and a large classifier spreads the
    // logits, so that different pairs get different labels.
    for (name, shape, scale) in [
        ("bert.pooler.dense.weight", vec![h, h], 0.2),
        ("bert.pooler.dense.bias", vec![h], 0.0),
        ("classifier.weight", vec![labels, h], 3.0),
        ("classifier.bias", vec![labels], 0.0),
    ] {
        let n: usize = shape.iter().product();
        let data = (0..n)
            .flat_map(|_| ((rng.normal() * scale) as f32).to_le_bytes())
            .collect();
        owned.push((name.to_string(), shape, data));
    }
    let views = owned
        .iter()
        .map(|(n, s, d)| {
            TensorView::new(Dtype::F32, s.clone(), d)
                .map(|v| (n.clone(), v))
                .map_err(|e| TextError::format(&path, format!("tensor `{n}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out =
        safetensors::serialize(views, None).map_err(|e| TextError::format(&path, e.to_string()))?;
    std::fs::write(&path, out).map_err(|e| TextError::write(&path, e))
}
