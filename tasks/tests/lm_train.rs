//! Training: a tiny config's loss falls on a learnable synthetic stream; training is
//! deterministic for a seed; the task's baseline (`--quick`) runs end to end on staged
//! synthetic shards and its artefacts load and score in the evaluator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lm_support;

use candle_core::{DType, Device};
use lm_support::*;
use mlgym_tasks::datasets::fineweb;
use mlgym_tasks::lm::config::ModelConfig;
use mlgym_tasks::lm::scoring::evaluate_dir;
use mlgym_tasks::lm::train::{train, Compute, Recipe, Trainer};
use mlgym_tasks::lm::{CONFIG_FILE, MODEL_FILE};
use mlgym_tasks::BaselineContext;

fn tiny_recipe(iterations: usize) -> Recipe {
    Recipe {
        model: ModelConfig::small(64, 2, 2, 32),
        batch: 8,
        seq_len: 32,
        iterations,
        warmdown_iters: iterations,
        log_every: 10,
        ..Recipe::mlgym()
    }
}

#[test]
fn a_tiny_configs_training_loss_falls() {
    let root = tempfile::tempdir().unwrap();
    stage_synthetic(root.path(), 64, 2000, 1, 40 * 8 * 32 + 1);
    let shards = fineweb::train_shards(root.path()).unwrap();
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
    let (_, report) = train(&tiny_recipe(40), &shards, 7, &Device::Cpu, &progress).unwrap();
    let first = report.losses[0];
    let mean = |r: std::ops::Range<usize>| {
        let n = r.len() as f32;
        report.losses[r].iter().sum::<f32>() / n
    };
    let (start, middle, last5) = (mean(0..5), mean(15..20), mean(35..40));
    // The head starts at zero: the first loss is ln(64).
    assert!((first - 64f32.ln()).abs() < 1e-4, "{first}");
    // 85% of the transitions are deterministic (an entropy floor near 0.8 nats) and the
    // stream's unigram distribution is near uniform: with MLGym's learning rates (the
    // head's is 0.002) 40 steps take the loss well below ln(64), falling all along.
    assert!(
        last5 < first - 0.6 && last5 < middle && middle < start,
        "loss went from {first} to {last5}: {:?}",
        report.losses
    );
    assert_eq!(report.tokens, 40 * 8 * 32);
    let lines = lines.into_inner().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("step 10/40 loss") && l.ends_with("tokens/s")),
        "{lines:?}"
    );
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let root = tempfile::tempdir().unwrap();
    stage_synthetic(root.path(), 64, 2000, 1, 5 * 8 * 32 + 1);
    let shards = fineweb::train_shards(root.path()).unwrap();
    let run = |seed| {
        let (t, r) = train(&tiny_recipe(5), &shards, seed, &Device::Cpu, &|_| {}).unwrap();
        let w: Vec<Vec<f32>> = t
            .weights()
            .values()
            .map(|t| t.flatten_all().unwrap().to_vec1().unwrap())
            .collect();
        (r.losses, w)
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b);
    assert_ne!(a.1, c.1);
}

#[test]
fn quick_baseline_writes_a_submission_the_evaluator_scores() {
    let root = tempfile::tempdir().unwrap();
    // Token ids up to 50256 would be GPT-2's; the synthetic ones stay small.
    stage_synthetic(root.path(), 500, 2 * 1024 + 1, 2, 20 * 4 * 128 / 2 + 1);
    let task = mlgym_tasks::registry::get("languageModelingFineWeb").unwrap();
    assert!(task.data_ready(root.path()));
    let public = task
        .hooks
        .data
        .as_ref()
        .unwrap()
        .public_dir(root.path())
        .unwrap();
    assert!(public.join("fineweb10B").join(fineweb::VAL_FILE).is_file());
    let out = tempfile::tempdir().unwrap();
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
    let ctx = BaselineContext {
        task: &task.def,
        out_dir: out.path(),
        data_root: root.path(),
        seed: 3,
        quick: true,
        progress: &progress,
    };
    task.hooks.baseline.as_ref().unwrap().run(&ctx).unwrap();
    assert!(out.path().join(MODEL_FILE).is_file() && out.path().join(CONFIG_FILE).is_file());
    let cfg = ModelConfig::read(&out.path().join(CONFIG_FILE)).unwrap();
    assert_eq!(cfg, Recipe::quick().model);
    let r = evaluate_dir(out.path(), root.path(), 2048).unwrap();
    // Better than uniform over 50304 ids after 20 steps on 500 distinct ids.
    assert!(r.loss < (50_304f64).ln() - 1.0, "{}", r.loss);
    let lines = lines.into_inner().unwrap();
    assert!(lines.iter().any(|l| l.contains("tokens/s")), "{lines:?}");
}

