//! Does a sandboxed CUDA program see only its leased GPU?
//!
//! `gpu_sandbox_probe [--gpus REQUEST] [--minor-env]`
//!
//! Leases `REQUEST` (default `any:1`) through the real lease path, then runs itself inside
//! a sandbox that receives exactly the leased devices the way `mlgym run` passes them
//! (`SandboxSpec::gpus` = the device-node numbers, `CUDA_VISIBLE_DEVICES` = the UUIDs, from
//! `mlgym_kernels::gpu::sandbox_view`). Inside (`--inner`) it asks the CUDA driver which
//! devices it sees and which `/dev/nvidia<N>` it can open. Outside it checks that CUDA saw
//! exactly the leased UUIDs and that no other GPU's device node could be opened, prints one
//! JSON line and exits 0 when both hold.
//!
//! `--minor-env` leaves `CUDA_VISIBLE_DEVICES` as the sandbox sets it by itself (minor
//! numbers), to compare. The sandbox helper is found as for `mlgym` (`MLGYM_SANDBOX_INIT`,
//! or `mlgym-sandbox-init` next to this binary or one directory up).

use std::collections::BTreeSet;
use std::process::ExitCode;

use mlgym_kernels::gpu;
use mlgym_kernels::lease::{self, GpuRequest, LeaseOptions};
use mlgym_sandbox::SandboxSpec;
use serde_json::json;

fn inner() -> ExitCode {
    let inv = gpu::discover_cuda();
    // The GPU device nodes this process can open (listing /dev may itself be denied).
    let nodes: Vec<String> = (0..64)
        .map(|n| format!("nvidia{n}"))
        .filter(|n| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(format!("/dev/{n}"))
                .is_ok()
        })
        .collect();
    println!(
        "{}",
        json!({
            "uuids": inv.devices.iter().map(|d| d.uuid.clone()).collect::<Vec<_>>(),
            "names": inv.devices.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
            "note": inv.note,
            "nodes": nodes,
            "cuda_visible_devices": std::env::var("CUDA_VISIBLE_DEVICES").ok(),
        })
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--inner") {
        return inner();
    }
    match outer(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            println!("{}", json!({"ok": false, "error": e}));
            ExitCode::from(2)
        }
    }
}

fn outer(args: &[String]) -> Result<bool, String> {
    let request: GpuRequest = args
        .iter()
        .position(|a| a == "--gpus")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse::<GpuRequest>())
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or(GpuRequest::Any(1));
    let minor_env = args.iter().any(|a| a == "--minor-env");
    let inv = gpu::discover();
    let plan = lease::plan(&request, 1, &inv).map_err(|e| e.to_string())?;
    let lease = lease::acquire(
        &inv,
        &plan.want,
        &request,
        &LeaseOptions::new("gpu_sandbox_probe"),
    )
    .map_err(|e| e.to_string())?;
    let view = gpu::sandbox_view(lease.devices()).map_err(|e| e.to_string())?;

    let work = std::env::temp_dir().join(format!("mlgym-gpu-probe-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut spec = SandboxSpec::new(&work);
    if let Some(dir) = exe.parent() {
        spec.read_only.push(dir.to_path_buf());
    }
    // Driver libraries outside the system directories (containers) must be visible too.
    if let Ok(p) = std::env::var("LD_LIBRARY_PATH") {
        spec.env_passthrough.push("LD_LIBRARY_PATH".into());
        for d in p.split(':').filter(|d| std::path::Path::new(d).is_dir()) {
            spec.read_only.push(d.into());
        }
    }
    // Exactly what mlgym run's episode does (runtime/src/episode/workspace.rs).
    spec.gpus = view.minors.clone();
    if !minor_env {
        spec.env.push((
            "CUDA_VISIBLE_DEVICES".into(),
            view.cuda_visible_devices.clone(),
        ));
    }
    let argv = vec![exe.to_string_lossy().into_owned(), "--inner".into()];
    let outcome = mlgym_sandbox::run(&spec, &argv).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&work);
    let seen: serde_json::Value = serde_json::from_str(outcome.stdout.trim()).map_err(|e| {
        format!(
            "the sandboxed probe printed no JSON ({e}); stdout {:?}, stderr {:?}",
            outcome.stdout, outcome.stderr
        )
    })?;
    let leased: BTreeSet<String> = lease.devices().iter().map(|d| d.uuid.clone()).collect();
    let inside: BTreeSet<String> = seen["uuids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let allowed_nodes: BTreeSet<String> =
        view.minors.iter().map(|m| format!("nvidia{m}")).collect();
    let foreign_nodes: Vec<String> = seen["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .filter(|n| {
                    let is_gpu = n
                        .strip_prefix("nvidia")
                        .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()));
                    is_gpu && !allowed_nodes.contains(*n)
                })
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let ok = inside == leased && foreign_nodes.is_empty();
    println!(
        "{}",
        json!({
            "ok": ok,
            "mode": outcome.mode.as_str(),
            "cuda_visible_devices": if minor_env { "minor numbers (sandbox default)" } else { "UUIDs (mlgym run)" },
            "host_gpus": inv.devices.len(),
            "leased": leased,
            "seen_inside": inside,
            "inside": seen,
            "foreign_device_nodes": foreign_nodes,
        })
    );
    Ok(ok)
}
