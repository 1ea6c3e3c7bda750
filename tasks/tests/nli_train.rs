//! The MNLI baseline fine-tunes every parameter of BERT in candle: the LayerNorm's
//! gradients match candle's own differentiation of the composed operations, one step
//! changes every parameter tensor, a token rule is learnt well above chance, `--quick` is
//! deterministic and scored by the evaluator. `nli_train_throughput` (ignored) measures
//! pairs/s of full fine-tuning against head-only training.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "nli_support/mod.rs"]
mod nli_support;
#[path = "text_support/mod.rs"]
mod text_support;

use std::path::Path;

use candle_core::{Device, Tensor, Var};
use mlgym_tasks::nli::asset;
use mlgym_tasks::nli::data::Pair;
use mlgym_tasks::nli::evaluate::{NliEvaluator, METRIC, SUBMISSION_DIR};
use mlgym_tasks::nli::train::{fine_tune, Recipe};
use mlgym_tasks::text::layer_norm::layer_norm;
use nli_support::{pairs, staged_root, staged_root_with};

#[test]
fn layer_norm_gradients_match_the_composed_operations() {
    let dev = Device::Cpu;
    let (rows, width) = (37, 24); // more rows than one rayon chunk
    let vals = |n: usize, k: f32| -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 % 263) as f32 / 263.0 - 0.4) * k)
            .collect()
    };
    let x = Var::from_vec(vals(rows * width, 3.0), (rows, width), &dev).unwrap();
    let g = Var::from_vec(vals(width, 1.0), width, &dev).unwrap();
    let b = Var::from_vec(vals(width, 0.5), width, &dev).unwrap();
    let w = Tensor::new(vals(rows * width, 2.0), &dev)
        .unwrap()
        .reshape((rows, width))
        .unwrap();
    let eps = 1e-12;
    let ours = layer_norm(&x, &g, &b, eps).unwrap();
    let slow = candle_nn::ops::layer_norm_slow(&x, &g, &b, eps as f32).unwrap();
    // The forward is candle's fused kernel, bit for bit.
    let fused = candle_nn::ops::layer_norm(&x, &g, &b, eps as f32).unwrap();
    assert_eq!(
        ours.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        fused.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
    let grads = |y: &Tensor| {
        let gs = (y * &w).unwrap().sum_all().unwrap().backward().unwrap();
        [x.as_tensor(), g.as_tensor(), b.as_tensor()].map(|t| {
            gs.get(t)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
    };
    for (mine, reference) in grads(&ours).iter().zip(grads(&slow).iter()) {
        let scale = reference.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (a, r) in mine.iter().zip(reference) {
            assert!((a - r).abs() <= 1e-4 * scale, "{a} vs {r}");
        }
    }
}

/// Every tensor of `a`'s and `b`'s `bert_mnli_model/`, with whether its bytes differ.
fn changed(a: &Path, b: &Path) -> Vec<(String, bool)> {
    let read = |p: &Path| std::fs::read(p.join(SUBMISSION_DIR).join("model.safetensors")).unwrap();
    let (ab, bb) = (read(a), read(b));
    let (sa, sb) = (
        safetensors::SafeTensors::deserialize(&ab).unwrap(),
        safetensors::SafeTensors::deserialize(&bb).unwrap(),
    );
    let mut names = sa.names();
    names.sort();
    assert_eq!(names.len(), sb.names().len());
    names
        .into_iter()
        .map(|n| {
            let diff = sa.tensor(n).unwrap().data() != sb.tensor(n).unwrap().data();
            (n.to_string(), diff)
        })
        .collect()
}

#[test]
fn one_step_updates_every_parameter_tensor() {
    let root = staged_root(&pairs(6));
    // One batch of 16 pairs, no warm-up (its first step has lr 0), no weight decay (so
    // that only gradients can move a tensor), no dropout.
    let step = Recipe {
        max_pairs: Some(16),
        batch: 16,
        warmup: 0.0,
        weight_decay: 0.0,
        dropout: 0.0,
        lr: 1e-3,
        ..Recipe::finetune()
    };
    let init = tempfile::tempdir().unwrap();
    fine_tune(
        root.path(),
        init.path(),
        9,
        Recipe { epochs: 0, ..step },
        &|_| {},
    )
    .unwrap();
    let one = tempfile::tempdir().unwrap();
    let r = fine_tune(root.path(), one.path(), 9, step, &|_| {}).unwrap();
    assert_eq!(r.steps, 1);
    let diff = changed(init.path(), one.path());
    // 2 layers × 16 tensors + 5 embedding tensors + pooler (2) + classifier (2).
    assert_eq!(diff.len(), 41, "{diff:?}");
    assert_eq!(r.trained_tensors, 41);
    let still: Vec<&String> = diff.iter().filter(|d| !d.1).map(|d| &d.0).collect();
    assert!(still.is_empty(), "unchanged after a step: {still:?}");
    for n in [
        "bert.embeddings.LayerNorm.weight",
        "bert.encoder.layer.0.output.LayerNorm.bias",
    ] {
        assert!(diff.iter().any(|d| d.0 == n && d.1), "{n}");
    }

    // Head-only training leaves the encoder exactly as it was.
    let head = tempfile::tempdir().unwrap();
    let h = Recipe {
        train_encoder: false,
        ..step
    };
    let r = fine_tune(root.path(), head.path(), 9, h, &|_| {}).unwrap();
    assert_eq!(r.trained_tensors, 4);
    for (n, d) in changed(init.path(), head.path()) {
        let head_tensor = n.starts_with("bert.pooler.") || n.starts_with("classifier.");
        assert_eq!(d, head_tensor, "{n}");
    }
}

/// The label is the animal the hypothesis names: cat → 0, dog → 1, car → 2.
fn token_rule(n: usize, offset: usize) -> Vec<Pair> {
    let things = ["cat", "dog", "car"];
    let adjectives = ["red", "blue", "green", "fast", "slow", "high", "low"];
    let verbs = ["works", "failed", "is better", "was worse", "is fast"];
    (0..n)
        .map(|j| {
            let i = j + offset;
            let label = (i * 7 + i / 3) % 3;
            Pair {
                premise: format!(
                    "the {} {} {} and the model {}.",
                    adjectives[i % 7],
                    things[(i / 7) % 3],
                    verbs[(i / 2) % 5],
                    verbs[(i / 3) % 5]
                ),
                hypothesis: format!(
                    "a {} {} {}",
                    adjectives[(i / 5) % 7],
                    things[label],
                    verbs[i % 5]
                ),
                label: label as u8,
            }
        })
        .collect()
}

#[test]
fn full_fine_tuning_learns_a_token_rule() {
    let (train, valid) = (token_rule(96, 0), token_rule(60, 1000));
    let root = staged_root_with(&train, &valid);
    let recipe = Recipe {
        epochs: 12,
        batch: 16,
        lr: 2e-3,
        warmup: 0.1,
        ..Recipe::finetune()
    };
    let out = tempfile::tempdir().unwrap();
    let r = fine_tune(root.path(), out.path(), 1, recipe, &|_| {}).unwrap();
    let m = NliEvaluator.evaluate_dir(out.path(), root.path()).unwrap();
    let first = r.losses[..6].iter().sum::<f32>() / 6.0;
    let last = r.losses[r.losses.len() - 6..].iter().sum::<f32>() / 6.0;
    println!(
        "token rule: accuracy {} %, loss {first:.3} -> {last:.3}",
        m[METRIC]
    );
    assert!(m[METRIC] >= 80.0, "{m:?}");
    assert!(last < first / 2.0, "{first} -> {last}");
}

#[test]
fn quick_baseline_fine_tunes_and_saves_a_scorable_model() {
    let valid = pairs(12);
    let root = staged_root(&valid);
    let run = |seed: u64| {
        let out = tempfile::tempdir().unwrap();
        fine_tune(root.path(), out.path(), seed, Recipe::quick(), &|_| {}).unwrap();
        out
    };
    let a = run(3);
    let dir = a.path().join(SUBMISSION_DIR);
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert!(st.tensor("bert.embeddings.word_embeddings.weight").is_ok());
    assert_eq!(st.tensor("classifier.weight").unwrap().shape(), [3, 32]);
    assert!(dir.join("tokenizer.json").is_file());
    // transformers' from_pretrained needs the `format` metadata save_pretrained writes.
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let format = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("format").cloned());
    assert_eq!(format.as_deref(), Some("pt"));
    // Standard names only: the legacy LayerNorm gamma/beta are written as weight/bias.
    assert!(st
        .names()
        .iter()
        .all(|n| !n.ends_with("gamma") && !n.ends_with("beta")));
    // The encoder moved away from the pretrained weights.
    let base = std::fs::read(asset::model_dir(root.path()).join("model.safetensors")).unwrap();
    let base = safetensors::SafeTensors::deserialize(&base).unwrap();
    let name = "encoder.layer.0.attention.self.query.weight";
    assert_ne!(
        st.tensor(&format!("bert.{name}")).unwrap().data(),
        base.tensor(name).unwrap().data()
    );
    let m = NliEvaluator.evaluate_dir(a.path(), root.path()).unwrap();
    assert!((0.0..=100.0).contains(&m[METRIC]));
    // Same seed, same weights.
    let b = run(3);
    assert_eq!(
        bytes,
        std::fs::read(b.path().join(SUBMISSION_DIR).join("model.safetensors")).unwrap()
    );
    // Without the model staged: the documented error.
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = fine_tune(empty.path(), out.path(), 0, Recipe::quick(), &|_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("mlgym data import bert-base-uncased"),
        "{err}"
    );
}

/// Pairs long enough to be truncated to 128 tokens (the recipes' length).
fn long_pairs(n: usize) -> Vec<Pair> {
    let words = [
        "the", "cat", "is", "fast", "and", "a", "dog", "was", "slow", "model",
    ];
    (0..n)
        .map(|i| Pair {
            premise: (0..90)
                .map(|k| words[(i + k * 3) % 10])
                .collect::<Vec<_>>()
                .join(" "),
            hypothesis: (0..40)
                .map(|k| words[(i + k) % 10])
                .collect::<Vec<_>>()
                .join(" "),
            label: (i % 3) as u8,
        })
        .collect()
}

/// Pairs/s of full fine-tuning and of head-only training, batch 32 × 128 tokens, for the
/// tiny BERT and (when available) all-MiniLM-L6-v2. `NLI_BENCH_STEPS` steps each (3).
#[test]
#[ignore = "benchmark: cargo test --release -p mlgym-tasks --test nli_train -- --ignored --nocapture"]
fn nli_train_throughput() {
    let steps: usize = std::env::var("NLI_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut models = vec![("tiny", None)];
    if let Some(m) = text_support::minilm_dir() {
        models.push(("all-MiniLM-L6-v2", Some(m)));
    }
    for (name, dir) in models {
        let root = staged_root_with(&long_pairs(32 * steps), &pairs(6));
        if let Some(dir) = dir {
            asset::import(&dir, root.path()).unwrap();
        }
        for full in [true, false] {
            let recipe = Recipe {
                max_pairs: Some(32 * steps),
                train_encoder: full,
                ..Recipe::finetune()
            };
            let out = tempfile::tempdir().unwrap();
            let r = fine_tune(root.path(), out.path(), 0, recipe, &|_| {}).unwrap();
            println!(
                "{}",
                serde_json::json!({"model": name, "full_fine_tuning": full, "steps": r.steps,
                    "tensors": r.trained_tensors, "seconds": r.seconds,
                    "pairs_per_second": r.pairs_per_second})
            );
        }
    }
}
