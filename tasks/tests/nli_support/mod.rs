//! Shared by the MNLI tests: synthetic pairs, MNLI in the original JSON-lines layout, and
//! a data root with a tiny "bert-base-uncased" and MNLI staged.
#![allow(dead_code)]

use std::path::Path;

use mlgym_tasks::nli::asset;
use mlgym_tasks::nli::data::{self, Pair};
use mlgym_tasks::text::tiny::write_tiny_bert;

pub fn pairs(n: usize) -> Vec<Pair> {
    let words = [
        "the cat",
        "a dog",
        "the red car",
        "a blue apple",
        "the model",
    ];
    let verbs = ["is fast", "was slow", "works", "failed", "is better"];
    (0..n)
        .map(|i| Pair {
            premise: format!(
                "{} {} and {}.",
                words[i % 5],
                verbs[(i / 5) % 5],
                words[(i * 3) % 5]
            ),
            hypothesis: format!("{} {}", words[(i + 2) % 5], verbs[i % 5]),
            label: (i % 3) as u8,
        })
        .collect()
}

/// MNLI in the original release's JSON lines (`sentence1`, `gold_label` words), with
/// one unlabelled row that must be dropped.
pub fn write_jsonl_source(dir: &Path, train: &[Pair], valid: &[Pair]) {
    for (name, rows) in [
        ("multinli_1.0_train.jsonl", train),
        ("multinli_1.0_dev_matched.jsonl", valid),
    ] {
        let mut text = String::new();
        for p in rows {
            let v = serde_json::json!({"sentence1": p.premise, "sentence2": p.hypothesis, "gold_label": data::LABELS[p.label as usize]});
            text.push_str(&format!("{v}\n"));
        }
        text.push_str("{\"sentence1\": \"x\", \"sentence2\": \"y\", \"gold_label\": \"-\"}\n");
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// A data root with a tiny "bert-base-uncased" and MNLI staged; the validation labels
/// are `valid`'s.
pub fn staged_root(valid: &[Pair]) -> tempfile::TempDir {
    staged_root_with(&pairs(20), valid)
}

/// [`staged_root`] with `train` as the training pairs.
pub fn staged_root_with(train: &[Pair], valid: &[Pair]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let model = tempfile::tempdir().unwrap();
    write_tiny_bert(model.path(), 1).unwrap();
    asset::import(model.path(), root.path()).unwrap();
    let src = tempfile::tempdir().unwrap();
    write_jsonl_source(src.path(), train, valid);
    let r = data::import(src.path(), root.path()).unwrap();
    assert_eq!(r.manifest.files[1].rows, valid.len());
    assert!(
        !r.notes.is_empty(),
        "a subset is reported as not comparable"
    );
    root
}
