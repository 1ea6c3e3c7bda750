//! The native captioning baseline on synthetic COCO-layout data (solid-colour images,
//! one caption per colour) with tiny random ResNets: it learns the mapping, its loss
//! falls, it is deterministic for a seed, `--quick` runs end to end through the task's
//! hook and the evaluator scores what it writes; missing assets give the documented
//! errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod captioning_support;

use std::path::Path;

use captioning_support::{write_colour_source, COLOURS};
use mlgym_tasks::captioning::encoder::{ResNetConfig, ResNetEncoder};
use mlgym_tasks::captioning::evaluate::{CaptionEvaluator, PRIMARY};
use mlgym_tasks::captioning::tiny::{write_random_resnet, TINY};
use mlgym_tasks::captioning::train::{train_and_caption, CaptionBaseline, Inputs, Recipe};
use mlgym_tasks::captioning::{data, resnet};
use mlgym_tasks::{Baseline, BaselineContext, EvalError};

/// A small, fast recipe that can learn colour → caption.
fn small_recipe() -> Recipe {
    Recipe {
        epochs: 25,
        batch: 8,
        lr: 1e-2,
        embed: 16,
        hidden: 32,
        image_size: 32,
        bn_momentum: 0.1,
        val_images: 4,
        ..Recipe::mlgym()
    }
}

/// COCO staged under `root` from `per_colour` images per split; returns the public dir.
fn stage_coco(root: &Path, per_colour: [usize; 3]) -> std::path::PathBuf {
    let src = tempfile::tempdir().unwrap();
    write_colour_source(src.path(), per_colour);
    data::import(src.path(), root).unwrap();
    data::dataset_dir(root).join("public")
}

/// Tiny weights written where `mlgym data import resnet50` stages the real ones (the
/// import itself accepts only a ResNet-50), with a matching manifest.
fn stage_tiny_resnet(root: &Path, config: &ResNetConfig) {
    let dir = resnet::dir(root);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(resnet::FILE);
    write_random_resnet(&file, config, 5).unwrap();
    let manifest = resnet::Manifest {
        source: "tiny".into(),
        bytes: std::fs::metadata(&file).unwrap().len(),
        sha256: "unchecked".into(),
        tensors: 0,
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
}

fn quiet(_: &str) {}

#[test]
fn baseline_learns_colour_captions_deterministically_and_is_scored() {
    let root = tempfile::tempdir().unwrap();
    let coco = stage_coco(root.path(), [6, 1, 2]);
    let weights = root.path().join("tiny.safetensors");
    write_random_resnet(&weights, &TINY, 3).unwrap();
    let inputs = Inputs { coco, weights };
    let recipe = small_recipe();
    let out1 = tempfile::tempdir().unwrap();
    let report = train_and_caption(&inputs, &recipe, 11, out1.path(), &quiet).unwrap();
    assert_eq!(report.train_images, 24);
    assert_eq!(report.epoch_losses.len(), 25);
    // 4 specials + the distinct words of the four captions.
    let words: std::collections::BTreeSet<&str> =
        COLOURS.iter().flat_map(|(_, c)| c.split(' ')).collect();
    assert_eq!(report.vocab, 4 + words.len());
    let (first, last) = (report.epoch_losses[0], report.epoch_losses[24]);
    assert!(last < 0.2 * first, "loss {first} -> {last}");
    assert!(report.val_bleu.unwrap() > 0.9, "{report:?}");

    let sub = out1.path().join("submission.csv");
    let m = CaptionEvaluator
        .evaluate_file(&sub, root.path(), 0)
        .unwrap();
    assert!(m[PRIMARY] > 0.9, "{m:?}");
    let text = std::fs::read_to_string(&sub).unwrap();
    assert!(text.starts_with("file_name,caption\n"), "{text}");
    assert!(
        text.contains("test_0_01.jpg,a red apple on a white plate\n"),
        "{text}"
    );

    // Same inputs and seed: the same file, byte for byte.
    let out2 = tempfile::tempdir().unwrap();
    let again = train_and_caption(&inputs, &recipe, 11, out2.path(), &quiet).unwrap();
    assert_eq!(again.epoch_losses, report.epoch_losses);
    assert_eq!(again.val_bleu, report.val_bleu);
    assert_eq!(
        std::fs::read(out2.path().join("submission.csv")).unwrap(),
        text.as_bytes()
    );
}

#[test]
fn quick_baseline_runs_through_the_task_hook_and_is_scored() {
    let root = tempfile::tempdir().unwrap();
    stage_coco(root.path(), [6, 1, 2]);
    stage_tiny_resnet(root.path(), &TINY);
    let task = mlgym_tasks::registry::get("imageCaptioningCOCO").unwrap();
    let baseline = task.hooks.baseline.as_ref().expect("a native baseline");
    let out = tempfile::tempdir().unwrap();
    let lines = std::sync::Mutex::new(Vec::<String>::new());
    let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
    let ctx = BaselineContext {
        task: &task.def,
        out_dir: out.path(),
        data_root: root.path(),
        seed: 1,
        quick: true,
        progress: &progress,
    };
    baseline.run(&ctx).unwrap();
    let lines = lines.into_inner().unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("epoch 3/3: mean loss")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("test images (") && l.contains("images/s")),
        "{lines:?}"
    );
    let m = CaptionEvaluator
        .evaluate_file(&out.path().join("submission.csv"), root.path(), 1)
        .unwrap();
    assert!((0.0..=1.0).contains(&m[PRIMARY]), "{m:?}");
}

