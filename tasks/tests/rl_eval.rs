//! The RL tasks' evaluator through the registry: deterministic scores, a clear error for
//! every kind of bad submission, and checkpoints written by Python with numpy accepted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use mlgym_tasks::rl::env::EnvId;
use mlgym_tasks::rl::policy::checkpoint::{encode, write_checkpoint};
use mlgym_tasks::rl::policy::{head_for, NetSpec};
use mlgym_tasks::rng::Rng;
use mlgym_tasks::{AgentCodeConfig, EvalContext, EvalError, Metrics};

fn task_id(env: EnvId) -> &'static str {
    match env {
        EnvId::MetaMaze => "rlMetaMazeMisc",
        EnvId::MountainCarContinuous => "rlMountainCarContinuous",
        EnvId::Breakout => "rlBreakoutMinAtar",
    }
}

fn spec(env: EnvId, layers: usize, units: usize) -> NetSpec {
    NetSpec {
        obs_dim: env.obs_dim(),
        hidden_layers: layers,
        hidden_units: units,
        head: head_for(env),
    }
}

fn config(env: EnvId, layers: usize, units: usize) -> String {
    format!(
        "env = \"{}\"\n[network]\nnum_hidden_layers = {layers}\nnum_hidden_units = {units}\n",
        env.name()
    )
}

/// A valid submission of five freshly initialised small networks.
fn write_submission(dir: &Path, env: EnvId, layers: usize, units: usize) {
    std::fs::write(dir.join("config.toml"), config(env, layers, units)).unwrap();
    std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
    let s = spec(env, layers, units);
    for i in 0..5 {
        let params = s.init(&mut Rng::new(100 + i));
        let path = dir.join(format!("checkpoints/model-{i}.safetensors"));
        write_checkpoint(&path, &s, &params, &BTreeMap::new()).unwrap();
    }
}

fn evaluate(env: EnvId, dir: &Path, seed: u64) -> Result<Metrics, EvalError> {
    let task = mlgym_tasks::registry::get(task_id(env)).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // The RL evaluator runs no agent code; the interpreter is never used.
    let agent_code = AgentCodeConfig {
        mode: Default::default(),
        python: mlgym_tasks::python::PythonEnv {
            executable: "/usr/bin/python3".into(),
            read_only: vec![],
        },
    };
    let ctx = EvalContext {
        task: &task.def,
        submission_dir: dir,
        scratch_dir: scratch.path(),
        data_root: scratch.path(),
        seed,
        agent_code: &agent_code,
    };
    task.hooks.evaluator.evaluate(&ctx)
}

#[test]
fn scores_are_deterministic_and_depend_on_the_seed() {
    for env in EnvId::ALL {
        let dir = tempfile::tempdir().unwrap();
        write_submission(dir.path(), env, 1, 8);
        let a = evaluate(env, dir.path(), 0).unwrap();
        let b = evaluate(env, dir.path(), 0).unwrap();
        assert_eq!(a, b, "{env}");
        let keys: Vec<&str> = a.keys().map(String::as_str).collect();
        assert_eq!(keys, ["Reward Mean", "Reward Std"]);
        assert!(a.values().all(|v| v.is_finite()), "{env}: {a:?}");
        assert!(a["Reward Std"] >= 0.0);
        let c = evaluate(env, dir.path(), 1).unwrap();
        assert_ne!(
            a["Reward Mean"], c["Reward Mean"],
            "{env}: the seed changes the draws"
        );
    }
}

/// Expects a format error whose message contains every needle.
fn expect_format(env: EnvId, dir: &Path, needles: &[&str]) {
    match evaluate(env, dir, 0) {
        Err(EvalError::Format(m)) => {
            for n in needles {
                assert!(m.contains(n), "message {m:?} lacks {n:?}");
            }
        }
        other => panic!("expected a format error with {needles:?}, got {other:?}"),
    }
}

