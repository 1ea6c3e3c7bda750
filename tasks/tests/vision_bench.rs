//! Time of one training step of the image baselines' CNN (batch 64, Fashion-MNIST-sized
//! input: forward, backward, AdamW), for `scripts/bench/cnn_step.sh`. Ignored by default:
//!
//! `cargo test --release -p mlgym-tasks --test vision_bench -- --ignored --nocapture`
//!
//! Prints one JSON line: median and best milliseconds per step over `CNN_BENCH_STEPS`
//! (default 40) steps after 5 warm-up steps, and the split into forward, backward and
//! optimizer time. `CNN_BENCH_DATASET=cifar10` times CIFAR-10-sized input instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::Optimizer;
use mlgym_tasks::datasets::registry::{CIFAR10, FASHION_MNIST};
use mlgym_tasks::rng::Rng;
use mlgym_tasks::vision::model::{batch, Cnn};
use mlgym_tasks::vision::train::{optimizers, Recipe};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
#[ignore = "benchmark; run by scripts/bench/cnn_step.sh"]
fn time_training_steps() {
    let spec = match std::env::var("CNN_BENCH_DATASET").as_deref() {
        Ok("cifar10") => &CIFAR10,
        _ => &FASHION_MNIST,
    };
    let steps: usize = std::env::var("CNN_BENCH_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let mut rng = Rng::new(1);
    let n = 64 * 4;
    let pixels: Vec<u8> = (0..n * spec.image_bytes())
        .map(|_| rng.below(256) as u8)
        .collect();
    let labels: Vec<u32> = (0..n).map(|_| rng.below(10) as u32).collect();
    let model = Cnn::new(spec.height, spec.width, spec.channels, 10, &mut rng).unwrap();
    let mut opts = optimizers(&model, &Recipe::mlgym()).unwrap();
    for o in opts.iter_mut() {
        o.set_learning_rate(1e-3);
    }
    let (mut total, mut fwd, mut bwd, mut opt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in 0..steps + 5 {
        let idx: Vec<usize> = (0..64).map(|i| (s * 64 + i) % n).collect();
        let t0 = Instant::now();
        let x = batch(&pixels, &idx, spec.height, spec.width, spec.channels).unwrap();
        let y = Tensor::from_vec(
            idx.iter().map(|&i| labels[i]).collect::<Vec<_>>(),
            64,
            &Device::Cpu,
        )
        .unwrap();
        let loss = candle_nn::loss::cross_entropy(&model.forward(&x).unwrap(), &y).unwrap();
        let t1 = Instant::now();
        let grads = loss.backward().unwrap();
        let t2 = Instant::now();
        for o in opts.iter_mut() {
            o.step(&grads).unwrap();
        }
        let _ = loss.to_scalar::<f32>().unwrap();
        let t3 = Instant::now();
        if s >= 5 {
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            total.push(ms(t0, t3));
            fwd.push(ms(t0, t1));
            bwd.push(ms(t1, t2));
            opt.push(ms(t2, t3));
        }
    }
    let best = total.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{{\"impl\": \"ours\", \"dataset\": \"{}\", \"threads\": {}, \"steps\": {steps}, \"median_ms\": {:.2}, \"best_ms\": {best:.2}, \"forward_ms\": {:.2}, \"backward_ms\": {:.2}, \"adamw_ms\": {:.2}}}",
        spec.name,
        rayon::current_num_threads(),
        median(&mut total),
        median(&mut fwd),
        median(&mut bwd),
        median(&mut opt)
    );
}
