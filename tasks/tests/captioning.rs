//! imageCaptioningCOCO: BLEU against sacrebleu's numbers (fixtures written by
//! scripts/captioning/bleu_expected.py), submission errors, import of MLGym's layout from
//! synthetic parquet files, the evaluator end to end and its "data not staged" error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod captioning_support;

use std::path::Path;

use captioning_support::write_parquet;

use mlgym_tasks::captioning::bleu::{char_sentence_bleu, corpus_bleu, tokenize_13a};
use mlgym_tasks::captioning::data::{self, Captioned};
use mlgym_tasks::captioning::evaluate::{CaptionEvaluator, PRIMARY};
use mlgym_tasks::captioning::submission::read_captions;
use mlgym_tasks::datasets::DataError;
use mlgym_tasks::EvalError;

#[derive(serde::Deserialize)]
struct Case {
    hyps: Vec<String>,
    refs: Vec<Vec<String>>,
    corpus: f64,
    char_sentence: Vec<f64>,
    tokens_13a: Vec<String>,
}

#[test]
fn bleu_matches_sacrebleu_on_fixed_examples() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bleu_cases.json");
    let cases: Vec<Case> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert!(cases.len() >= 4);
    for c in &cases {
        let got = corpus_bleu(&c.hyps, &c.refs).score();
        assert!(
            (got - c.corpus).abs() < 1e-9,
            "corpus BLEU {got} vs sacrebleu {}",
            c.corpus
        );
        for ((h, r), want) in c.hyps.iter().zip(&c.refs).zip(&c.char_sentence) {
            let got = char_sentence_bleu(&r[0], h);
            assert!(
                (got - want).abs() < 1e-12,
                "char BLEU of {h:?}: {got} vs {want}"
            );
        }
        for (h, want) in c.hyps.iter().zip(&c.tokens_13a) {
            assert_eq!(tokenize_13a(h).join(" "), *want);
        }
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("img{i}.jpg")).collect()
}

fn read(text: &str, n: usize) -> Result<Vec<String>, EvalError> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("submission.csv");
    std::fs::write(&p, text).unwrap();
    read_captions(&p, &names(n))
}

