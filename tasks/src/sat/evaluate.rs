//! The 3SATTime evaluator: the pristine `solver.py` runs the submitted `heuristic_fn`
//! over the whole evaluation set in ONE fresh sandbox (see `harness.py` for the line
//! protocol), and every verdict and model is then checked here against the native
//! ground truth.
//!
//! Trust boundary: the heuristic runs in the solver's process, so nothing the process
//! reports is trusted for correctness or time. Correctness is re-checked natively (a
//! wrong verdict or an assignment that leaves a clause unsatisfied is an error naming
//! the instance), and `Time` comes from the sandbox's CPU accounting of the whole
//! process tree minus the CPU spent before any submitted code ran, calibrated against
//! a reference workload ([`super::timing`]). `Decisions` is the
//! solver's count of heuristic calls; the solver passes the heuristic read-only views
//! and fresh tuples, so only deliberate tampering could change it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::instances::{self, Instance, InstanceSet};
use super::timing::{self, TimingReport};
use crate::agent_code::{self, AgentLimits};
use crate::evaluator::{EvalContext, EvalError, Evaluator, Metrics};

/// The harness run inside the sandbox.
const HARNESS: &str = include_str!("harness.py");

/// The submitted file.
pub const SUBMISSION: &str = "heuristic.py";

/// Limits of one evaluation.
#[derive(Clone, Debug)]
pub struct SatLimits {
    /// CPU seconds one instance may take (enforced inside the harness).
    pub per_instance_cpu_s: f64,
    /// CPU seconds of the whole run (RLIMIT_CPU of the sandbox).
    pub total_cpu_s: u64,
    /// Wall-clock limit of the whole run.
    pub wall: Duration,
    /// Memory limit in bytes.
    pub memory_bytes: u64,
}

impl Default for SatLimits {
    fn default() -> Self {
        // The starter takes ~10-15 s in all; a heuristic 50x slower still fits.
        SatLimits {
            per_instance_cpu_s: 60.0,
            total_cpu_s: 900,
            wall: Duration::from_secs(1200),
            memory_bytes: 2 << 30,
        }
    }
}

enum Source {
    /// The pinned evaluation set.
    Evaluation,
    /// A given list (tests, subsets).
    Fixed(Arc<InstanceSet>),
}

/// Scores `heuristic.py` by running the task's solver with it.
pub struct SatEvaluator {
    solver_py: &'static [u8],
    source: Source,
    limits: SatLimits,
}

impl SatEvaluator {
    /// The task's evaluator: the pinned evaluation set, default limits. `solver_py` is
    /// the pristine embedded `solver.py`.
    pub fn new(solver_py: &'static [u8]) -> Self {
        SatEvaluator {
            solver_py,
            source: Source::Evaluation,
            limits: SatLimits::default(),
        }
    }

    /// An evaluator over `instances` (their `sat` fields are the ground truth) with
    /// `limits`, for tests and quick checks.
    pub fn with_instances(
        solver_py: &'static [u8],
        instances: Vec<Instance>,
        limits: SatLimits,
    ) -> Self {
        SatEvaluator {
            solver_py,
            source: Source::Fixed(Arc::new(InstanceSet { instances })),
            limits,
        }
    }
}

/// One protocol line of `harness.py`.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line {
    Loaded {
        instances: usize,
        load_cpu: f64,
        reference: Vec<f64>,
    },
    Result {
        i: usize,
        sat: bool,
        decisions: u64,
        model: String,
    },
    Calibration {
        solve_cpu: f64,
        reference: f64,
    },
    Error {
        i: Option<usize>,
        kind: String,
        message: String,
    },
    Done,
}

/// One evaluation with its timing details (for benchmarks and diagnostics).
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The metrics the evaluator reports.
    pub metrics: Metrics,
    /// Uncalibrated CPU seconds after loading, calibration excluded.
    pub raw_cpu_s: f64,
    /// The harness's timing report (reference samples, stretches).
    pub timing: TimingReport,
}

impl Evaluator for SatEvaluator {
    fn evaluate(&self, ctx: &EvalContext<'_>) -> Result<Metrics, EvalError> {
        self.measure(ctx).map(|m| m.metrics)
    }
}

