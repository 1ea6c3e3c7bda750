//! One episode of a task: the environment side of MLGym's loop (`MLGymEnv`).
//!
//! [`Episode::step`] takes one action with MLGym's semantics: the step counter advances
//! first and the action after the last allowed step is replaced by an autosubmission;
//! `validate` scores without ending; `submit` scores and ends; agent failures
//! (`exit_format`, `exit_cost`, ...) autosubmit; editor commands run natively; anything
//! else runs in the episode's persistent sandboxed shell with the short timeout, or the
//! task's training timeout when it starts Python/torchrun.

pub mod artefacts;
pub mod checker;
pub mod output;
pub mod pyrepr;
pub mod scoring;
pub mod toolchain;
pub mod workspace;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mlgym_sandbox::{EndReason, Mode, ModeRequest, Session};
use mlgym_tasks::python::PythonEnv;
use mlgym_tasks::{AgentCodeConfig, BaselineContext, Metrics, Task};
use serde::{Deserialize, Serialize};

use crate::agent::baseline::RUN_BASELINE;
use crate::commands::{self, Action, CommandContext, EditorState};
use checker::SandboxedChecker;
use workspace::Workspace;

/// Settings of an episode.
#[derive(Clone, Debug)]
pub struct EpisodeConfig {
    /// Step budget (MLGym's benchmark uses 50).
    pub max_steps: usize,
    /// Timeout of ordinary commands (MLGym: 25 s).
    pub short_timeout: Duration,
    /// Seed of every evaluation.
    pub seed: u64,
    /// Sandbox mode to request.
    pub mode: ModeRequest,
    /// Data root.
    pub data_root: PathBuf,
    /// The Python interpreter for agent code.
    pub python: PythonEnv,
    /// Whether the `run_baseline` command is available (the `baseline` agent).
    pub native_baseline: bool,
    /// GPUs leased for the run (`mlgym run --gpus`): the only ones the sandbox sees.
    pub gpus: Vec<mlgym_kernels::gpu::GpuDevice>,
    /// The agent's memory (`mlgym run --memory`): `memory_write`/`memory_read` and the
    /// footer's memory lines; `None` leaves the commands to the shell, as MLGym does.
    pub memory: Option<crate::memory::MemoryConfig>,
}

/// A score and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    /// The step (1-based) whose action produced it.
    pub step: usize,
    /// `validate`, `submit` or `autosubmission`.
    pub kind: String,
    /// The metrics.
    pub metrics: Metrics,
    /// What computed them, for tasks that can use a leased GPU (the RL tasks' environment
    /// backend); absent for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<mlgym_tasks::evaluator::ComputeInfo>,
}

/// What the agent sees as its state before an action (MLGym's `state` command).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    /// The open file (agent's view) or `n/a`.
    pub open_file: String,
    /// The shell's working directory (agent's view).
    pub working_dir: String,
}

/// The result of one step.
#[derive(Clone, Debug)]
pub struct StepOutcome {
    /// What the agent sees (without the footer).
    pub observation: String,
    /// Whether the episode ended.
    pub done: bool,
    /// The score this step produced, if any.
    pub score: Option<ScoreRecord>,
    /// Milliseconds spent running the command or the evaluation itself.
    pub command_ms: f64,
}

/// Everything needed to continue an episode after a crash (saved after every step).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Steps taken.
    pub step: usize,
    /// Editor state.
    pub editor: EditorState,
    /// The shell's working directory (agent's view).
    pub cwd: PathBuf,
    /// Evaluations run so far.
    pub evaluations: usize,
    /// Memory records after the step (memory runs only): on resume, records a lost step
    /// wrote are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_records: Option<usize>,
}

