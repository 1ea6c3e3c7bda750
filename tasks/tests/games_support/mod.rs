//! Shared helpers of the game-theory tests: a sandbox-ready environment (or a printed
//! reason to skip) and one-call evaluation of a strategy's source.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mlgym_sandbox::ModeRequest;
use mlgym_tasks::games::{GameEvaluator, GameId, Summary};
use mlgym_tasks::python::PythonEnv;
use mlgym_tasks::{AgentCodeConfig, EvalContext, EvalError};

/// Where cargo put this test's binaries (`target/<profile>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn prepare() -> Result<AgentCodeConfig, String> {
    let python = Path::new("/usr/bin/python3");
    if !python.exists() {
        return Err("/usr/bin/python3 is absent".into());
    }
    let init = profile_dir().join("mlgym-sandbox-init");
    if !init.is_file() {
        let release = profile_dir().file_name().is_some_and(|n| n == "release");
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "-p",
            "mlgym-sandbox",
            "--bin",
            "mlgym-sandbox-init",
        ]);
        if release {
            cmd.arg("--release");
        }
        let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
        if !ok || !init.is_file() {
            return Err(format!(
                "the sandbox helper {} is missing and could not be built",
                init.display()
            ));
        }
    }
    // SAFETY (edition 2021: not unsafe): set once, before any sandbox starts.
    std::env::set_var("MLGYM_SANDBOX_INIT", &init);
    let support = mlgym_sandbox::host_support();
    if !support.user_namespaces && support.landlock_abi < 1 {
        return Err(format!(
            "this host offers no sandbox mode: {:?}",
            support.reasons
        ));
    }
    let python = PythonEnv::at(python).map_err(|e| e.to_string())?;
    // MLGYM_GAMES_TEST_MODE=landlock runs the suite in the fallback mode.
    let mode = match std::env::var("MLGYM_GAMES_TEST_MODE").as_deref() {
        Ok("landlock") => ModeRequest::Landlock,
        Ok("full") => ModeRequest::Full,
        _ => ModeRequest::Auto,
    };
    Ok(AgentCodeConfig { mode, python })
}

/// The agent-code configuration, or `None` after printing why these tests cannot run.
pub fn env() -> Option<&'static AgentCodeConfig> {
    static ENV: OnceLock<Result<AgentCodeConfig, String>> = OnceLock::new();
    match ENV.get_or_init(prepare) {
        Ok(c) => Some(c),
        Err(why) => {
            eprintln!("SKIP: {why}");
            None
        }
    }
}

/// A temporary directory the sandbox's user can traverse.
pub fn dir(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Evaluates `files` (name, source) as a submission with `evaluator` and `seed`.
pub fn run_files(
    cfg: &AgentCodeConfig,
    evaluator: &GameEvaluator,
    files: &[(&str, &str)],
    seed: u64,
) -> Result<Summary, EvalError> {
    let task = mlgym_tasks::registry::get(evaluator.game.task_id()).unwrap();
    let submission = dir("mlgym-games-sub");
    let scratch = dir("mlgym-games-scratch");
    for (name, text) in files {
        std::fs::write(submission.path().join(name), text).unwrap();
    }
    let data_root = scratch.path().join("no-data");
    let ctx = EvalContext {
        task: &task.def,
        submission_dir: submission.path(),
        scratch_dir: scratch.path(),
        data_root: &data_root,
        seed,
        agent_code: cfg,
    };
    evaluator.run(&ctx)
}

/// Evaluates a `strategy.py` with MLGym's protocol (10,000 × 10).
pub fn run(
    cfg: &AgentCodeConfig,
    game: GameId,
    strategy: &str,
    seed: u64,
) -> Result<Summary, EvalError> {
    run_files(
        cfg,
        &GameEvaluator::new(game),
        &[("strategy.py", strategy)],
        seed,
    )
}

/// The starter `strategy.py` of `game`'s task.
pub fn starter(game: GameId) -> String {
    let task = mlgym_tasks::registry::get(game.task_id()).unwrap();
    String::from_utf8(task.starter_file("strategy.py").unwrap().to_vec()).unwrap()
}

/// Asserts `got` is within 4 standard errors of `expected` (`se` combines both sides'
/// uncertainty where the expectation is itself estimated).
pub fn assert_close(what: &str, got: f64, expected: f64, se: f64) {
    let z = (got - expected) / se;
    eprintln!("{what}: measured {got:.5}, expected {expected:.5}, SE {se:.5}, z = {z:+.2}");
    assert!(
        z.abs() < 4.0,
        "{what}: {got} is {z:.2} standard errors from {expected}"
    );
}