fn expect_not_found(env: EnvId, dir: &Path, needle: &str) {
    match evaluate(env, dir, 0) {
        Err(EvalError::SubmissionNotFound(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected submission-not-found with {needle:?}, got {other:?}"),
    }
}

/// Rewrites checkpoint `model-2` with the given tensors (name, shape, f32 values).
fn rewrite(dir: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<_> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    let file = safetensors::serialize(views, None).unwrap();
    std::fs::write(dir.join("checkpoints/model-2.safetensors"), file).unwrap();
}

fn good_tensors(env: EnvId) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let s = spec(env, 1, 8);
    let p = s.init(&mut Rng::new(7));
    s.tensors()
        .into_iter()
        .map(|t| {
            (
                t.name.clone(),
                t.shape.clone(),
                p[t.offset..t.offset + t.len()].to_vec(),
            )
        })
        .collect()
}

#[test]
fn every_bad_submission_gets_a_clear_error() {
    let env = EnvId::MetaMaze;
    let fresh = || {
        let d = tempfile::tempdir().unwrap();
        write_submission(d.path(), env, 1, 8);
        d
    };
    let ckpt = "checkpoints/model-2.safetensors";

    let d = fresh();
    std::fs::remove_file(d.path().join("config.toml")).unwrap();
    expect_not_found(env, d.path(), "config.toml");

    let d = fresh();
    std::fs::remove_dir_all(d.path().join("checkpoints")).unwrap();
    expect_not_found(env, d.path(), "checkpoints/");

    let d = fresh();
    std::fs::remove_file(d.path().join("checkpoints/model-4.safetensors")).unwrap();
    expect_format(
        env,
        d.path(),
        &["checkpoints/", "found 4 checkpoints", "exactly 5"],
    );

    let d = fresh();
    std::fs::copy(
        d.path().join(ckpt),
        d.path().join("checkpoints/extra.safetensors"),
    )
    .unwrap();
    expect_format(env, d.path(), &["found 6 checkpoints", "extra.safetensors"]);

    let d = fresh();
    std::fs::write(
        d.path().join(ckpt),
        b"PK\x03\x04 this is a zip, not safetensors",
    )
    .unwrap();
    expect_format(env, d.path(), &[ckpt, "not a valid safetensors file"]);

    let d = fresh();
    let bytes = std::fs::read(d.path().join(ckpt)).unwrap();
    std::fs::write(d.path().join(ckpt), &bytes[..bytes.len() - 10]).unwrap();
    expect_format(env, d.path(), &[ckpt, "not a valid safetensors file"]);

    let d = fresh();
    let mut t = good_tensors(env);
    t.retain(|(n, _, _)| n != "actor_fc_logits.bias");
    rewrite(d.path(), &t);
    expect_format(
        env,
        d.path(),
        &[ckpt, "missing tensor `actor_fc_logits.bias`", "[4]"],
    );

    let d = fresh();
    let mut t = good_tensors(env);
    let k = t
        .iter_mut()
        .find(|(n, _, _)| n == "actor_fc_1.kernel")
        .unwrap();
    k.1 = vec![8, 15];
    rewrite(d.path(), &t);
    expect_format(
        env,
        d.path(),
        &[
            ckpt,
            "`actor_fc_1.kernel` has shape [8, 15]",
            "expected [15, 8]",
            "transpose",
        ],
    );

    let d = fresh();
    let mut t = good_tensors(env);
    t.push(("actor_fc_2.kernel".into(), vec![8, 8], vec![0.0; 64]));
    rewrite(d.path(), &t);
    expect_format(
        env,
        d.path(),
        &[
            ckpt,
            "unexpected tensor `actor_fc_2.kernel`",
            "num_hidden_layers = 1",
        ],
    );

    let d = fresh();
    let mut t = good_tensors(env);
    t.iter_mut()
        .find(|(n, _, _)| n == "critic_fc_1.bias")
        .unwrap()
        .2[3] = f32::NAN;
    rewrite(d.path(), &t);
    expect_format(
        env,
        d.path(),
        &[ckpt, "`critic_fc_1.bias`", "NaN", "flat index 3"],
    );

    let d = fresh();
    let mut t = good_tensors(env);
    t.iter_mut()
        .find(|(n, _, _)| n == "actor_fc_1.kernel")
        .unwrap()
        .2[0] = f32::INFINITY;
    rewrite(d.path(), &t);
    expect_format(env, d.path(), &[ckpt, "`actor_fc_1.kernel`", "non-finite"]);

    let d = fresh();
    let t = good_tensors(env);
    let views: Vec<_> = t
        .iter()
        .map(|(n, s, v)| {
            let b: Vec<u8> = v.iter().flat_map(|x| half_bits(*x).to_le_bytes()).collect();
            (n.clone(), s.clone(), b)
        })
        .collect();
    let tv: Vec<_> = views
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F16, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    std::fs::write(
        d.path().join(ckpt),
        safetensors::serialize(tv, None).unwrap(),
    )
    .unwrap();
    expect_format(env, d.path(), &[ckpt, "dtype F16", "float32"]);

    // The config and the checkpoints disagree: the first file is reported.
    let d = fresh();
    std::fs::write(d.path().join("config.toml"), config(env, 2, 8)).unwrap();
    expect_format(
        env,
        d.path(),
        &[
            "checkpoints/model-0.safetensors",
            "missing tensor `critic_fc_2.kernel`",
            "num_hidden_layers = 2",
        ],
    );

    let d = fresh();
    std::fs::write(d.path().join("config.toml"), config(EnvId::Breakout, 1, 8)).unwrap();
    expect_format(
        env,
        d.path(),
        &["config.toml", "Breakout-MinAtar", "MetaMaze-misc"],
    );

    let d = fresh();
    std::fs::write(
        d.path().join("config.toml"),
        "[network]\nnum_hidden_layers = 1\n",
    )
    .unwrap();
    expect_format(env, d.path(), &["config.toml", "num_hidden_units"]);
}

/// f32 → IEEE half bits (round toward zero is enough for a dtype test).
fn half_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    if exp <= 0 {
        return sign;
    }
    sign | ((exp.min(30) as u16) << 10) | ((b >> 13) & 0x3ff) as u16
}

