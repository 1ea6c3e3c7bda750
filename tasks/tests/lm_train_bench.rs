//! Benchmark (ignored by default; `scripts/bench/lm_train.sh` runs it beside PyTorch):
//! training tokens/s of the baseline's recipes on the CPU, timed after two warm-up steps.
//!
//! `LM_BENCH_SHARDS=DIR` (training shards `fineweb_train_*.bin`; synthetic ones are made
//! when unset), `LM_BENCH_RECIPES=quick,cpu`, `LM_BENCH_STEPS=10` (timed steps).
//! Prints one line per recipe: `lm_train_bench recipe=NAME tokens_per_s=X loss=Y`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lm_support;

use std::time::Instant;

use candle_core::Device;
use mlgym_tasks::datasets::fineweb;
use mlgym_tasks::lm::shards::{self, TokenLoader};
use mlgym_tasks::lm::train::{Recipe, Trainer};

#[test]
#[ignore = "benchmark: run scripts/bench/lm_train.sh"]
fn lm_train_tokens_per_second() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = match std::env::var("LM_BENCH_SHARDS") {
        Ok(d) => std::path::PathBuf::from(d),
        Err(_) => {
            // GPT-2-range ids so that the whole vocabulary is used.
            let t: Vec<u16> = lm_support::markov_tokens(2_000_000, 50_257, 1);
            shards::write(&tmp.path().join(fineweb::train_name(1)), &t).unwrap();
            tmp.path().to_path_buf()
        }
    };
    let files = shards::list(&dir, fineweb::TRAIN_PREFIX).unwrap();
    assert!(!files.is_empty(), "no training shards in {}", dir.display());
    let steps: usize = std::env::var("LM_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let recipes = std::env::var("LM_BENCH_RECIPES").unwrap_or_else(|_| "quick,cpu".into());
    for name in recipes.split(',').filter(|s| !s.is_empty()) {
        let recipe = Recipe {
            iterations: steps + 2,
            warmdown_iters: steps + 2,
            ..Recipe::named(name).unwrap_or_else(|| panic!("unknown recipe {name}"))
        };
        let mut loader = TokenLoader::new(&files, recipe.batch, recipe.seq_len).unwrap();
        let mut trainer = Trainer::new(&recipe, 0, &Device::Cpu).unwrap();
        let mut loss = 0.0;
        let mut start = Instant::now();
        for it in 0..steps + 2 {
            if it == 2 {
                start = Instant::now();
            }
            let (x, y) = loader.next_batch().unwrap();
            loss = trainer.step(x, y).unwrap();
        }
        let rate = (steps * recipe.tokens_per_step()) as f64 / start.elapsed().as_secs_f64();
        println!("lm_train_bench recipe={name} tokens_per_s={rate:.0} loss={loss:.4}");
    }
}