/// Errors starting an episode.
#[derive(Debug, thiserror::Error)]
pub enum EpisodeError {
    /// The workspace could not be prepared.
    #[error(transparent)]
    Workspace(#[from] workspace::WorkspaceError),
    /// The sandbox could not be started.
    #[error(transparent)]
    Sandbox(#[from] mlgym_sandbox::SandboxError),
    /// File-system failure.
    #[error("{0}")]
    Io(String),
    /// The memory could not start (model not staged, unusable memory file).
    #[error(transparent)]
    Memory(#[from] crate::memory::MemoryError),
    /// The Rust toolchain for the starter crate could not be staged.
    #[error(transparent)]
    Toolchain(#[from] toolchain::ToolchainError),
}

/// A running episode.
pub struct Episode {
    task: &'static Task,
    cfg: EpisodeConfig,
    run_dir: PathBuf,
    /// The workspace.
    pub workspace: Workspace,
    session: Session,
    mode: Mode,
    /// The editor's state.
    pub editor: EditorState,
    /// Steps taken.
    pub step: usize,
    /// Whether the episode has ended.
    pub done: bool,
    /// MLGym's exit status, once ended.
    pub exit_status: Option<String>,
    /// The last evaluated submission (agent's view), MLGym's `info.submission`.
    pub submission: Option<String>,
    evaluations: usize,
    agent_code: AgentCodeConfig,
    checker: SandboxedChecker,
    memory: Option<crate::memory::Memory>,
}

/// Words that make a command "training" (MLGym: the long timeout applies).
const TRAINING_WORDS: &[&str] = &[
    "torchrun",
    "python",
    "python3",
    "accelerate",
    "deepspeed",
    "cargo",
];

impl Episode {
    /// Prepares the workspace under `run_dir` and starts the sandboxed shell.
    pub fn start(
        task: &'static Task,
        run_dir: &Path,
        cfg: EpisodeConfig,
    ) -> Result<Episode, EpisodeError> {
        let support = mlgym_sandbox::host_support();
        let mode = support.resolve(cfg.mode)?;
        let memory_file = run_dir.join(crate::memory::MEMORY_FILE);
        let memory = cfg
            .memory
            .as_ref()
            .map(|m| crate::memory::Memory::open(m, &memory_file))
            .transpose()?;
        let workspace = Workspace::prepare(run_dir, task, &cfg.data_root, mode, &cfg.python)?;
        // A starter crate (RL's PPO, the LM trainer): cargo, the registry and a pre-built
        // target directory, so the agent's first build recompiles that crate alone.
        let rust = toolchain::prepare(&cfg.data_root, task, &|l| eprintln!("{l}"))?;
        if let Some(tc) = &rust {
            workspace::reachable_by_sandbox(&tc.sysroot())?;
            tc.warm_targets(&workspace.host)?;
        }
        let mut spec = workspace.session_spec(task, &cfg.python, mode, cfg.mode, rust.as_ref());
        workspace::give_gpus(&mut spec, &cfg.gpus)?;
        let session = Session::start(&spec)?;
        let scratch = run_dir.join("check");
        std::fs::create_dir_all(&scratch)
            .map_err(|e| EpisodeError::Io(format!("creating {}: {e}", scratch.display())))?;
        let agent_code = AgentCodeConfig {
            mode: cfg.mode,
            python: cfg.python.clone(),
        };
        let checker = SandboxedChecker::new(cfg.python.clone(), cfg.mode, scratch);
        Ok(Episode {
            task,
            run_dir: run_dir.to_path_buf(),
            workspace,
            session,
            mode,
            editor: EditorState::default(),
            step: 0,
            done: false,
            exit_status: None,
            submission: None,
            evaluations: 0,
            agent_code,
            checker,
            cfg,
            memory,
        })
    }

    /// The isolation mode of the episode's shell.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The task.
    pub fn task(&self) -> &'static Task {
        self.task
    }

    /// The step budget.
    pub fn max_steps(&self) -> usize {
        self.cfg.max_steps
    }

    /// The shell's working directory as the agent sees it.
    pub fn cwd(&self) -> &Path {
        self.session.cwd()
    }

    /// The open file as the agent sees it.
    pub fn open_file(&self) -> Option<PathBuf> {
        self.editor
            .open_file
            .as_ref()
            .map(|p| self.workspace.to_inside(p))
    }

    /// MLGym's `state`: open file and working directory.
    pub fn state(&self) -> AgentState {
        AgentState {
            open_file: self
                .open_file()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "n/a".into()),
            working_dir: self.cwd().display().to_string(),
        }
    }

    /// What `--resume` needs.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            step: self.step,
            editor: self.editor.clone(),
            cwd: self.cwd().to_path_buf(),
            evaluations: self.evaluations,
            memory_records: self.memory.as_ref().map(crate::memory::Memory::len),
        }
    }

    /// Continues from a snapshot (after a crash): counters, editor and directory.
    pub fn restore(&mut self, s: &Snapshot) {
        self.step = s.step;
        self.editor = s.editor.clone();
        self.evaluations = s.evaluations;
        if let (Some(m), Some(n)) = (self.memory.as_mut(), s.memory_records) {
            // Best effort, like the `cd` below: a failure leaves a duplicate record.
            let _ = m.truncate(n);
        }
        let cd = format!("cd {}", shell_quote(&s.cwd.to_string_lossy()));
        let _ = self.session.run(&cd, Some(self.cfg.short_timeout));
    }

