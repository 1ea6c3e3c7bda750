//! naturalLanguageInferenceMNLI: staging bert-base-uncased (tokenizer.json or vocab.txt)
//! and MNLI (JSON lines or parquet), the evaluator on a tiny random
//! BertForSequenceClassification, the documented errors for missing or corrupt assets,
//! the real all-MiniLM-L6-v2 weights and tokenizer (fetched with pip by the test helper;
//! skipped with a printed reason when unavailable), and mlgym's differentiable BERT
//! forward against candle-transformers' on both. Training: `nli_train.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "nli_support/mod.rs"]
mod nli_support;
#[path = "text_support/mod.rs"]
mod text_support;

use std::path::Path;
use std::sync::Arc;

use mlgym_tasks::nli::data::{self, Pair};
use mlgym_tasks::nli::evaluate::{NliEvaluator, METRIC, SUBMISSION_DIR};
use mlgym_tasks::nli::model::{encode_pair, open_checkpoint, pair_tokenizer, Classifier};
use mlgym_tasks::nli::{asset, tiny::write_tiny_classifier, NliData};
use mlgym_tasks::registry::TaskData;
use mlgym_tasks::text::tiny::{tiny_vocab, write_tiny_bert};
use mlgym_tasks::EvalError;
use nli_support::{pairs, staged_root, write_jsonl_source};

fn write_parquet(path: &Path, rows: &[Pair]) {
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let schema = "message schema { optional binary premise (STRING); optional binary hypothesis (STRING); optional int64 label; }";
    let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
    let f = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(f, schema, Arc::new(WriterProperties::builder().build()))
        .unwrap();
    let mut rg = w.next_row_group().unwrap();
    let defs = vec![1i16; rows.len()];
    for col_text in [0, 1] {
        let vals: Vec<ByteArray> = rows
            .iter()
            .map(|p| {
                ByteArray::from(if col_text == 0 {
                    p.premise.as_str()
                } else {
                    p.hypothesis.as_str()
                })
            })
            .collect();
        let mut col = rg.next_column().unwrap().unwrap();
        col.typed::<ByteArrayType>()
            .write_batch(&vals, Some(&defs), None)
            .unwrap();
        col.close().unwrap();
    }
    let labels: Vec<i64> = rows.iter().map(|p| i64::from(p.label)).collect();
    let mut col = rg.next_column().unwrap().unwrap();
    col.typed::<Int64Type>()
        .write_batch(&labels, Some(&defs), None)
        .unwrap();
    col.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
}

/// A submission directory holding only config.json and model.safetensors.
fn submission(seed: u64, labels: usize) -> tempfile::TempDir {
    let sub = tempfile::tempdir().unwrap();
    let dir = sub.path().join(SUBMISSION_DIR);
    write_tiny_classifier(&dir, seed, labels).unwrap();
    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    sub
}

fn predictions(sub: &Path, root: &Path, rows: &[Pair]) -> Vec<usize> {
    let tok_path = asset::model_dir(root).join("tokenizer.json");
    let files = open_checkpoint(&sub.join(SUBMISSION_DIR), &tok_path).unwrap();
    let model = Classifier::load(&files, 3).unwrap();
    let tok = pair_tokenizer(&tok_path).unwrap();
    let enc: Vec<_> = rows
        .iter()
        .map(|p| encode_pair(&tok, &p.premise, &p.hypothesis).unwrap())
        .collect();
    model.predict(&enc).unwrap()
}

#[test]
fn evaluator_scores_the_percentage_of_correct_labels() {
    let mut valid = pairs(40);
    // Labels set to the model's own predictions score 100 %, and shifting 3 of every 4
    // labels scores 25 %. A seed whose model predicts more than one label is used, so
    // that a mix-up of pairs and predictions would show.
    let probe = staged_root(&valid);
    let (sub, pred) = (1..20)
        .map(|seed| {
            let sub = submission(seed, 3);
            let pred = predictions(sub.path(), probe.path(), &valid);
            (sub, pred)
        })
        .find(|(_, pred)| pred.iter().any(|&p| p != pred[0]))
        .expect("some tiny classifier predicts more than one label");
    for (p, &l) in valid.iter_mut().zip(&pred) {
        p.label = l as u8;
    }
    let root = staged_root(&valid);
    let m = NliEvaluator.evaluate_dir(sub.path(), root.path()).unwrap();
    assert_eq!(m[METRIC], 100.0);
    assert_eq!(
        m,
        NliEvaluator.evaluate_dir(sub.path(), root.path()).unwrap()
    );
    for (i, p) in valid.iter_mut().enumerate() {
        if i % 4 != 0 {
            p.label = (p.label + 1) % 3;
        }
    }
    let root = staged_root(&valid);
    let m = NliEvaluator.evaluate_dir(sub.path(), root.path()).unwrap();
    assert_eq!(m[METRIC], 25.0);
}

