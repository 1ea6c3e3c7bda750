//! `mlgym gpus`: the GPUs of this host and who leases them; and the `--gpus` option with
//! which `mlgym run` leases GPUs for its episode.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use mlgym_kernels::gpu::{self, GpuDevice, Inventory};
use mlgym_kernels::lease::{self, GpuLease, GpuRequest, LeaseState};
use mlgym_tasks::Task;

use super::output::{finish, print_json};

/// List the GPUs of this host, with memory, compute capability and who leases each.
///
/// `mlgym run --gpus` leases GPUs exclusively: one lock per GPU in the lease directory
/// ($MLGYM_LEASE_DIR, else /run/mlgym/gpu-leases for root, else
/// $XDG_RUNTIME_DIR/mlgym/gpu-leases), released by the kernel when the run ends or dies, so
/// parallel runs and sweeps never share a GPU. Every mlgym process that must not share GPUs
/// has to use the same lease directory.
///
/// Indices are CUDA's, as this process sees them (CUDA_VISIBLE_DEVICES and
/// CUDA_DEVICE_ORDER apply); UUIDs are stable. Without a driver or a GPU the list is empty
/// and the reason is printed. For tests only, MLGYM_FAKE_GPUS=N (or a JSON file) replaces
/// the driver's list by fake devices; they are marked FAKE.
#[derive(Debug, Args)]
pub struct GpusArgs {
    /// Print one JSON object: source, fake, driver_version, note, lease_dir, and devices
    /// (index, uuid, name, memory_total, memory_free, compute_capability, pci_bus_id, minor,
    /// lease).
    #[arg(long)]
    pub json: bool,
}

/// The GPU options of `mlgym run`.
#[derive(Debug, Clone, Args)]
pub struct GpuOpts {
    /// GPUs for the episode (or the evaluation, the baseline), leased exclusively for the
    /// whole run and the only ones its sandbox sees: `auto` (as many as the task declares
    /// in task.toml, none when the host has none), `none`, `any:N` (any N free GPUs), or
    /// indices or UUIDs as `mlgym gpus` lists them (e.g. `0,2`). The RL tasks declare none;
    /// given one (e.g. `--gpus 0`), their evaluator and PPO baseline step the environments
    /// there with CUDA kernels (same scores as on the CPU).
    #[arg(long, default_value = "auto", value_name = "auto|none|any:N|LIST")]
    pub gpus: String,
    /// Seconds to wait for GPUs that other runs hold before giving up (0: fail at once).
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub gpu_wait: u64,
}

impl GpuOpts {
    /// Leases what `--gpus` asks for `task`'s episode (nothing, without asking the driver,
    /// when the answer is no GPU). Keep the lease alive for the whole run. For the RL
    /// tasks, whose evaluator steps its environments on a leased GPU, the environment
    /// kernels are compiled here once, so a broken CUDA toolkit fails the run before the
    /// episode rather than at its first evaluation.
    pub fn lease(&self, task: &Task, quiet: bool) -> anyhow::Result<GpuLease> {
        let lease = self.lease_for(task, quiet, "mlgym run")?;
        if mlgym_tasks::rl::task::env_for_task(&task.def.id).is_some() && !lease.is_empty() {
            mlgym_tasks::rl::EnvBackend::for_gpus(lease.devices()).context("--gpus")?;
        }
        Ok(lease)
    }

    /// Leases what `--gpus` asks for `task`; `what` (`mlgym eval`, ...) is recorded as the
    /// lease's purpose.
    pub fn lease_for(&self, task: &Task, quiet: bool, what: &str) -> anyhow::Result<GpuLease> {
        let request: GpuRequest = self.gpus.parse().context("--gpus")?;
        let purpose = format!("{what} {} (pid {})", task.def.id, std::process::id());
        let wait = Duration::from_secs(self.gpu_wait);
        let lease = crate::gpu_lease::lease_for_task(task, &request, wait, purpose, |m| {
            eprintln!("mlgym: {m}")
        })
        .context("--gpus")?;
        if !quiet {
            for d in lease.devices() {
                eprintln!("mlgym: leased {}", d.label());
            }
        }
        Ok(lease)
    }
}

fn gib(b: u64) -> String {
    format!("{:.1}", b as f64 / (1u64 << 30) as f64)
}

fn lease_json(state: &LeaseState) -> serde_json::Value {
    match state {
        LeaseState::Free => serde_json::json!({ "state": "free" }),
        LeaseState::Leased { pid, holder } => serde_json::json!({
            "state": "leased",
            "pid": pid,
            "purpose": holder.as_ref().map(|h| h.purpose.clone()),
            "since": holder.as_ref().map(|h| h.since),
        }),
        LeaseState::Unknown(why) => serde_json::json!({ "state": "unknown", "why": why }),
    }
}

