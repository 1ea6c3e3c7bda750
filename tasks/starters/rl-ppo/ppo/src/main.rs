//! `ppo`: trains the task's five PPO models and writes them as a submission.
//!
//! ```text
//! cargo run --release --manifest-path ppo/Cargo.toml -- [--config config.toml] [--out .]
//!     [--seed 0] [--models 5] [--model I] [--threads N] [--steps N]
//! ```
//! Reads `config.toml` (`env`, `[network]`, `[train]`), trains `--models` networks (each
//! from its own initialisation, all with the same training seed, as MLGym's `train.py`),
//! and writes `<out>/checkpoints/model-<i>.safetensors` and `<out>/training_log.csv`.
//! `--model I` trains model `I` alone (the same network as in a full run), so the five
//! models can be trained in separate commands.

use std::path::PathBuf;
use std::process::ExitCode;

use ppo::rl::env::EnvId;
use ppo::rl::nn::par::Scoped;
use ppo::rl::ppo::{train_models, PpoConfig, TrainResult};
use ppo::toml_lite::{self, Value};

struct Args {
    config: PathBuf,
    out: PathBuf,
    seed: u64,
    models: usize,
    only: Option<usize>,
    threads: usize,
    steps: Option<u64>,
}

const USAGE: &str =
    "usage: ppo [--config config.toml] [--out DIR] [--seed N] [--models N] [--model I] [--threads N] [--steps N]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        config: PathBuf::from("config.toml"),
        out: PathBuf::from("."),
        seed: 0,
        models: 5,
        only: None,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        steps: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let v = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        let num = |v: &str| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        match flag.as_str() {
            "--config" => a.config = PathBuf::from(v),
            "--out" => a.out = PathBuf::from(v),
            "--seed" => a.seed = num(&v)?,
            "--models" => a.models = num(&v)? as usize,
            "--model" => a.only = Some(num(&v)? as usize),
            "--threads" => a.threads = num(&v)?.max(1) as usize,
            "--steps" => a.steps = Some(num(&v)?),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

/// Reads `config.toml` into the environment and PPO settings.
fn read_config(path: &PathBuf) -> Result<(EnvId, PpoConfig), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let entries = toml_lite::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let env = entries
        .iter()
        .find(|e| e.table.is_empty() && e.key == "env")
        .and_then(|e| {
            if let Value::Str(s) = &e.value {
                Some(s.clone())
            } else {
                None
            }
        })
        .ok_or(format!(
            "{}: needs `env = \"<gymnax name>\"` before the first table",
            path.display()
        ))?;
    let env: EnvId = env
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut cfg = PpoConfig::mlgym(env);
    for e in entries.iter().filter(|e| !e.table.is_empty()) {
        let Value::Num(v) = e.value else {
            return Err(format!(
                "{}:{}: [{}] {} must be a number",
                path.display(),
                e.line,
                e.table,
                e.key
            ));
        };
        cfg.set(&e.table, &e.key, v)
            .map_err(|m| format!("{}:{}: {m}", path.display(), e.line))?;
    }
    cfg.validate()
        .map_err(|m| format!("{}: {m}", path.display()))?;
    Ok((env, cfg))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let (env, mut cfg) = read_config(&args.config)?;
    if let Some(s) = args.steps {
        cfg.num_train_steps = s;
    }
    let ckpt_dir = args.out.join("checkpoints");
    std::fs::create_dir_all(&ckpt_dir).map_err(|e| format!("{}: {e}", ckpt_dir.display()))?;
    println!(
        "PPO on {env}: {} models x {} env steps, {} envs, network {}x{}, {} threads",
        args.models,
        cfg.num_train_steps,
        cfg.num_train_envs,
        cfg.num_hidden_layers,
        cfg.num_hidden_units,
        args.threads
    );
    let which: Vec<usize> = match args.only {
        Some(i) => vec![i],
        None => (0..args.models).collect(),
    };
    let total = args
        .models
        .max(which.iter().map(|i| i + 1).max().unwrap_or(0));
    let progress = |line: &str| println!("{line}");
    let mut save =
        |i: usize, spec: &ppo::rl::policy::net::NetSpec, r: &TrainResult| -> Result<(), String> {
            let path = ckpt_dir.join(format!("model-{i}.safetensors"));
            let tensors: Vec<(String, Vec<usize>, &[f32])> = spec
                .tensors()
                .into_iter()
                .map(|t| {
                    let values = &r.params[t.offset..t.offset + t.len()];
                    (t.name, t.shape, values)
                })
                .collect();
            let meta = vec![
                ("format".to_string(), "mlgym-rl-policy".to_string()),
                ("env".to_string(), env.name().to_string()),
                ("model".to_string(), i.to_string()),
                ("env_steps".to_string(), r.env_steps.to_string()),
            ];
            ppo::safetensors_lite::write(&path, &tensors, &meta)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            println!(
                "model {}/{total} done: {} env steps in {:.1} s ({:.0} steps/s) -> {}",
                i + 1,
                r.env_steps,
                r.seconds,
                r.env_steps as f64 / r.seconds.max(1e-9),
                path.display()
            );
            Ok(())
        };
    let par = Scoped {
        threads: args.threads,
    };
    let results = train_models(
        env, &cfg, args.seed, &which, total, &par, &progress, &mut save,
    )?;
    let mut csv =
        String::from("model,env_steps,mean_return,episodes,value_loss,actor_loss,entropy\n");
    for (&i, r) in which.iter().zip(&results) {
        for p in &r.curve {
            csv.push_str(&format!(
                "{i},{},{},{},{},{},{}\n",
                p.env_steps, p.mean_return, p.episodes, p.loss.value, p.loss.actor, p.loss.entropy
            ));
        }
    }
    let log = match args.only {
        Some(i) => args.out.join(format!("training_log-{i}.csv")),
        None => args.out.join("training_log.csv"),
    };
    std::fs::write(&log, csv).map_err(|e| format!("{}: {e}", log.display()))?;
    let stray: Vec<String> = std::fs::read_dir(&ckpt_dir)
        .map_err(|e| format!("{}: {e}", ckpt_dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".safetensors"))
        .filter(|n| !(0..total).any(|i| *n == format!("model-{i}.safetensors")))
        .collect();
    if !stray.is_empty() {
        println!(
            "note: {} also holds {}: the evaluation needs exactly 5 checkpoint files",
            ckpt_dir.display(),
            stray.join(", ")
        );
    }
    println!("learning curves: {}", log.display());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