fn tiny_bf16(iterations: usize) -> Recipe {
    Recipe {
        compute: Compute::Bf16,
        ..tiny_recipe(iterations)
    }
}

/// bf16 on the CPU runs what a GPU runs (bf16 matrices, attention and Newton–Schulz), so
/// the bf16 path is exercised without one: the loss falls and stays finite, and a seed
/// gives the same losses and weights bit for bit.
#[test]
fn bf16_training_on_the_cpu_falls_and_is_deterministic() {
    let root = tempfile::tempdir().unwrap();
    stage_synthetic(root.path(), 64, 2000, 1, 40 * 8 * 32 + 1);
    let shards = fineweb::train_shards(root.path()).unwrap();
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
    let run = |progress: &(dyn Fn(&str) + Sync)| {
        let (t, r) = train(&tiny_bf16(40), &shards, 7, &Device::Cpu, progress).unwrap();
        assert_eq!(t.compute(), DType::BF16);
        let w: Vec<(String, Vec<u32>)> = t
            .weights()
            .into_iter()
            .map(|(k, t)| {
                let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
                (k, v.iter().map(|x| x.to_bits()).collect())
            })
            .collect();
        let bits: Vec<u32> = r.losses.iter().map(|l| l.to_bits()).collect();
        (r.losses, bits, w)
    };
    let (losses, bits, weights) = run(&progress);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    let mean = |r: std::ops::Range<usize>| losses[r.clone()].iter().sum::<f32>() / r.len() as f32;
    let (first, start, middle, last5) = (losses[0], mean(0..5), mean(15..20), mean(35..40));
    // A zero head gives zero logits in any dtype: exactly ln(64).
    assert!((first - 64f32.ln()).abs() < 1e-4, "{first}");
    assert!(
        last5 < first - 0.6 && last5 < middle && middle < start,
        "bf16 loss went from {first} to {last5}: {losses:?}"
    );
    // Muon (bf16 Newton–Schulz) moved every block matrix from its initialisation.
    let init = Trainer::new(&tiny_bf16(40), 7, &Device::Cpu)
        .unwrap()
        .weights();
    let mut matrices = 0;
    for (name, bits) in &weights {
        if name.starts_with("transformer.h.") && init[name].rank() == 2 {
            let v: Vec<f32> = init[name].flatten_all().unwrap().to_vec1().unwrap();
            let before: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
            assert_ne!(&before, bits, "Muon left `{name}` unchanged");
            matrices += 1;
        }
    }
    assert_eq!(matrices, 2 * 6, "two layers of q, k, v, proj, fc, proj");
    let (_, bits2, weights2) = run(&|_| {});
    assert_eq!(
        bits, bits2,
        "bf16 losses differ between two runs of one seed"
    );
    assert!(
        weights == weights2,
        "bf16 weights differ between two runs of one seed"
    );
    let lines = lines.into_inner().unwrap();
    assert!(lines[0].contains("on the CPU (bf16)"), "{lines:?}");
}

