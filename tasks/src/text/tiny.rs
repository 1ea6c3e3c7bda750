//! A tiny random BERT (hidden 32, 2 layers, 4 heads) with a small WordPiece vocabulary,
//! written as a complete model directory (`config.json`, `model.safetensors`,
//! `tokenizer.json`). Its embeddings mean nothing, but it exercises every code path of a
//! real model (tokenizer, weights, encoder, pooling) in milliseconds and without a
//! download: for tests and smoke runs.

use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

use super::bert::{CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use super::TextError;
use crate::rng::Rng;

const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const WORDS: &[&str] = &[
    "the",
    "a",
    "an",
    "is",
    "was",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "it",
    "this",
    "that",
    "model",
    "learning",
    "rate",
    "loss",
    "training",
    "data",
    "accuracy",
    "score",
    "batch",
    "size",
    "epoch",
    "layer",
    "network",
    "baseline",
    "improved",
    "worse",
    "better",
    "best",
    "validation",
    "test",
    "strategy",
    "opponent",
    "game",
    "cat",
    "dog",
    "red",
    "blue",
    "green",
    "apple",
    "banana",
    "fruit",
    "animal",
    "color",
    "car",
    "drive",
    "fast",
    "slow",
    "high",
    "low",
    "use",
    "try",
    "works",
    "failed",
    "memory",
    "note",
    "result",
    ".",
    ",",
    "!",
    "?",
    "-",
    "=",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "##s",
    "##ed",
    "##ing",
    "##er",
    "##ly",
    "##e",
    "##a",
    "##o",
    "##i",
    "##t",
    "##n",
    "##r",
    "##l",
];
/// Hidden size of the tiny model.
pub const TINY_HIDDEN: usize = 32;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const INTERMEDIATE: usize = 64;
const MAX_POSITIONS: usize = 64;

/// The tiny model's vocabulary (specials first), as WordPiece tokens.
pub fn tiny_vocab() -> Vec<&'static str> {
    let mut v: Vec<&str> = SPECIALS.to_vec();
    v.extend_from_slice(WORDS);
    // Single letters, so that any lowercase ASCII word tokenizes without [UNK].
    const LETTERS: [&str; 26] = [
        "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s",
        "t", "u", "v", "w", "x", "y", "z", "##b",
    ];
    v.extend_from_slice(&LETTERS);
    v
}

fn tokenizer_json(vocab: &[&str]) -> serde_json::Value {
    let ids: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.to_string(), json!(i)))
        .collect();
    let added: Vec<serde_json::Value> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"id": i, "content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}))
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": ids}
    })
}

/// Every tensor of a HF BERT checkpoint of the tiny shape: (name, shape, kind) where kind
/// is `w` (random), `one` (LayerNorm gain) or `zero` (LayerNorm bias).
fn tensors(vocab: usize) -> Vec<(String, Vec<usize>, char)> {
    let h = TINY_HIDDEN;
    let mut t = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            vec![vocab, h],
            'w',
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![MAX_POSITIONS, h],
            'w',
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![2, h],
            'w',
        ),
        ("embeddings.LayerNorm.weight".into(), vec![h], '1'),
        ("embeddings.LayerNorm.bias".into(), vec![h], '0'),
    ];
    for l in 0..LAYERS {
        let p = format!("encoder.layer.{l}");
        for (name, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", INTERMEDIATE, h),
            ("output.dense", h, INTERMEDIATE),
        ] {
            t.push((format!("{p}.{name}.weight"), vec![out, inp], 'w'));
            t.push((format!("{p}.{name}.bias"), vec![out], 'w'));
        }
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            t.push((format!("{p}.{ln}.weight"), vec![h], '1'));
            t.push((format!("{p}.{ln}.bias"), vec![h], '0'));
        }
    }
    t
}

/// Writes the tiny model into `dir` (created if needed); `seed` draws its weights.
pub fn write_tiny_bert(dir: &Path, seed: u64) -> Result<(), TextError> {
    std::fs::create_dir_all(dir).map_err(|e| TextError::write(dir, e))?;
    let vocab = tiny_vocab();
    let config = json!({
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": TINY_HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": MAX_POSITIONS,
        "model_type": "bert",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": vocab.len(),
    });
    let mut rng = Rng::new(seed);
    let specs = tensors(vocab.len());
    let data: Vec<Vec<u8>> = specs
        .iter()
        .map(|(_, shape, kind)| {
            let n: usize = shape.iter().product();
            (0..n)
                .flat_map(|_| {
                    let v = match kind {
                        '1' => 1.0f32,
                        '0' => 0.0,
                        _ => (rng.normal() * 0.2) as f32,
                    };
                    v.to_le_bytes()
                })
                .collect()
        })
        .collect();
    let weights = dir.join(WEIGHTS_FILE);
    let mut views = Vec::with_capacity(specs.len());
    for ((name, shape, _), bytes) in specs.iter().zip(&data) {
        let v = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| TextError::format(&weights, format!("tensor `{name}`: {e}")))?;
        views.push((name.clone(), v));
    }
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| TextError::format(&weights, e.to_string()))?;
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| TextError::write(&p, e))
    };
    write(WEIGHTS_FILE, &bytes)?;
    write(CONFIG_FILE, config.to_string().as_bytes())?;
    write(
        TOKENIZER_FILE,
        tokenizer_json(&vocab).to_string().as_bytes(),
    )?;
    Ok(())
}