#[test]
fn the_critic_may_be_left_out_and_float64_is_accepted() {
    let env = EnvId::MountainCarContinuous;
    let d = tempfile::tempdir().unwrap();
    write_submission(d.path(), env, 1, 8);
    let before = evaluate(env, d.path(), 0).unwrap();
    // Same actor without the critic, stored as float64: the same score.
    let s = spec(env, 1, 8);
    let p = s.init(&mut Rng::new(102));
    let views: Vec<(String, Vec<usize>, Vec<u8>)> = s
        .tensors()
        .into_iter()
        .filter(|x| x.name.starts_with("actor"))
        .map(|x| {
            let b = p[x.offset..x.offset + x.len()]
                .iter()
                .flat_map(|v| (*v as f64).to_le_bytes())
                .collect();
            (x.name.clone(), x.shape.clone(), b)
        })
        .collect();
    let tv: Vec<_> = views
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F64, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    std::fs::write(
        d.path().join("checkpoints/model-2.safetensors"),
        safetensors::serialize(tv, None).unwrap(),
    )
    .unwrap();
    assert_eq!(evaluate(env, d.path(), 0).unwrap(), before);
}

#[test]
fn overflowing_actions_are_a_format_error_not_a_nan_score() {
    let env = EnvId::MountainCarContinuous;
    let d = tempfile::tempdir().unwrap();
    write_submission(d.path(), env, 1, 8);
    let s = spec(env, 1, 8);
    let mut p = s.init(&mut Rng::new(1));
    let mu = s
        .tensors()
        .into_iter()
        .find(|t| t.name == "actor_fc_mu.bias")
        .unwrap();
    p[mu.offset] = 1e30; // a² overflows to infinity
    let bytes = encode(&s, &p, &BTreeMap::new()).unwrap();
    std::fs::write(d.path().join("checkpoints/model-3.safetensors"), bytes).unwrap();
    expect_format(
        env,
        d.path(),
        &["checkpoints/model-3.safetensors", "not finite"],
    );
}

/// Runs `python ARGS...` in `dir` and fails the test with its stderr if it fails.
fn run_python(python: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(python)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `python -c CODE` succeeds (e.g. an import).
fn python_can(python: &Path, code: &str) -> bool {
    Command::new(python)
        .args(["-c", code])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn checkpoints_written_by_python_with_numpy_are_scored() {
    let python = Path::new("/usr/bin/python3");
    if !(python.exists() && python_can(python, "import numpy")) {
        println!("skipped: /usr/bin/python3 with numpy is not available");
        return;
    }
    let starter = Path::new(env!("CARGO_MANIFEST_DIR")).join("starters/rl-ppo");
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(
        starter.join("write_policy.py"),
        d.path().join("write_policy.py"),
    )
    .unwrap();
    // A small network keeps this debug-build test fast; the format is the same.
    std::fs::write(d.path().join("config.toml"), config(EnvId::MetaMaze, 2, 16)).unwrap();
    // The documented route: the starter's writer, called from a short script.
    let script = r#"
import numpy as np, os
from write_policy import read_config, init_params, save_safetensors, load_safetensors, actor_forward
env, layers, units = read_config("config.toml")
os.makedirs("checkpoints", exist_ok=True)
for i in range(5):
    p = init_params(env, layers, units, np.random.default_rng(i))
    if i == 4:  # the critic is optional
        p = {k: v for k, v in p.items() if k.startswith("actor")}
    save_safetensors(f"checkpoints/policy_{i}.safetensors", p, {"seed": i})
back = load_safetensors("checkpoints/policy_0.safetensors")
logits = actor_forward(back, np.zeros((3, 15), np.float32), layers)
assert logits.shape == (3, 4)
print("ok")
"#;
    run_python(python, d.path(), &["-c", script]);
    let m = evaluate(EnvId::MetaMaze, d.path(), 0).unwrap();
    assert!(
        m["Reward Mean"].is_finite() && m["Reward Mean"] >= 0.0,
        "{m:?}"
    );
    // `python write_policy.py` alone also gives a valid submission.
    std::fs::remove_dir_all(d.path().join("checkpoints")).unwrap();
    run_python(python, d.path(), &["write_policy.py"]);
    assert!(evaluate(EnvId::MetaMaze, d.path(), 0).is_ok());
    // The `safetensors` package's own writer gives the same format.
    if !python_can(python, "import safetensors.numpy") {
        println!("skipped the safetensors-package case: `import safetensors.numpy` fails");
        return;
    }
    std::fs::remove_dir_all(d.path().join("checkpoints")).unwrap();
    let script = r#"
import numpy as np, os
from safetensors.numpy import save_file
from write_policy import read_config, init_params
env, layers, units = read_config("config.toml")
os.makedirs("checkpoints", exist_ok=True)
for i in range(5):
    p = init_params(env, layers, units, np.random.default_rng(10 + i))
    save_file({k: np.asarray(v, np.float32) for k, v in p.items()}, f"checkpoints/m{i}.safetensors")
"#;
    run_python(python, d.path(), &["-c", script]);
    let m = evaluate(EnvId::MetaMaze, d.path(), 0).unwrap();
    assert!(m["Reward Mean"].is_finite(), "{m:?}");
}