#[test]
fn pairs_are_truncated_to_128_tokens() {
    let root = staged_root(&pairs(3));
    let tok = pair_tokenizer(&asset::model_dir(root.path()).join("tokenizer.json")).unwrap();
    let long = "the cat is fast ".repeat(100);
    let e = encode_pair(&tok, &long, "a dog").unwrap();
    assert_eq!(e.ids.len(), 128);
    assert_eq!(e.ids[0], 2, "[CLS]");
    assert_eq!(e.ids.iter().filter(|&&i| i == 3).count(), 2, "two [SEP]");
    assert_eq!(*e.types.last().unwrap(), 1, "the hypothesis is segment 1");
}

#[test]
fn parquet_and_vocab_txt_sources_import() {
    let root = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let mut valid = pairs(6);
    valid[0].premise = "commas, \"quotes\" and ünïcode".into();
    write_parquet(&src.path().join("train-00000-of-00001.parquet"), &pairs(9));
    std::fs::create_dir(src.path().join("validation_matched")).unwrap();
    write_parquet(&src.path().join("validation_matched/0000.parquet"), &valid);
    data::import(src.path(), root.path()).unwrap();
    assert_eq!(data::load_validation(root.path()).unwrap(), valid);
    assert_eq!(data::load_train(root.path()).unwrap().len(), 9);
    assert_eq!(data::verify(root.path()).unwrap().len(), 2);

    // vocab.txt instead of tokenizer.json: the built tokenizer matches the original.
    let model = tempfile::tempdir().unwrap();
    write_tiny_bert(model.path(), 2).unwrap();
    let original = pair_tokenizer(&model.path().join("tokenizer.json")).unwrap();
    std::fs::remove_file(model.path().join("tokenizer.json")).unwrap();
    std::fs::write(
        model.path().join("vocab.txt"),
        tiny_vocab().join("\n") + "\n",
    )
    .unwrap();
    let (dir, manifest) = asset::import(model.path(), root.path()).unwrap();
    assert_eq!(manifest.files.len(), 3);
    let built = pair_tokenizer(&dir.join("tokenizer.json")).unwrap();
    for p in &valid {
        assert_eq!(
            encode_pair(&built, &p.premise, &p.hypothesis).unwrap(),
            encode_pair(&original, &p.premise, &p.hypothesis).unwrap()
        );
    }
    assert_eq!(asset::verify(root.path()).unwrap().len(), 3);
    // The agent's data/ gets the model linked in.
    let public = NliData.public_dir(root.path()).unwrap();
    assert!(public.join("train.jsonl").is_file());
    assert!(public.join("bert-base-uncased/model.safetensors").is_file());
    assert!(!public.join("validation_matched.jsonl").exists());
    // A changed staged file is caught by verify.
    std::fs::write(dir.join("config.json"), b"{}").unwrap();
    assert!(asset::verify(root.path()).is_err());
}

