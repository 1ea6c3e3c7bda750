//! `mlgym tasks [show ID | prepare ID]`: the task registry.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::output::{finish, print_json};

#[derive(Debug, Args)]
pub struct TasksArgs {
    #[command(subcommand)]
    pub command: Option<TasksCommand>,
    /// Print a JSON array: id, name, domain, primary_metric, direction, data_ready, baseline.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Print a task's full definition and description.
    Show {
        /// Task id.
        id: String,
        /// Print the definition as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stage ahead of time what the first episode of a task would set up itself: for
    /// tasks whose starter is a Rust crate (the RL tasks' `ppo/`, the language model's
    /// `gpt/`), the host's toolchain and cargo registry for the sandbox and the crate
    /// pre-built there (minutes, once; later episodes start in seconds). Run it before a
    /// sweep, or while the registry is complete (air-gapped labs). Nothing to do for
    /// other tasks.
    Prepare {
        /// Task id.
        id: String,
        /// Print one JSON object: task, rust (staging folder or null), crates, seconds,
        /// reason (why nothing was staged).
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: TasksArgs) -> ExitCode {
    let json = args.json
        || matches!(
            args.command,
            Some(TasksCommand::Show { json: true, .. } | TasksCommand::Prepare { json: true, .. })
        );
    finish(json, || {
        let root = mlgym_tasks::data::data_root();
        match args.command {
            None => {
                let tasks = mlgym_tasks::registry::all()?;
                let rows: Vec<serde_json::Value> = tasks
                    .iter()
                    .map(|t| {
                        let p = t.def.primary_metric();
                        let baseline = crate::episode::scoring::baseline_scores(t)
                            .get(&p.name)
                            .copied();
                        serde_json::json!({
                            "id": t.def.id, "name": t.def.name, "domain": t.def.domain,
                            "primary_metric": p.name, "direction": p.direction.as_str(),
                            "data_ready": t.data_ready(&root), "baseline": baseline,
                            "mlgym_baseline": t.def.baseline.mlgym.get(&p.name),
                        })
                    })
                    .collect();
                if args.json {
                    print_json(&rows);
                } else {
                    println!(
                        "{:<28} {:<12} {:<14} {:<4} {:<6} {:>12}",
                        "ID", "DOMAIN", "PRIMARY", "DIR", "DATA", "BASELINE"
                    );
                    for (t, r) in tasks.iter().zip(&rows) {
                        let p = t.def.primary_metric();
                        let data = if t.data_ready(&root) {
                            "ready"
                        } else {
                            "absent"
                        };
                        let base = r["baseline"]
                            .as_f64()
                            .map(|b| format!("{b:.4}"))
                            .unwrap_or_else(|| "-".into());
                        println!(
                            "{:<28} {:<12} {:<14} {:<4} {:<6} {:>12}",
                            t.def.id,
                            t.def.domain,
                            p.name,
                            p.direction.as_str(),
                            data,
                            base
                        );
                    }
                }
            }
            Some(TasksCommand::Prepare { id, json }) => prepare(&id, &root, json)?,
            Some(TasksCommand::Show { id, json }) => {
                let t = super::common::task(&id)?;
                if json {
                    print_json(&serde_json::json!({
                        "definition": t.def, "description": t.description,
                        "starter_files": t.starter.iter().map(|f| serde_json::json!({"path": f.path, "read_only": f.read_only, "bytes": f.bytes.len()})).collect::<Vec<_>>(),
                        "data_ready": t.data_ready(&root),
                        "has_baseline": t.hooks.baseline.is_some(),
                    }));
                } else {
                    println!("{} ({}) — {}", t.def.id, t.def.name, t.def.domain);
                    println!("submission: {}", t.def.submission.join(", "));
                    for m in &t.def.metrics {
                        println!(
                            "metric: {} ({}{})",
                            m.name,
                            m.direction.as_str(),
                            if m.primary { ", primary" } else { "" }
                        );
                    }
                    println!("baseline (ours): {:?}", t.def.baseline.ours);
                    println!("baseline (MLGym): {:?}", t.def.baseline.mlgym);
                    println!(
                        "training timeout: {} s, GPUs: {}, memory: {} MB",
                        t.def.training_timeout, t.def.gpus, t.def.memory_mb
                    );
                    println!(
                        "starter files: {}",
                        t.starter
                            .iter()
                            .map(|f| f.path.display().to_string()
                                + if f.read_only { " (read-only)" } else { "" })
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    match &t.hooks.data {
                        Some(d) => println!(
                            "data: {}",
                            if d.ready(&root) {
                                "ready".to_string()
                            } else {
                                format!("not staged — {}", d.how_to_stage())
                            }
                        ),
                        None => println!("data: none needed"),
                    }
                    println!("\n{}", t.description);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `mlgym tasks prepare ID`: stages the sandbox's Rust toolchain and pre-builds the
/// task's starter crates (what `Episode::start` would do on first use).
fn prepare(id: &str, root: &std::path::Path, json: bool) -> anyhow::Result<()> {
    use crate::episode::toolchain;
    let t = super::common::task(id)?;
    let started = std::time::Instant::now();
    let staged = toolchain::stage(root, t, &|l| eprintln!("{l}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let (rust, crates, reason) = match &staged {
        Ok(tc) => (
            Some(tc.root().display().to_string()),
            tc.crates()
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>(),
            None,
        ),
        Err(why) => (None, Vec::new(), Some(why.to_string())),
    };
    if json {
        print_json(&serde_json::json!({
            "task": id,
            "rust": rust,
            "crates": crates,
            "seconds": seconds,
            "reason": reason,
        }));
    } else if let Some(r) = &reason {
        println!("{id}: nothing to prepare: {r}");
    } else if let Some(root) = &rust {
        println!(
            "{id}: toolchain staged and {} pre-built in {root} ({seconds:.1} s)",
            crates.join(", ")
        );
    }
    Ok(())
}