impl SatEvaluator {
    /// [`Evaluator::evaluate`], with the timing details.
    pub fn measure(&self, ctx: &EvalContext<'_>) -> Result<Measurement, EvalError> {
        let heuristic = ctx.submission_dir.join(SUBMISSION);
        if !heuristic.is_file() {
            return Err(EvalError::SubmissionNotFound(SUBMISSION.into()));
        }
        let set = match &self.source {
            Source::Evaluation => instances::evaluation_set().map_err(EvalError::Internal)?,
            Source::Fixed(set) => set.as_ref(),
        };
        let outcome = self.run_harness(ctx, &heuristic, set)?;
        score(set, &outcome, &self.limits)
    }

    fn run_harness(
        &self,
        ctx: &EvalContext<'_>,
        heuristic: &Path,
        set: &InstanceSet,
    ) -> Result<mlgym_sandbox::Outcome, EvalError> {
        // The harness sees formulas only: the verdicts stay on this side.
        let data = set.jsonl(false);
        let reference = instances::reference_json();
        let files: [(&str, &[u8]); 4] = [
            ("harness.py", HARNESS.as_bytes()),
            ("solver.py", self.solver_py),
            ("instances.jsonl", data.as_bytes()),
            ("reference.json", reference.as_bytes()),
        ];
        let dir = agent_code::write_harness(ctx.scratch_dir, &files).map_err(|e| {
            EvalError::io(
                format!(
                    "writing the 3-SAT harness into {}",
                    ctx.scratch_dir.display()
                ),
                e,
            )
        })?;
        let limits = AgentLimits {
            memory_bytes: self.limits.memory_bytes,
            cpu_seconds: self.limits.total_cpu_s,
            wall: self.limits.wall,
            processes: 64,
        };
        let mut spec =
            agent_code::sandbox_spec(ctx.agent_code, ctx.submission_dir, Some(&dir), &limits);
        // Models take one byte per variable; a chatty heuristic's prints are cut, not fatal.
        spec.limits.output_bytes = 16 << 20;
        spec.output_policy = mlgym_sandbox::OutputPolicy::Truncate;
        let args = vec![
            dir.join("instances.jsonl").to_string_lossy().into_owned(),
            heuristic.to_string_lossy().into_owned(),
            (ctx.seed % (1 << 32)).to_string(),
            self.limits.per_instance_cpu_s.to_string(),
            dir.join("reference.json").to_string_lossy().into_owned(),
            timing::CALIBRATION_PERIOD_S.to_string(),
        ];
        let argv = agent_code::python_argv(ctx.agent_code, &dir.join("harness.py"), &args);
        Ok(mlgym_sandbox::run(&spec, &argv)?)
    }
}

