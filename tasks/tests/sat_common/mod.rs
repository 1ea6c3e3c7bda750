//! Shared helpers of the 3SATTime evaluator tests (`sat_evaluate.rs`,
//! `sat_bad_heuristics.rs`): the pristine solver runs a heuristic in a real sandbox.
//! Needs /usr/bin/python3 and the `mlgym-sandbox-init` helper (built on demand); each
//! test prints SKIP and passes when they are unavailable.
#![allow(dead_code)]
// Test support: a failed setup step should fail the calling test, with the value shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use mlgym_sandbox::ModeRequest;
use mlgym_tasks::python::PythonEnv;
use mlgym_tasks::sat::evaluate::{SatEvaluator, SatLimits};
use mlgym_tasks::sat::instances::{self, Instance};
use mlgym_tasks::{registry, AgentCodeConfig, EvalContext, EvalError, Metrics};

pub const STARTER: &str = include_str!("../../defs/3SATTime/starter/heuristic.py");

/// The agent-code configuration, or `None` (after printing why) when this host cannot
/// run the evaluator.
pub fn config() -> Option<&'static AgentCodeConfig> {
    static CONFIG: OnceLock<Result<AgentCodeConfig, String>> = OnceLock::new();
    let c = CONFIG.get_or_init(|| {
        let python = PythonEnv::at(Path::new("/usr/bin/python3")).map_err(|e| e.to_string())?;
        let init = locate_init()?;
        // SAFETY (edition 2021: not unsafe): set once, before any sandbox starts.
        std::env::set_var("MLGYM_SANDBOX_INIT", &init);
        let support = mlgym_sandbox::host_support();
        if support.mode.is_none() {
            return Err(format!(
                "no sandbox mode available here: {:?}",
                support.reasons
            ));
        }
        Ok(AgentCodeConfig {
            mode: ModeRequest::Auto,
            python,
        })
    });
    match c {
        Ok(c) => Some(c),
        Err(why) => {
            eprintln!("SKIP: {why}");
            None
        }
    }
}

/// `target/<profile>/mlgym-sandbox-init`, built with cargo when missing.
pub fn locate_init() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("test executable has no target directory")?;
    let init = profile_dir.join("mlgym-sandbox-init");
    if init.is_file() {
        return Ok(init);
    }
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "-p",
        "mlgym-sandbox",
        "--bin",
        "mlgym-sandbox-init",
    ]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo to build mlgym-sandbox-init: {e}"))?;
    if status.success() && init.is_file() {
        Ok(init)
    } else {
        Err(format!("mlgym-sandbox-init is missing at {} and `cargo build -p mlgym-sandbox --bin mlgym-sandbox-init` failed", init.display()))
    }
}

pub fn solver_py() -> &'static [u8] {
    registry::get("3SATTime")
        .unwrap()
        .starter_file("solver.py")
        .unwrap()
}

/// Two instances of every grid cell, in set order: all sizes and ratios, a few seconds.
pub fn subset() -> Vec<Instance> {
    let set = instances::evaluation_set().unwrap();
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut out = Vec::new();
    for inst in &set.instances {
        let cell = inst.name.split_once('-').unwrap().1.to_string();
        let count = match seen.iter_mut().find(|(c, _)| *c == cell) {
            Some((_, n)) => n,
            None => {
                seen.push((cell, 0));
                &mut seen.last_mut().unwrap().1
            }
        };
        if *count < 2 {
            *count += 1;
            out.push(inst.clone());
        }
    }
    out
}

/// Limits for subset runs: far below the defaults, far above what the starter needs
/// (≤ 0.7 s per instance on a quiet machine; load can inflate that).
pub fn quick_limits() -> SatLimits {
    SatLimits {
        per_instance_cpu_s: 10.0,
        total_cpu_s: 60,
        wall: Duration::from_secs(120),
        memory_bytes: 1 << 30,
    }
}

pub fn evaluate_with(
    evaluator: &dyn mlgym_tasks::Evaluator,
    cfg: &AgentCodeConfig,
    heuristic: Option<&str>,
) -> Result<Metrics, EvalError> {
    let work = tempfile::Builder::new()
        .prefix("mlgym-sat-test")
        .tempdir()
        .unwrap();
    with_context(work.path(), cfg, heuristic, |ctx| evaluator.evaluate(ctx))
}

/// Calls `f` with the 3SATTime evaluation context of a submission holding `heuristic`
/// (none: an empty submission), in `work/submission` and `work/scratch`, seed 7. The
/// directories are world-readable: the sandboxed heuristic may run as another user.
pub fn with_context<R>(
    work: &Path,
    cfg: &AgentCodeConfig,
    heuristic: Option<&str>,
    f: impl FnOnce(&EvalContext) -> R,
) -> R {
    let sub = work.join("submission");
    let scratch = work.join("scratch");
    for d in [work, &sub, &scratch] {
        std::fs::create_dir_all(d).unwrap();
        set_mode(d, 0o755);
    }
    if let Some(code) = heuristic {
        std::fs::write(sub.join("heuristic.py"), code).unwrap();
        set_mode(&sub.join("heuristic.py"), 0o644);
    }
    let task = &registry::get("3SATTime").unwrap().def;
    f(&EvalContext {
        task,
        submission_dir: &sub,
        scratch_dir: &scratch,
        data_root: work,
        seed: 7,
        agent_code: cfg,
    })
}

pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An evaluator of the first 3 instances of [`subset`] under `limits`: enough to see a
/// limit hit without the cost of a full set.
pub fn three_instance_evaluator(limits: SatLimits) -> SatEvaluator {
    SatEvaluator::with_instances(solver_py(), subset()[..3].to_vec(), limits)
}

pub fn subset_evaluator(instances: Vec<Instance>) -> SatEvaluator {
    SatEvaluator::with_instances(solver_py(), instances, quick_limits())
}

/// The format error a bad heuristic must produce (checked to name the instance).
pub fn format_error(code: &str) -> String {
    let Some(cfg) = config() else {
        return String::new();
    };
    let evaluator = subset_evaluator(subset()[..6].to_vec());
    match evaluate_with(&evaluator, cfg, Some(code)) {
        Err(EvalError::Format(m)) => {
            eprintln!("format error: {m}");
            m
        }
        other => panic!("expected a format error for\n{code}\ngot {other:?}"),
    }
}

/// A heuristic that behaves like the starter until call `n`, then returns `bad`.
pub fn bad_after(n: usize, bad: &str) -> String {
    format!(
        "calls = [0]\ndef heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):\n    calls[0] += 1\n    free = sorted({{abs(l) for c in clauses for l in c if abs(l) not in assignments}})\n    if calls[0] > {n}:\n        return {bad}\n    return free[0], True\n"
    )
}
