//! `train`: trains the GPT of a recipe file on the FineWeb training shards and writes the
//! submission (`model.safetensors` + `model_config.json`).
//!
//!     cargo build --release --manifest-path gpt/Cargo.toml
//!     ./gpt/target/release/train --config gpt/configs/cpu.toml --val-tokens 65536
//!
//! Options (all optional): `--config FILE` (default `gpt/configs/cpu.toml`), `--data DIR`
//! (default `data/fineweb10B`), `--out DIR` (default `.`), `--seed N` (default 0),
//! `--iterations N` (overrides the file's), `--val-tokens N` (after training, the mean
//! loss over the first N validation tokens, measured as the evaluator measures it; 0 =
//! skip). Same config, data and seed: the same weights, bit for bit.

use std::path::PathBuf;
use std::process::ExitCode;

use candle_core::Device;
use gpt::lm::evaluate::{mean_loss, EvalOptions};
use gpt::lm::shards::{self, Shard};
use gpt::lm::train::{train, Recipe};
use gpt::lm::weights;

/// The training shards' file-name prefix and the validation shard.
const TRAIN_PREFIX: &str = "fineweb_train_";
const VAL_FILE: &str = "fineweb_val_000000.bin";

struct Args {
    config: PathBuf,
    data: PathBuf,
    out: PathBuf,
    seed: u64,
    iterations: Option<usize>,
    val_tokens: usize,
}

const USAGE: &str = "usage: train [--config gpt/configs/cpu.toml] [--data data/fineweb10B] \
                     [--out .] [--seed 0] [--iterations N] [--val-tokens N]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        config: "gpt/configs/cpu.toml".into(),
        data: "data/fineweb10B".into(),
        out: ".".into(),
        seed: 0,
        iterations: None,
        val_tokens: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{flag} `{v}`: expected a whole number"))
        };
        match flag.as_str() {
            "--config" => a.config = value.into(),
            "--data" => a.data = value.into(),
            "--out" => a.out = value.into(),
            "--seed" => a.seed = number(&value)?,
            "--iterations" => a.iterations = Some(number(&value)? as usize),
            "--val-tokens" => a.val_tokens = number(&value)? as usize,
            _ => return Err(format!("unknown option `{flag}`\n{USAGE}")),
        }
    }
    Ok(a)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("{}: {e} (pass --config FILE)", args.config.display()))?;
    let mut recipe =
        Recipe::from_toml(&text, &args.config.display().to_string()).map_err(|e| e.to_string())?;
    if let Some(n) = args.iterations {
        recipe.iterations = n.max(1);
    }
    let train_files = shards::list(&args.data, TRAIN_PREFIX).map_err(|e| e.to_string())?;
    if train_files.is_empty() {
        return Err(format!(
            "no {TRAIN_PREFIX}*.bin in {} (pass --data DIR)",
            args.data.display()
        ));
    }
    // The starter is built without CUDA: it trains on the CPU, in the recipe's `compute`
    // dtype (`auto`: f32).
    let device = Device::Cpu;
    let progress = |line: &str| println!("{line}");
    let (trainer, report) = train(&recipe, &train_files, args.seed, &device, &progress)
        .map_err(|e| e.to_string())?;
    println!(
        "trained on {} tokens in {:.0} s ({:.0} tokens/s); final loss {:.4}",
        report.tokens,
        report.seconds,
        report.tokens_per_second,
        report.losses.last().copied().unwrap_or(f32::NAN)
    );
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    weights::save(&args.out, &recipe.model, &trainer.weights()).map_err(|e| e.to_string())?;
    println!(
        "wrote {} and {} in {}",
        gpt::lm::MODEL_FILE,
        gpt::lm::CONFIG_FILE,
        args.out.display()
    );
    if args.val_tokens > 0 {
        let opts = EvalOptions::default();
        let n = (args.val_tokens / opts.seq_len).max(1) * opts.seq_len;
        let val = Shard::open(&args.data.join(VAL_FILE)).map_err(|e| e.to_string())?;
        let n = n.min((val.len().saturating_sub(1) as usize / opts.seq_len) * opts.seq_len);
        let tokens = val.read(0, n + 1).map_err(|e| e.to_string())?;
        let r = mean_loss(trainer.model(), &tokens, &opts, &device, &|_, _| {})
            .map_err(|e| e.to_string())?;
        println!(
            "val_loss {:.4} over the first {} validation tokens ({:.0} s; the score uses 10485760)",
            r.loss, r.tokens, r.seconds
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