/// The loss after one optimiser step, in f32 and in bf16, from the same initialisation and
/// batches. Step 0 has a zero head, so its loss is exactly ln(64) in both and only the head
/// moves (Adam's first step is ±lr per entry whatever the gradient's precision). Step 1's
/// forward then differs only by bf16 rounding: each matmul input is rounded to an 8-bit
/// significand (relative error at most 2⁻⁹), so logits differ by at most a few 2⁻⁹ of their
/// size; the loss's gradient with respect to a row of logits has L1 norm at most 2, so
/// the loss differs by at most ~2·4·2⁻⁹·max|logit| and the loss *drop* from ln(64)
/// (proportional to the logits at this scale) by a few 2⁻⁸ relative. The test allows 2⁻⁵
/// (3%) of the drop: room for the rounding above, far below what a broken bf16 op gives.
#[test]
fn f32_and_bf16_agree_after_the_first_step() {
    let root = tempfile::tempdir().unwrap();
    stage_synthetic(root.path(), 64, 2000, 1, 3 * 8 * 32 + 1);
    let shards = fineweb::train_shards(root.path()).unwrap();
    let losses = |r: Recipe| {
        train(&r, &shards, 5, &Device::Cpu, &|_| {})
            .unwrap()
            .1
            .losses
    };
    let (f, b) = (losses(tiny_recipe(3)), losses(tiny_bf16(3)));
    let ln64 = 64f32.ln();
    assert_eq!(f[0], b[0], "step 0 (zero head) must be ln(64) in both");
    let (df, db) = (ln64 - f[1], ln64 - b[1]);
    assert!(df > 1e-3, "the first step barely moved the f32 loss: {f:?}");
    let rel = (df - db).abs() / df;
    assert!(
        rel < 1.0 / 32.0,
        "loss drop after one step: f32 {df}, bf16 {db} (relative difference {rel}); {f:?} {b:?}"
    );
    println!(
        "after one step: f32 {} bf16 {} (drop relative difference {rel:.2e})",
        f[1], b[1]
    );
}

/// A leased GPU in a build without the `cuda` feature: the baseline trains on the CPU and
/// its first progress line says why and how to fix it.
#[test]
fn a_gpu_without_the_cuda_feature_trains_on_the_cpu_and_says_why() {
    use mlgym_tasks::lm::baseline::training_device;
    let gpu = mlgym_kernels::gpu::fake::fake_device(0);
    let c = training_device(std::slice::from_ref(&gpu), false).unwrap();
    assert!(c.device.is_cpu());
    assert_eq!(c.info.backend, "cpu");
    let note = c.note.unwrap_or_default();
    assert!(
        note.starts_with("training on the CPU, not GPU 0")
            && note.contains("lacks the `cuda` feature")
            && note.contains("--features cuda"),
        "{note}"
    );
    let none = training_device(&[], false).unwrap();
    assert!(none.device.is_cpu() && none.note.is_none() && none.info.backend == "cpu");
    if !mlgym_tasks::lm::baseline::CUDA_BUILD {
        // The baseline itself, given the fake lease: the note is its first line.
        let root = tempfile::tempdir().unwrap();
        stage_synthetic(root.path(), 500, 2 * 1024 + 1, 2, 20 * 4 * 128 / 2 + 1);
        let task = mlgym_tasks::registry::get("languageModelingFineWeb").unwrap();
        let out = tempfile::tempdir().unwrap();
        let lines = std::sync::Mutex::new(Vec::new());
        let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
        let ctx = BaselineContext {
            task: &task.def,
            out_dir: out.path(),
            data_root: root.path(),
            seed: 3,
            quick: true,
            progress: &progress,
        };
        let b = task.hooks.baseline.as_ref().unwrap();
        let info = b.run_on(&ctx, std::slice::from_ref(&gpu)).unwrap().unwrap();
        assert_eq!(info.backend, "cpu");
        let lines = lines.into_inner().unwrap();
        assert!(lines[0].contains("lacks the `cuda` feature"), "{lines:?}");
        assert!(lines[1].contains("on the CPU (f32)"), "{lines:?}");
    }
}