#[test]
fn missing_and_corrupt_assets_give_the_documented_errors() {
    let empty = tempfile::tempdir().unwrap();
    let sub = submission(1, 3);
    let err = NliEvaluator
        .evaluate_dir(sub.path(), empty.path())
        .unwrap_err();
    assert!(
        matches!(&err, EvalError::DataMissing(m) if m.contains("mlgym data import bert-base-uncased")),
        "{err}"
    );
    assert!(!NliData.ready(empty.path()));
    let e = NliData.public_dir(empty.path()).unwrap_err().to_string();
    assert!(
        e.contains("data not staged") && e.contains("mlgym data import mnli"),
        "{e}"
    );

    let root = staged_root(&pairs(5));
    // No submission directory.
    let none = tempfile::tempdir().unwrap();
    let err = NliEvaluator
        .evaluate_dir(none.path(), root.path())
        .unwrap_err();
    assert!(
        matches!(&err, EvalError::SubmissionNotFound(m) if m.contains("save_pretrained")),
        "{err}"
    );
    // A pickle only.
    let pk = submission(1, 3);
    let d = pk.path().join(SUBMISSION_DIR);
    std::fs::rename(d.join("model.safetensors"), d.join("pytorch_model.bin")).unwrap();
    let err = NliEvaluator
        .evaluate_dir(pk.path(), root.path())
        .unwrap_err();
    assert!(
        matches!(&err, EvalError::Format(m) if m.contains("safetensors")),
        "{err}"
    );
    // Two labels instead of three.
    let two = submission(1, 2);
    let err = NliEvaluator
        .evaluate_dir(two.path(), root.path())
        .unwrap_err();
    assert!(
        matches!(&err, EvalError::Format(m) if m.contains("num_labels=3")),
        "{err}"
    );
    // A bare encoder.
    let bare = tempfile::tempdir().unwrap();
    write_tiny_bert(&bare.path().join(SUBMISSION_DIR), 1).unwrap();
    let err = NliEvaluator
        .evaluate_dir(bare.path(), root.path())
        .unwrap_err();
    assert!(
        matches!(&err, EvalError::Format(m) if m.contains("classifier.weight")),
        "{err}"
    );
    // Garbage weights.
    let bad = submission(1, 3);
    std::fs::write(
        bad.path().join(SUBMISSION_DIR).join("model.safetensors"),
        b"garbage",
    )
    .unwrap();
    let err = NliEvaluator
        .evaluate_dir(bad.path(), root.path())
        .unwrap_err();
    assert!(
        matches!(&err, EvalError::Format(m) if m.contains("model.safetensors")),
        "{err}"
    );

    // Importing: no model files; no MNLI splits; a bad JSON line.
    let src = tempfile::tempdir().unwrap();
    let e = asset::import(src.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("config.json") && e.contains("model.safetensors"),
        "{e}"
    );
    let e = data::import(src.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("mlgym data import mnli"), "{e}");
    std::fs::write(src.path().join("train.jsonl"), "{\"premise\": \"a\"}\n").unwrap();
    std::fs::write(src.path().join("validation_matched.jsonl"), "{}\n").unwrap();
    let e = data::import(src.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("train.jsonl") && e.contains("line 1"), "{e}");
    // The failed imports left the staged data alone.
    assert!(NliData.ready(root.path()));
}