    /// Takes one action (MLGym's `env.step`).
    pub fn step(&mut self, action: &str) -> StepOutcome {
        self.step += 1;
        let started = Instant::now();
        let a = action.trim();
        let mut out = if self.step > self.cfg.max_steps {
            self.evaluate("max_steps")
        } else {
            match a {
                "skip" => self.end("Skipped", "skipped"),
                "exit_forfeit" => self.end("Exited (exit_forfeit)", "exit_forfeit"),
                "exit_context" | "exit_cost" | "exit_error" | "exit_format" | "exit_api" => {
                    self.evaluate(a)
                }
                RUN_BASELINE if self.cfg.native_baseline => self.run_native_baseline(),
                _ if self.memory.is_some() && crate::memory::is_command(a) => {
                    self.memory_command(a)
                }
                _ => match commands::parse_action(a) {
                    Err(e) => self.plain(e.to_string()),
                    Ok(Action::Validate) => self.evaluate("validate"),
                    Ok(Action::Submit) => self.evaluate("submit"),
                    Ok(Action::Editor(cmd)) => self.editor_command(&cmd),
                    Ok(Action::Shell(text)) => self.shell(&text),
                },
            }
        };
        out.command_ms = started.elapsed().as_secs_f64() * 1000.0;
        out
    }

    /// The memory footer's figures (`None` without `--memory`).
    pub fn memory_status(&self) -> Option<crate::memory::MemoryStatus> {
        self.memory.as_ref().map(crate::memory::Memory::status)
    }

    /// The COMMANDS section of the system prompt: the editor commands, and the memory
    /// commands when memory is on.
    pub fn command_docs(&self) -> String {
        let mut docs = commands::command_docs_for_window(self.editor.window);
        if self.memory.is_some() {
            docs.push_str(crate::memory::COMMAND_DOCS);
        }
        docs
    }

    fn memory_command(&mut self, action: &str) -> StepOutcome {
        self.editor.note_other_action();
        let obs = match (self.memory.as_mut(), crate::memory::parse(action)) {
            (Some(m), Some(Ok(cmd))) => m.run(&cmd),
            (_, Some(Err(usage))) => usage,
            _ => String::new(),
        };
        self.plain(obs)
    }

    fn plain(&self, observation: String) -> StepOutcome {
        StepOutcome {
            observation,
            done: false,
            score: None,
            command_ms: 0.0,
        }
    }

    fn end(&mut self, observation: &str, status: &str) -> StepOutcome {
        self.done = true;
        self.exit_status = Some(status.to_string());
        StepOutcome {
            observation: observation.to_string(),
            done: true,
            score: None,
            command_ms: 0.0,
        }
    }

    fn editor_command(&mut self, cmd: &commands::EditorCommand) -> StepOutcome {
        self.editor.consecutive_scrolls = if matches!(
            cmd,
            commands::EditorCommand::ScrollDown | commands::EditorCommand::ScrollUp
        ) {
            self.editor.consecutive_scrolls
        } else {
            0
        };
        let cmd = translate_paths(cmd, &self.workspace);
        let cwd = self.workspace.to_host(self.session.cwd());
        let read_only = self.workspace.read_only.clone();
        let data = self.workspace.data.clone();
        let is_read_only = move |p: &Path| {
            read_only.iter().any(|r| r == p) || data.as_ref().is_some_and(|d| p.starts_with(d))
        };
        let readable: Vec<PathBuf> = self.workspace.data.iter().cloned().collect();
        let ctx = CommandContext::new(&cwd, &self.workspace.host, &self.checker)
            .with_read_only(&is_read_only)
            .with_readable_roots(&readable)
            .with_search_time_limit(self.cfg.short_timeout);
        let obs = commands::execute(&cmd, &mut self.editor, &ctx);
        if let Some(changed) = &obs.changed_file {
            // The editor writes as us; the file must stay the agent's.
            let _ = mlgym_sandbox::give_to_sandbox(changed);
        }
        self.plain(self.workspace.text_to_inside(&obs.text))
    }