fn lease_text(state: &LeaseState) -> String {
    match state {
        LeaseState::Free => "free".into(),
        LeaseState::Leased {
            pid,
            holder: Some(h),
        } => format!("leased by pid {pid}: {}", h.purpose),
        LeaseState::Leased { pid, holder: None } => format!("leased by pid {pid}"),
        LeaseState::Unknown(why) => format!("lease unknown ({why})"),
    }
}

fn device_line(d: &GpuDevice, state: &LeaseState) -> String {
    let free = d.memory_free.map(gib).unwrap_or_else(|| "?".into());
    let node = d
        .minor
        .map(|m| format!("/dev/nvidia{m}"))
        .unwrap_or_else(|| "node ?".into());
    format!(
        "  {:>2}  {:<28} {}  {}/{} GiB free  cc {}  {}  {}",
        d.index,
        d.name,
        d.uuid,
        free,
        gib(d.memory_total),
        d.compute_capability,
        node,
        lease_text(state)
    )
}

fn render(inv: &Inventory, dir: &std::path::Path, json: bool) {
    let status = lease::status(inv, dir);
    if json {
        let devices: Vec<serde_json::Value> = status
            .iter()
            .map(|(d, s)| {
                let mut v = serde_json::to_value(d).unwrap_or_default();
                v["lease"] = lease_json(s);
                v
            })
            .collect();
        print_json(&serde_json::json!({
            "source": inv.source,
            "fake": inv.is_fake(),
            "driver_version": inv.driver_version,
            "note": inv.note,
            "lease_dir": dir,
            "devices": devices,
        }));
        return;
    }
    let origin = match (&inv.driver_version, inv.is_fake()) {
        (_, true) => format!("FAKE, from {} (for tests only)", gpu::FAKE_GPUS_ENV),
        (Some(v), false) => format!("CUDA driver {v}"),
        (None, false) => "CUDA driver".into(),
    };
    if inv.devices.is_empty() {
        println!(
            "no GPU ({origin}): {}",
            inv.note.as_deref().unwrap_or("none found")
        );
    } else {
        println!("{} GPU(s) ({origin}):", inv.devices.len());
        for (d, s) in &status {
            println!("{}", device_line(d, s));
            if let Some(n) = &d.note {
                println!("      note: {n}");
            }
        }
    }
    println!(
        "lease directory: {} (set {} to change)",
        dir.display(),
        lease::LEASE_DIR_ENV
    );
}

pub fn run(args: GpusArgs) -> ExitCode {
    finish(args.json, || {
        render(&gpu::discover(), &lease::default_lease_dir(), args.json);
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlgym_kernels::gpu::fake;

    fn opts(gpus: &str) -> GpuOpts {
        GpuOpts {
            gpus: gpus.into(),
            gpu_wait: 0,
        }
    }

    #[test]
    fn cpu_tasks_and_none_lease_nothing_without_touching_the_driver() {
        let task = mlgym_tasks::registry::get("battleOfSexes").unwrap();
        assert_eq!(task.def.gpus, 0);
        assert!(opts("auto").lease(task, true).unwrap().is_empty());
        assert!(opts("none").lease(task, true).unwrap().is_empty());
        let e = opts("two").lease(task, true).unwrap_err();
        assert!(format!("{e:#}").contains("--gpus"), "{e:#}");
    }

    #[test]
    fn the_episode_sandbox_gets_the_leased_nodes_and_uuids() {
        use crate::episode::workspace::give_gpus;
        let mut spec = mlgym_sandbox::SandboxSpec::new("/tmp");
        give_gpus(&mut spec, &[]).unwrap();
        assert!(spec.gpus.is_empty() && spec.env.is_empty());
        give_gpus(&mut spec, &[fake::fake_device(1), fake::fake_device(0)]).unwrap();
        assert_eq!(spec.gpus, vec![1, 0]);
        let cvd = format!("{},{}", fake::fake_uuid(1), fake::fake_uuid(0));
        assert!(spec
            .env
            .contains(&("CUDA_VISIBLE_DEVICES".to_string(), cvd)));
        let mut unknown = fake::fake_device(2);
        unknown.minor = None;
        let e = give_gpus(&mut spec, &[unknown]).unwrap_err().to_string();
        assert!(e.contains("device node"), "{e}");
    }

    #[test]
    fn device_lines_show_memory_node_and_holder() {
        let d = fake::fake_device(1);
        let line = device_line(&d, &LeaseState::Free);
        assert!(
            line.contains("Fake GPU 1") && line.contains("79.0/80.0 GiB free"),
            "{line}"
        );
        assert!(
            line.contains("/dev/nvidia1") && line.ends_with("free"),
            "{line}"
        );
        let held = LeaseState::Leased {
            pid: 42,
            holder: None,
        };
        assert!(device_line(&d, &held).ends_with("leased by pid 42"));
        assert_eq!(lease_json(&held)["pid"], 42);
    }
}
