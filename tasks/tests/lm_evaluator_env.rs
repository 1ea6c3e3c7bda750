//! The task's evaluator through the registry, with `MLGYM_LM_VAL_TOKENS` capping the
//! scored tokens (alone in its test binary: it sets an environment variable).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lm_support;

use lm_support::*;
use mlgym_tasks::lm::{weights, CONFIG_FILE, MODEL_FILE};
use mlgym_tasks::{AgentCodeConfig, EvalContext, EvalError};

#[test]
fn registry_evaluator_scores_val_loss_over_the_capped_tokens() {
    let root = tempfile::tempdir().unwrap();
    let val = stage_synthetic(root.path(), 64, 3 * 1024 + 7, 1, 3000);
    let task = mlgym_tasks::registry::get("languageModelingFineWeb").unwrap();
    assert_eq!(task.def.primary_metric().name, "val_loss");
    assert_eq!(
        task.def.submission,
        vec![MODEL_FILE.to_string(), CONFIG_FILE.to_string()]
    );
    let sub = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let cfg = tiny(64);
    let w = random_weights(&cfg, 4, 0.5);
    // The evaluator runs no agent code; the interpreter is never used.
    let agent_code = AgentCodeConfig {
        mode: Default::default(),
        python: mlgym_tasks::python::PythonEnv {
            executable: "/usr/bin/python3".into(),
            read_only: vec![],
        },
    };
    let ctx = EvalContext {
        task: &task.def,
        submission_dir: sub.path(),
        scratch_dir: scratch.path(),
        data_root: root.path(),
        seed: 0,
        agent_code: &agent_code,
    };
    assert!(matches!(
        task.hooks.evaluator.evaluate(&ctx),
        Err(EvalError::SubmissionNotFound(_))
    ));
    std::fs::write(sub.path().join(CONFIG_FILE), cfg.to_json()).unwrap();
    std::fs::write(sub.path().join(MODEL_FILE), weights::serialize(&w).unwrap()).unwrap();
    // Without a cap the evaluator wants 10,485,761 tokens: the synthetic shard is too short.
    std::env::remove_var("MLGYM_LM_VAL_TOKENS");
    assert!(
        matches!(task.hooks.evaluator.evaluate(&ctx), Err(EvalError::DataMissing(m)) if m.contains("10485761"))
    );
    std::env::set_var("MLGYM_LM_VAL_TOKENS", "3000");
    let m = task.hooks.evaluator.evaluate(&ctx).unwrap();
    let want = reference_loss(&cfg, &w, &val[..2 * 1024 + 1], 1024);
    assert!(
        (m["val_loss"] - want).abs() < 1e-5,
        "{} vs {want}",
        m["val_loss"]
    );
}
