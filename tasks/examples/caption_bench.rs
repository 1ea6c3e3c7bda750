//! Timing of the captioning baseline's two costs on this machine, with random weights of
//! the real sizes: the frozen ResNet-50 encoder (images/s at 224×224, batch 16) and one
//! decoder training step (batch 128, embed 256, LSTM 512, captions of 14 tokens,
//! vocabulary `VOCAB`).
//!
//! `cargo run --release -p mlgym-tasks --example caption_bench [IMAGES] [VOCAB]`
//! (defaults 32 and 4000).

use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use mlgym_tasks::captioning::decoder::{Captioner, DecoderConfig};
use mlgym_tasks::captioning::encoder::{ResNetConfig, ResNetEncoder};
use mlgym_tasks::captioning::tiny::write_random_resnet;
use mlgym_tasks::rng::Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let images: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let vocab: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4000);
    let dir = std::env::temp_dir().join(format!("mlgym-caption-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("resnet50.safetensors");
    write_random_resnet(&path, &ResNetConfig::resnet50(), 1)?;
    let enc = ResNetEncoder::load(&path)?;
    std::fs::remove_dir_all(&dir)?;
    let mut rng = Rng::new(2);
    let batch = 16;
    let mut done = 0;
    let start = Instant::now();
    while done < images {
        let n = batch.min(images - done);
        let v: Vec<f32> = (0..n * 3 * 224 * 224)
            .map(|_| rng.normal() as f32)
            .collect();
        let x = Tensor::from_vec(v, (n, 3, 224, 224), &Device::Cpu)?;
        let f = enc.forward(&x)?;
        assert_eq!(f.dims(), [n, 2048]);
        done += n;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "encoder: ResNet-50, {images} images 224x224 in {secs:.1} s: {:.2} images/s",
        images as f64 / secs
    );

    let config = DecoderConfig {
        feature_dim: 2048,
        embed: 256,
        hidden: 512,
        vocab,
        bn_momentum: 0.01,
    };
    let mut model = Captioner::new(config, &mut rng)?;
    let mut opt = AdamW::new(
        model.params(),
        ParamsAdamW {
            lr: 1e-3,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let b = 128;
    let feats = Tensor::from_vec(
        (0..b * 2048).map(|_| rng.next_f32()).collect::<Vec<f32>>(),
        (b, 2048),
        &Device::Cpu,
    )?;
    let tokens: Vec<Vec<u32>> = (0..b)
        .map(|_| {
            let mut t = vec![1];
            t.extend((0..12).map(|_| 4 + rng.below(vocab as u64 - 4) as u32));
            t.push(2);
            t
        })
        .collect();
    let steps = 5;
    let start = Instant::now();
    for _ in 0..steps {
        let loss = model.loss(&feats, &tokens)?;
        opt.backward_step(&loss)?;
    }
    let secs = start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "decoder: batch {b}, vocabulary {vocab}: {secs:.2} s per step ({:.0} images/s)",
        b as f64 / secs
    );
    Ok(())
}