/// The real all-MiniLM-L6-v2 (a BERT checkpoint with its Hugging Face tokenizer) staged
/// as the task's model, with a random 3-way head: loads, tokenises and scores.
#[test]
fn real_hugging_face_weights_and_tokenizer_run() {
    let Some(minilm) = text_support::minilm_dir() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let (dir, manifest) = asset::import(&minilm, root.path()).unwrap();
    assert_eq!((manifest.hidden_size, manifest.layers), (384, 6));
    let tok = pair_tokenizer(&dir.join("tokenizer.json")).unwrap();
    let e = encode_pair(&tok, "A man plays a guitar.", "Someone makes music.").unwrap();
    assert_eq!(e.ids[0], 101, "[CLS] of bert-base-uncased's vocabulary");
    assert_eq!(
        e.ids.iter().filter(|&&i| i == 102).count(),
        2,
        "[SEP] twice"
    );
    let src = tempfile::tempdir().unwrap();
    write_jsonl_source(src.path(), &pairs(10), &pairs(12));
    data::import(src.path(), root.path()).unwrap();

    // bert_mnli_model = MiniLM's tensors under `bert.` plus a pooler and classifier.
    let sub = tempfile::tempdir().unwrap();
    let out = sub.path().join(SUBMISSION_DIR);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::copy(minilm.join("config.json"), out.join("config.json")).unwrap();
    let bytes = std::fs::read(minilm.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            let n = if n.starts_with("bert.") {
                n
            } else {
                format!("bert.{n}")
            };
            (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())
        })
        .collect();
    let f32s = |n: usize, s: f32| -> Vec<u8> {
        (0..n)
            .flat_map(|i| (((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * s).to_le_bytes())
            .collect()
    };
    if !owned.iter().any(|t| t.0 == "bert.pooler.dense.weight") {
        owned.push((
            "bert.pooler.dense.weight".into(),
            safetensors::Dtype::F32,
            vec![384, 384],
            f32s(384 * 384, 0.1),
        ));
        owned.push((
            "bert.pooler.dense.bias".into(),
            safetensors::Dtype::F32,
            vec![384],
            f32s(384, 0.1),
        ));
    }
    owned.push((
        "classifier.weight".into(),
        safetensors::Dtype::F32,
        vec![3, 384],
        f32s(3 * 384, 1.0),
    ));
    owned.push((
        "classifier.bias".into(),
        safetensors::Dtype::F32,
        vec![3],
        f32s(3, 1.0),
    ));
    let views: Vec<_> = owned
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(
        out.join("model.safetensors"),
        safetensors::serialize(views, None).unwrap(),
    )
    .unwrap();
    let m = NliEvaluator.evaluate_dir(sub.path(), root.path()).unwrap();
    let acc = m[METRIC];
    assert!(
        (0.0..=100.0).contains(&acc)
            && (acc * 12.0 / 100.0 - (acc * 12.0 / 100.0).round()).abs() < 1e-9,
        "{acc}"
    );
    assert_eq!(
        m,
        NliEvaluator.evaluate_dir(sub.path(), root.path()).unwrap()
    );
}

/// Largest |a − b| between the last hidden states of mlgym's differentiable BERT
/// (`text::network`, what the evaluator and the baseline run) and candle-transformers'
/// `BertModel`, on padded pairs tokenised from `dir`.
fn forward_gap(dir: &Path, texts: &[(&str, &str)]) -> f32 {
    use candle_core::{DType, Device};
    use candle_transformers::models::bert::BertModel;
    use mlgym_tasks::nli::model::batch_tensors;
    use mlgym_tasks::text::{BertEncoder, ModelDir};
    let files = ModelDir::open(dir).unwrap();
    let ours = BertEncoder::load(&files).unwrap();
    let bytes = std::fs::read(&files.weights).unwrap();
    let vb =
        candle_nn::VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu).unwrap();
    let theirs = BertModel::load(vb, ours.config()).unwrap();
    let tok = pair_tokenizer(&files.tokenizer).unwrap();
    let enc: Vec<_> = texts
        .iter()
        .map(|(a, b)| encode_pair(&tok, a, b).unwrap())
        .collect();
    assert!(
        enc.iter().any(|e| e.ids.len() != enc[0].ids.len()),
        "padding is exercised"
    );
    let refs: Vec<_> = enc.iter().collect();
    let pad = ours.config().pad_token_id as u32;
    let (ids, types, mask) = batch_tensors(&refs, pad, &Device::Cpu).unwrap();
    let a = ours.forward(&ids, &types, &mask).unwrap();
    let b = theirs.forward(&ids, &types, Some(&mask)).unwrap();
    assert_eq!(a.dims(), b.dims());
    let gap = (a - b).unwrap().abs().unwrap().flatten_all().unwrap();
    gap.max(0).unwrap().to_scalar::<f32>().unwrap()
}

const FORWARD_PAIRS: [(&str, &str); 3] = [
    ("the cat is fast and the dog was slow.", "a dog works"),
    (
        "the model failed.",
        "the red car is better than the blue apple",
    ),
    ("a blue apple", "the cat"),
];

#[test]
fn differentiable_forward_equals_candle_transformers() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_bert(dir.path(), 5).unwrap();
    let gap = forward_gap(dir.path(), &FORWARD_PAIRS);
    println!("tiny BERT: largest difference {gap:e}");
    assert_eq!(
        gap, 0.0,
        "the same kernels in the same order: equal bit for bit"
    );
    // Checkpoints with the `bert.` prefix (a BertForSequenceClassification) load too.
    let cls = tempfile::tempdir().unwrap();
    write_tiny_classifier(cls.path(), 5, 3).unwrap();
    let gap = forward_gap(cls.path(), &FORWARD_PAIRS);
    assert_eq!(
        gap, 0.0,
        "the same kernels in the same order: equal bit for bit"
    );
}

#[test]
fn differentiable_forward_equals_candle_transformers_on_real_weights() {
    let Some(minilm) = text_support::minilm_dir() else {
        return;
    };
    let gap = forward_gap(
        &minilm,
        &[
            ("A man plays a guitar on the stage.", "Someone makes music."),
            (
                "The cat sleeps.",
                "An animal is awake and running around the garden.",
            ),
            (
                "Nobody came to the party last night.",
                "The party was empty.",
            ),
        ],
    );
    println!("all-MiniLM-L6-v2: largest difference {gap:e}");
    assert_eq!(
        gap, 0.0,
        "the same kernels in the same order: equal bit for bit"
    );
}
