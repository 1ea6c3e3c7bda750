//! `validate`, `submit` and autosubmission: collect the declared artefacts into a fresh
//! directory, run the task's native evaluator there, and turn the result into MLGym's
//! observation text and exit status.

use std::path::{Path, PathBuf};

use mlgym_kernels::gpu::GpuDevice;
use mlgym_tasks::evaluator::ComputeInfo;
use mlgym_tasks::{AgentCodeConfig, EvalContext, EvalError, Metrics, Task};

use super::artefacts::{self, ArtefactError};
use super::pyrepr;

/// Largest total size of a submission (checkpoints included).
pub const ARTEFACT_LIMIT: u64 = 16 << 30;

/// Why an evaluation was triggered: `validate`, `submit`, or an autosubmission label
/// (`max_steps`, `exit_format`, `exit_cost`, `exit_context`, `exit_api`, `exit_error`).
pub type Label = String;

/// The outcome of one evaluation.
#[derive(Clone, Debug)]
pub struct Scored {
    /// The observation for the agent.
    pub observation: String,
    /// Whether the episode ends.
    pub done: bool,
    /// MLGym's exit status when the episode ends.
    pub exit_status: Option<String>,
    /// The metrics, when the evaluation succeeded.
    pub metrics: Option<Metrics>,
    /// Where the evaluated copy of the artefacts is (host path).
    pub submission_dir: Option<PathBuf>,
    /// The artefacts as the agent sees them.
    pub submission_label: Option<String>,
    /// The error text, when it failed.
    pub error: Option<String>,
    /// What computed the metrics, when the task reports it (see [`evaluate_dir`]).
    pub compute: Option<ComputeInfo>,
}

/// Evaluates a directory of artefacts directly (`mlgym eval`): fresh scratch under
/// `work_dir`, seeded. `gpus` are the run's leased GPUs: evaluators that can use one (the
/// RL tasks step their environments there) say what they ran on.
pub fn evaluate_dir(
    task: &Task,
    submission: &Path,
    work_dir: &Path,
    data_root: &Path,
    seed: u64,
    agent_code: &AgentCodeConfig,
    gpus: &[GpuDevice],
) -> Result<(Metrics, Option<ComputeInfo>), EvalError> {
    let scratch = work_dir.join("scratch");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| EvalError::io(format!("creating {}", scratch.display()), e))?;
    world_traversable(work_dir);
    world_traversable(&scratch);
    let ctx = EvalContext {
        task: &task.def,
        submission_dir: submission,
        scratch_dir: &scratch,
        data_root,
        seed,
        agent_code,
    };
    task.hooks.evaluator.evaluate_on(&ctx, gpus)
}

fn world_traversable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
}

/// Runs an evaluation of `workspace` for `label` and words the outcome as MLGym does.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_workspace(
    task: &Task,
    workspace_host: &Path,
    shown_workspace: &Path,
    eval_dir: &Path,
    data_root: &Path,
    seed: u64,
    agent_code: &AgentCodeConfig,
    gpus: &[GpuDevice],
    label: &str,
) -> Scored {
    let validate = label == "validate";
    let submission = eval_dir.join("submission");
    let collected = std::fs::create_dir_all(&submission)
        .map_err(|e| ArtefactError::Io {
            path: submission.display().to_string(),
            source: e,
        })
        .and_then(|()| {
            artefacts::collect(
                workspace_host,
                &task.def.submission,
                &submission,
                ARTEFACT_LIMIT,
            )
        });
    let shown = |files: &[PathBuf]| -> String {
        files
            .iter()
            .map(|f| shown_workspace.join(f).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let result = match collected {
        Err(ArtefactError::NotFound(_)) => Err(EvalError::SubmissionNotFound(
            task.def.submission.join(", "),
        )),
        Err(e) => Err(EvalError::Format(e.to_string())),
        Ok(files) => {
            world_traversable(&submission);
            evaluate_dir(
                task,
                &submission,
                eval_dir,
                data_root,
                seed,
                agent_code,
                gpus,
            )
            .map(|m| (m, shown(&files)))
        }
    };
    let baseline = baseline_scores(task);
    match result {
        Ok(((metrics, compute), label_text)) => {
            let observation = if validate {
                let base = if baseline.is_empty() {
                    "NA (no baseline was there)".to_string()
                } else {
                    pyrepr::metrics(&baseline)
                };
                format!(
                    "Your code produced a valid submission artefact at {label_text}.\nBaseline Score: {base}\nEvaluation Score: {}",
                    pyrepr::metrics(&metrics)
                )
            } else {
                format!("Exited ({label})")
            };
            let exit_status = match label {
                "validate" => None,
                "submit" => Some("submitted".to_string()),
                other => Some(format!("autosubmission ({other})")),
            };
            Scored {
                observation,
                done: !validate,
                exit_status,
                metrics: Some(metrics),
                submission_dir: Some(submission),
                submission_label: Some(label_text),
                error: None,
                compute,
            }
        }
        Err(e) => {
            let text = e.to_string();
            let (observation, status) = match &e {
                EvalError::SubmissionNotFound(_) => (
                    "Submission artefact not found. You have to produce a valid submission artefact as described in the task description to validate your results.".to_string(),
                    format!("submission_not_found ({label})"),
                ),
                EvalError::Format(msg) => (format!("Evaluation failed: your submission could not be scored.\n{msg}"), format!("evaluation_format_error ({label})")),
                other => (format!("Error: {other}"), format!("EvaluationError, {other}, ({label})")),
            };
            Scored {
                observation: if validate {
                    observation
                } else {
                    format!("Exited ({label})")
                },
                done: !validate,
                exit_status: (!validate).then_some(status),
                metrics: None,
                submission_dir: None,
                submission_label: None,
                error: Some(text),
                compute: None,
            }
        }
    }
}

/// The baseline shown to the agent and written to `results.json`: ours when measured,
/// else MLGym's published one.
pub fn baseline_scores(task: &Task) -> Metrics {
    if !task.def.baseline.ours.is_empty() {
        task.def.baseline.ours.clone()
    } else {
        task.def.baseline.mlgym.clone()
    }
}