    fn shell(&mut self, text: &str) -> StepOutcome {
        self.editor.note_other_action();
        let training = TRAINING_WORDS.iter().any(|w| text.contains(w));
        let timeout = if training {
            Duration::from_secs(self.task.def.training_timeout)
        } else {
            self.cfg.short_timeout
        };
        match self.session.run(text, Some(timeout)) {
            Ok(o) => {
                let mut obs = output::clean(&o.output);
                if o.truncated {
                    obs.push_str("\n[output truncated: only the first 1 MiB is shown]");
                }
                match o.reason {
                    EndReason::Timeout => obs.push_str(&format!(
                        "\nEXECUTION TIMED OUT BECAUSE THE COMMAND WAS RUNNING FOR MORE THAN {} SECONDS.",
                        timeout.as_secs()
                    )),
                    EndReason::Limit => obs.push_str(&format!(
                        "\nEXECUTION STOPPED: the command hit the sandbox's {} limit.",
                        o.limit.map(|l| format!("{l:?}").to_lowercase()).unwrap_or_default()
                    )),
                    _ => {}
                }
                if o.session_restarted {
                    obs.push_str("\n[The shell had to be restarted: the working directory was kept, shell variables and functions were lost.]");
                }
                self.plain(obs.trim_matches('\n').to_string())
            }
            Err(e) => self.plain(format!("COMMAND FAILED TO EXECUTE: {e}")),
        }
    }

    fn run_native_baseline(&mut self) -> StepOutcome {
        let Some(b) = self.task.hooks.baseline.as_ref() else {
            return self.plain(format!("Task {} has no native baseline.", self.task.def.id));
        };
        let progress = |line: &str| eprintln!("baseline: {line}");
        let ctx = BaselineContext {
            task: &self.task.def,
            out_dir: &self.workspace.host,
            data_root: &self.cfg.data_root,
            seed: self.cfg.seed,
            quick: false,
            progress: &progress,
        };
        match b.run_on(&ctx, &self.cfg.gpus) {
            Ok(_) => {
                // Files we wrote must stay writable for the sandbox's uid.
                let _ = mlgym_sandbox::give_to_sandbox(&self.workspace.host);
                self.plain("The native baseline ran and wrote its submission artefacts into the workspace.".into())
            }
            Err(e) => self.plain(format!("The native baseline failed: {e}")),
        }
    }

    fn evaluate(&mut self, label: &str) -> StepOutcome {
        self.editor.note_other_action();
        self.evaluations += 1;
        let eval_dir = self
            .run_dir
            .join("evals")
            .join(format!("{:03}-step{}-{label}", self.evaluations, self.step));
        let _ = std::fs::remove_dir_all(&eval_dir);
        let scored = scoring::evaluate_workspace(
            self.task,
            &self.workspace.host,
            &self.workspace.inside,
            &eval_dir,
            &self.cfg.data_root,
            self.cfg.seed,
            &self.agent_code,
            &self.cfg.gpus,
            label,
        );
        // The copy under evals/ is kept (it is small and documents what was scored);
        // the evaluator's scratch space is not.
        let _ = std::fs::remove_dir_all(eval_dir.join("scratch"));
        let score = scored.metrics.clone().map(|metrics| ScoreRecord {
            step: self.step,
            kind: match label {
                "validate" => "validate".into(),
                "submit" => "submit".into(),
                _ => "autosubmission".into(),
            },
            metrics,
            compute: scored.compute.clone(),
        });
        if scored.submission_label.is_some() {
            self.submission = scored.submission_label.clone();
        }
        if scored.done {
            self.done = true;
            self.exit_status = scored.exit_status.clone();
        }
        StepOutcome {
            observation: scored.observation,
            done: scored.done,
            score,
            command_ms: 0.0,
        }
    }

    /// Ends the episode's shell.
    pub fn close(self) {
        self.session.close();
    }
}

/// Rewrites the agent's workspace paths in editor arguments to host paths.
fn translate_paths(cmd: &commands::EditorCommand, ws: &Workspace) -> commands::EditorCommand {
    use commands::EditorCommand as E;
    let t = |s: &String| ws.text_to_host(s);
    let to = |s: &Option<String>| s.as_ref().map(|x| ws.text_to_host(x));
    match cmd {
        E::Open { path, line } => E::Open {
            path: t(path),
            line: *line,
        },
        E::Create { path } => E::Create { path: t(path) },
        E::SearchDir { term, dir } => E::SearchDir {
            term: term.clone(),
            dir: to(dir),
        },
        E::SearchFile { term, file } => E::SearchFile {
            term: term.clone(),
            file: to(file),
        },
        E::FindFile { name, dir } => E::FindFile {
            name: name.clone(),
            dir: to(dir),
        },
        E::Edit {
            file,
            start,
            end,
            lines,
        } => E::Edit {
            file: to(file),
            start: *start,
            end: *end,
            lines: lines.clone(),
        },
        E::Insert { file, after, lines } => E::Insert {
            file: to(file),
            after: *after,
            lines: lines.clone(),
        },
        other => other.clone(),
    }
}

/// Single-quotes `s` for bash.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