fn label(set: &InstanceSet, i: usize) -> String {
    match set.instances.get(i) {
        Some(inst) => format!("instance {i} ({})", inst.name),
        None => format!("instance {i}"),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Turns the harness's output into metrics, checking every answer against `set`.
fn score(
    set: &InstanceSet,
    outcome: &mlgym_sandbox::Outcome,
    limits: &SatLimits,
) -> Result<Measurement, EvalError> {
    use mlgym_sandbox::{EndReason, LimitKind};
    if outcome.stdout_truncated {
        return Err(EvalError::Internal(
            "the 3-SAT harness's report exceeded 16 MiB".into(),
        ));
    }
    let mut timing = TimingReport::default();
    let mut loaded = false;
    let mut decisions = 0u64;
    let mut correct = 0usize;
    let mut done = false;
    for raw in outcome.stdout.lines() {
        let line: Line = serde_json::from_str(raw).map_err(|e| {
            EvalError::Internal(format!(
                "3-SAT harness printed an unreadable line ({e}): {raw:.200}"
            ))
        })?;
        match line {
            Line::Loaded {
                instances,
                load_cpu,
                reference,
            } => {
                if instances != set.instances.len() {
                    return Err(EvalError::Internal(format!(
                        "harness loaded {instances} of {} instances",
                        set.instances.len()
                    )));
                }
                loaded = true;
                timing.load_cpu = load_cpu;
                timing.before = reference;
            }
            Line::Calibration {
                solve_cpu,
                reference,
            } => timing.stretches.push((solve_cpu, reference)),
            Line::Result {
                i,
                sat,
                decisions: d,
                model,
            } => {
                if i != correct {
                    return Err(EvalError::Internal(format!(
                        "harness reported instance {i} out of order (expected {correct})"
                    )));
                }
                check_answer(set, i, sat, &model)?;
                decisions += d;
                correct += 1;
            }
            Line::Error { i, kind, message } => {
                let which = i.map_or_else(|| "heuristic.py".to_string(), |i| label(set, i));
                return Err(EvalError::Format(format!("{which}: {message} [{kind}]")));
            }
            Line::Done => done = true,
        }
    }
    let running = || label(set, correct);
    let finished = || {
        format!(
            "{correct} of {} instances were finished",
            set.instances.len()
        )
    };
    if !loaded {
        return Err(EvalError::Internal(format!(
            "the 3-SAT harness failed before loading the instances ({:?}, exit {:?}): {}",
            outcome.reason,
            outcome.exit_code,
            tail(&outcome.stderr, 8)
        )));
    }
    match (outcome.reason, outcome.limit) {
        (EndReason::Exit, _) if outcome.exit_code == Some(0) && done && correct == set.instances.len() => {}
        (EndReason::Timeout, _) => {
            return Err(EvalError::Format(format!(
                "{}: the evaluation exceeded its wall-clock limit of {} s while solving it; {}",
                running(),
                limits.wall.as_secs(),
                finished()
            )))
        }
        (EndReason::Limit, Some(LimitKind::Cpu)) => {
            return Err(EvalError::Format(format!(
                "{}: the evaluation exceeded its total CPU limit of {} s while solving it; {}; make heuristic_fn faster",
                running(),
                limits.total_cpu_s,
                finished()
            )))
        }
        (EndReason::Limit, Some(LimitKind::Memory)) => {
            return Err(EvalError::Format(format!(
                "{}: the evaluation exceeded its memory limit of {} MiB while solving it",
                running(),
                limits.memory_bytes >> 20
            )))
        }
        _ => {
            let how = match (outcome.exit_code, outcome.signal) {
                (Some(code), _) => format!("exited with status {code}"),
                (None, Some(signal)) => format!("was killed by signal {signal}"),
                (None, None) => format!("ended ({:?})", outcome.reason),
            };
            let stderr = tail(&outcome.stderr, 8);
            let output = if stderr.is_empty() { String::new() } else { format!(". Last output:\n{stderr}") };
            return Err(EvalError::Format(format!(
                "{}: the solver process {how} while solving it, without reporting an error (did heuristic_fn \
                 exit the process?); {}{output}",
                running(),
                finished(),
            )));
        }
    }
    let process_cpu_s = outcome.cpu_ms / 1000.0;
    let time = timing::calibrated_time(process_cpu_s, &timing)?;
    let mut m = Metrics::new();
    m.insert("Time".into(), (time * 1000.0).round() / 1000.0);
    m.insert("Decisions".into(), decisions as f64);
    m.insert("Correct".into(), correct as f64);
    m.insert("Incorrect".into(), 0.0);
    Ok(Measurement {
        metrics: m,
        raw_cpu_s: timing::raw_time(process_cpu_s, &timing),
        timing,
    })
}

/// Checks one answer: the verdict against ground truth, a model against the formula.
fn check_answer(set: &InstanceSet, i: usize, sat: bool, model: &str) -> Result<(), EvalError> {
    let inst = set
        .instances
        .get(i)
        .ok_or_else(|| EvalError::Internal(format!("harness reported unknown instance {i}")))?;
    let tampered = "a correct solver cannot give this answer, so heuristic_fn must have changed the solver's state \
                    (its arguments are read-only views; leave the solver alone)";
    let verdict = |b: bool| if b { "satisfiable" } else { "unsatisfiable" };
    if sat != inst.sat {
        return Err(EvalError::Format(format!(
            "{}: the solver answered {} but the formula is {}; {tampered}",
            label(set, i),
            verdict(sat),
            verdict(inst.sat)
        )));
    }
    if !sat {
        return Ok(());
    }
    let values = model.as_bytes();
    if values.len() != inst.cnf.num_vars as usize
        || values.iter().any(|b| !matches!(b, b'0' | b'1' | b'-'))
    {
        return Err(EvalError::Format(format!(
            "{}: the solver returned a malformed assignment ({} values for {} variables); {tampered}",
            label(set, i),
            values.len(),
            inst.cnf.num_vars
        )));
    }
    let value = |v: u32| match values[v as usize - 1] {
        b'1' => Some(true),
        b'0' => Some(false),
        _ => None,
    };
    if let Some(k) = inst.cnf.first_unsatisfied(value) {
        return Err(EvalError::Format(format!(
            "{}: the solver answered satisfiable, but its assignment leaves clause {k} {:?} unsatisfied; {tampered}",
            label(set, i),
            inst.cnf.clauses[k]
        )));
    }
    Ok(())
}