fn data_missing(r: Result<(), EvalError>) -> String {
    match r {
        Err(EvalError::DataMissing(m)) => m,
        other => panic!("expected a data-not-staged error, got {other:?}"),
    }
}

#[test]
fn missing_or_damaged_assets_are_reported() {
    let root = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let task = mlgym_tasks::registry::get("imageCaptioningCOCO").unwrap();
    let run = || {
        let ctx = BaselineContext {
            task: &task.def,
            out_dir: out.path(),
            data_root: root.path(),
            seed: 0,
            quick: true,
            progress: &quiet,
        };
        CaptionBaseline.run(&ctx)
    };
    let m = data_missing(run());
    assert!(m.contains("mlgym data import coco"), "{m}");
    stage_coco(root.path(), [1, 1, 1]);
    let m = data_missing(run());
    assert!(m.contains("mlgym data import resnet50"), "{m}");

    // Weights that are not a complete ResNet: the missing tensor is named.
    let bad = root.path().join("bad.safetensors");
    let mut tensors = std::collections::HashMap::new();
    let t = candle_core::Tensor::zeros(
        (2, 3, 7, 7),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    tensors.insert("conv1.weight".to_string(), t);
    for l in 1..=4 {
        let t = candle_core::Tensor::zeros(
            (2, 2, 1, 1),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        tensors.insert(format!("layer{l}.0.conv1.weight"), t);
    }
    candle_core::safetensors::save(&tensors, &bad).unwrap();
    let e = ResNetEncoder::load(&bad).unwrap_err();
    assert!(
        matches!(&e, EvalError::DataMissing(m) if m.contains("bn1.weight") && m.contains("mlgym data import resnet50")),
        "{e:?}"
    );
    std::fs::write(&bad, b"junk").unwrap();
    let e = ResNetEncoder::load(&bad).unwrap_err();
    assert!(
        matches!(&e, EvalError::DataMissing(m) if m.contains("safetensors")),
        "{e:?}"
    );
}

#[test]
fn encoder_reads_its_architecture_from_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let config = ResNetConfig {
        blocks: [2, 1, 1, 2],
        width: 4,
    };
    write_random_resnet(&path, &config, 9).unwrap();
    let enc = ResNetEncoder::load(&path).unwrap();
    assert_eq!(enc.config, config);
    let x = candle_core::Tensor::ones(
        (3, 3, 64, 48),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let f = enc.forward(&x).unwrap();
    assert_eq!(f.dims(), [3, 128]);
    // Features after a ReLU and an average pool: non-negative, and not all zero.
    let v = f.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(v.iter().all(|&x| x >= 0.0) && v.iter().any(|&x| x > 0.0));
}