fn format_error(text: &str, n: usize) -> String {
    match read(text, n) {
        Err(EvalError::Format(m)) => m,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn submission_parses_in_any_order_with_quoted_captions() {
    let caps = read(
        "file_name,caption\nimg1.jpg,\"a dog, running\"\nimg0.jpg,\"a \"\"cat\"\"\"\n",
        2,
    )
    .unwrap();
    assert_eq!(caps, ["a \"cat\"", "a dog, running"]);
}

#[test]
fn submission_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = read_captions(&dir.path().join("submission.csv"), &names(1));
    assert!(
        matches!(missing, Err(EvalError::SubmissionNotFound(m)) if m.contains("file_name,caption"))
    );
    assert!(format_error("", 2).contains("empty"));
    assert!(format_error("name,text\nimg0.jpg,x\n", 1).contains("`file_name` and `caption`"));
    let m = format_error("file_name,caption\nimg0.jpg,a\nimg9.jpg,b\n", 1);
    assert!(m.contains("line 3") && m.contains("img9.jpg"), "{m}");
    let m = format_error("file_name,caption\nimg0.jpg,a\nimg0.jpg,b\n", 1);
    assert!(m.contains("line 3") && m.contains("twice"), "{m}");
    let m = format_error("file_name,caption\nimg0.jpg,a\n", 3);
    assert!(m.contains("2 of the 3") && m.contains("img1.jpg"), "{m}");
}

fn rows(split: &str, n: usize) -> Vec<Captioned> {
    let words = ["a cat on a mat", "a dog in the park", "two birds on a wire"];
    (0..n)
        .map(|i| Captioned {
            file_name: format!("{split}_{i:03}.jpg"),
            captions: (0..5)
                .map(|k| format!("{} number {}", words[(i + k) % 3], k % 2))
                .collect(),
        })
        .collect()
}

/// MLGym's layout with 6/3/4 images in dir.
fn write_source(dir: &Path) -> Vec<Captioned> {
    let mut test = Vec::new();
    for (split, n) in [("train", 6), ("val", 3), ("test", 4)] {
        let r = rows(split, n);
        std::fs::create_dir_all(dir.join(split)).unwrap();
        for c in &r {
            std::fs::write(
                dir.join(split).join(&c.file_name),
                b"\xff\xd8 not really a jpeg",
            )
            .unwrap();
        }
        write_parquet(&dir.join(format!("{split}_images.parquet")), &r);
        if split == "test" {
            test = r;
        }
    }
    test
}

#[test]
fn import_stages_hidden_references_and_the_evaluator_scores_them() {
    let src = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let test = write_source(src.path());
    let report = data::import(src.path(), root.path()).unwrap();
    assert_eq!(report.manifest.splits["train"].images, 6);
    assert_eq!(report.manifest.splits["test"].captions, 20);
    let public = report.dir.join("public");
    assert!(public.join("train_images.parquet").is_file());
    assert!(public.join("test/test_003.jpg").is_file());
    // The test captions are never in the agent's data.
    assert!(!public.join("test_images.parquet").exists());
    let list = std::fs::read_to_string(public.join("test_images.csv")).unwrap();
    assert_eq!(list.lines().count(), 5);
    assert!(!list.contains("cat"));

    let sub = tempfile::tempdir().unwrap();
    let path = sub.path().join("submission.csv");
    let mut csv = String::from("file_name,caption\n");
    for c in &test {
        csv.push_str(&format!("{},{}\n", c.file_name, c.captions[0]));
    }
    std::fs::write(&path, &csv).unwrap();
    let m = CaptionEvaluator
        .evaluate_file(&path, root.path(), 7)
        .unwrap();
    assert!((m[PRIMARY] - 1.0).abs() < 1e-12, "{m:?}");
    assert!((m["sacrebleu"] - 100.0).abs() < 1e-9);
    assert!(m["mlgym_char_bleu"] > 0.0 && m["mlgym_char_bleu"] <= 1.0);
    // Same seed, same numbers; a worse caption scores lower.
    assert_eq!(
        m,
        CaptionEvaluator
            .evaluate_file(&path, root.path(), 7)
            .unwrap()
    );
    let mut worse = String::from("file_name,caption\n");
    for c in &test {
        worse.push_str(&format!("{},a picture\n", c.file_name));
    }
    std::fs::write(&path, worse).unwrap();
    let w = CaptionEvaluator
        .evaluate_file(&path, root.path(), 7)
        .unwrap();
    assert!(w[PRIMARY] < 0.2, "{w:?}");
}

#[test]
fn missing_or_corrupt_data_is_reported() {
    let root = tempfile::tempdir().unwrap();
    let sub = tempfile::tempdir().unwrap();
    let err = CaptionEvaluator
        .evaluate_file(&sub.path().join("submission.csv"), root.path(), 0)
        .unwrap_err();
    assert!(
        matches!(&err, EvalError::DataMissing(m) if m.contains("mlgym data import coco")),
        "{err}"
    );

    let src = tempfile::tempdir().unwrap();
    write_source(src.path());
    std::fs::remove_file(src.path().join("val/val_001.jpg")).unwrap();
    match data::import(src.path(), root.path()) {
        Err(DataError::NotFound { path, problem }) => {
            assert!(path.ends_with("val/val_001.jpg"), "{}", path.display());
            assert!(problem.contains("val_images.parquet"));
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(src.path().join("train_images.parquet"), b"not parquet").unwrap();
    let err = data::import(src.path(), root.path()).unwrap_err();
    assert!(
        err.to_string().contains("train_images.parquet") && err.to_string().contains("parquet"),
        "{err}"
    );
    std::fs::remove_file(src.path().join("test_images.parquet")).unwrap();
    std::fs::remove_file(src.path().join("train_images.parquet")).unwrap();
    let err = data::import(src.path(), root.path()).unwrap_err();
    assert!(err.to_string().contains("mlgym data import coco"), "{err}");
    assert!(!data::dataset_dir(root.path()).exists());
}

/// A safetensors file with the tensors that identify torchvision's ResNet-50 (u8 data:
/// only names and shapes are checked).
fn fake_resnet(path: &Path, fc_rows: usize) {
    use safetensors::tensor::{Dtype, TensorView};
    let specs: Vec<(&str, Vec<usize>)> = vec![
        ("conv1.weight", vec![64, 3, 7, 7]),
        ("layer4.2.conv3.weight", vec![2048, 512, 1, 1]),
        ("layer3.5.bn3.running_var", vec![1024]),
        ("fc.weight", vec![fc_rows, 2048]),
    ];
    let data: Vec<Vec<u8>> = specs
        .iter()
        .map(|(_, s)| vec![1u8; s.iter().product()])
        .collect();
    let views: Vec<_> = specs
        .iter()
        .zip(&data)
        .map(|((n, s), d)| {
            (
                n.to_string(),
                TensorView::new(Dtype::U8, s.clone(), d).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn resnet_weights_are_checked_staged_and_shown_to_the_agent() {
    use mlgym_tasks::captioning::resnet;
    use mlgym_tasks::registry::TaskData;
    let root = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("weights.safetensors");
    fake_resnet(&file, 10);
    let e = resnet::import(&file, root.path()).unwrap_err().to_string();
    assert!(e.contains("fc.weight") && e.contains("[1000, 2048]"), "{e}");
    std::fs::write(&file, b"junk").unwrap();
    let e = resnet::import(&file, root.path()).unwrap_err().to_string();
    assert!(e.contains("not a safetensors file"), "{e}");
    fake_resnet(&file, 1000);
    let (_, m) = resnet::import(&file, root.path()).unwrap();
    assert_eq!(m.tensors, 4);
    assert_eq!(resnet::verify(root.path()).unwrap().len(), 1);

    let coco = tempfile::tempdir().unwrap();
    write_source(coco.path());
    data::import(coco.path(), root.path()).unwrap();
    let public = data::CocoData.public_dir(root.path()).unwrap();
    assert_eq!(
        std::fs::read(public.join(resnet::FILE)).unwrap(),
        std::fs::read(&file).unwrap()
    );
    assert_eq!(data::verify(root.path()).unwrap().len(), 3);
    std::fs::remove_file(public.join("val/val_002.jpg")).unwrap();
    let e = data::verify(root.path()).unwrap_err().to_string();
    assert!(e.contains("val_002.jpg"), "{e}");
}
