//! Replays trajectories recorded from gymnax and reports where our environments differ.
//!
//! The file format is the JSON Lines schema of the reference trajectories (a `meta` line,
//! then per episode a `reset` line and its `step` lines; plain or gzip-compressed). For each
//! `reset` the state is rebuilt from the recorded draw and compared with the recorded state
//! and observation; a `reset` line with `"injected": true` (and no draw) starts from its
//! recorded state instead, which is how hand-made edge cases are recorded. For each `step`
//! the previous state is stepped with the recorded action
//! (and the recorded outcome of the step's random draw), and state, observation, reward,
//! `terminated`, `truncated`, `done` and `discount` are compared; on a `done` step the
//! auto-reset path ([`Env::step_autoreset`]) is compared with the recorded `autoreset`.
//!
//! By default each step starts from the *recorded* previous state, so one mismatch does not
//! cascade through the episode; [`Follow::Own`] starts from our own previous state instead
//! and so tests the long horizon. Floats are compared by their bits.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::rl::env::{Breakout, Env, EnvId, MetaMaze, MountainCar};

mod json;
mod record;

use json::{FieldError, Node};
use record::{diff_f32, Record};

/// Which previous state each step starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Follow {
    /// The state recorded on the previous line (mismatches stay local).
    #[default]
    Recorded,
    /// Our own state from the previous step (tests the long horizon; one mismatch cascades).
    Own,
}

/// How to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Which previous state each step starts from.
    pub follow: Follow,
    /// How many mismatches to describe in [`ReplayReport::first_mismatches`].
    pub max_details: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            follow: Follow::Recorded,
            max_details: 5,
        }
    }
}

/// One line where our environment and the recording differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// 1-based line number in the file.
    pub line: usize,
    /// The recorded episode number.
    pub episode: i64,
    /// The step index `t`, or `None` for a `reset` line.
    pub t: Option<i64>,
    /// Every differing field, `; `-separated.
    pub what: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.t {
            Some(t) => write!(
                f,
                "line {} (episode {}, t={t}): {}",
                self.line, self.episode, self.what
            ),
            None => write!(
                f,
                "line {} (episode {}, reset): {}",
                self.line, self.episode, self.what
            ),
        }
    }
}

/// The outcome of replaying one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// The file replayed.
    pub file: PathBuf,
    /// Its environment.
    pub env: EnvId,
    /// `reset` lines checked (episodes).
    pub episodes: usize,
    /// `step` lines checked.
    pub steps: usize,
    /// `done` steps whose auto-reset was checked.
    pub autoresets: usize,
    /// Lines (reset or step) on which at least one field differs.
    pub mismatches: usize,
    /// Descriptions of the first mismatches, in file order.
    pub first_mismatches: Vec<Mismatch>,
}

/// A trajectory file that cannot be replayed. Every variant names the file, and the line
/// where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file cannot be opened or read (also a corrupt gzip stream).
    #[error("{}{}: cannot read: {cause}; check that it is a .jsonl or .jsonl.gz trajectory", path.display(), line_suffix(*line))]
    Io {
        /// The file.
        path: PathBuf,
        /// The line being read, 0 when opening.
        line: usize,
        /// The cause (in the message, so not chained again).
        cause: std::io::Error,
    },
    /// A line is not valid JSON.
    #[error("{}:{line}: not valid JSON ({cause}); each line must be one JSON object", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message (in the message, so not chained again).
        cause: serde_json::Error,
    },
    /// A field is missing or malformed.
    #[error("{}:{line}: field `{field}` {problem}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Dotted path of the field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The lines are not in the schema's order (e.g. a step before any reset).
    #[error("{}:{line}: {problem}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// The file was recorded from another environment than the one asked for.
    #[error("{}:{line}: the file records {found} but the environment asked for is {expected}; replay it with --env {found}", path.display())]
    WrongEnv {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the `meta` line.
        line: usize,
        /// The environment asked for.
        expected: EnvId,
        /// The `env` of the `meta` line.
        found: String,
    },
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

/// Replays the trajectory file `path` (`.jsonl`, or gzip whatever its name) against `env`.
pub fn replay_file(
    env: EnvId,
    path: &Path,
    opts: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    let io = |line, cause| ReplayError::Io {
        path: path.to_path_buf(),
        line,
        cause,
    };
    let file = File::open(path).map_err(|e| io(0, e))?;
    let mut buf = BufReader::new(file);
    // Detect gzip by its magic bytes, not by the name.
    let gz = buf
        .fill_buf()
        .map_err(|e| io(0, e))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead> = if gz {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(buf)))
    } else {
        Box::new(buf)
    };
    replay_reader(env, path, reader, opts)
}

/// Replays trajectory lines read from `reader`; `path` only names the source in reports
/// and errors.
pub fn replay_reader<R: BufRead>(
    env: EnvId,
    path: &Path,
    reader: R,
    opts: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    match env {
        EnvId::MetaMaze => Replayer::<MetaMaze>::new(path, opts).run(reader),
        EnvId::MountainCarContinuous => Replayer::<MountainCar>::new(path, opts).run(reader),
        EnvId::Breakout => Replayer::<Breakout>::new(path, opts).run(reader),
    }
}

/// Where the replay is within an episode.
struct Cursor<E: Env> {
    episode: i64,
    next_t: i64,
    /// The state recorded on the previous line (after an auto-reset: the reset state).
    recorded: E::State,
    /// Our own state after the previous line.
    own: E::State,
}

struct Replayer<'p, E: Record> {
    path: &'p Path,
    opts: ReplayOptions,
    params: E::Params,
    seen_meta: bool,
    cursor: Option<Cursor<E>>,
    report: ReplayReport,
}

impl<'p, E: Record> Replayer<'p, E> {
    fn new(path: &'p Path, opts: &ReplayOptions) -> Self {
        Replayer {
            path,
            opts: *opts,
            params: E::Params::default(),
            seen_meta: false,
            cursor: None,
            report: ReplayReport {
                file: path.to_path_buf(),
                env: E::ID,
                episodes: 0,
                steps: 0,
                autoresets: 0,
                mismatches: 0,
                first_mismatches: Vec::new(),
            },
        }
    }

    fn field_err(&self, line: usize, e: FieldError) -> ReplayError {
        ReplayError::Field {
            path: self.path.to_path_buf(),
            line,
            field: e.field,
            problem: e.problem,
        }
    }

    fn schema_err(&self, line: usize, problem: String) -> ReplayError {
        ReplayError::Schema {
            path: self.path.to_path_buf(),
            line,
            problem,
        }
    }

    fn run<R: BufRead>(mut self, reader: R) -> Result<ReplayReport, ReplayError> {
        let mut text = String::new();
        let mut reader = reader;
        let mut lineno = 0;
        loop {
            text.clear();
            lineno += 1;
            let n = reader
                .read_line(&mut text)
                .map_err(|cause| ReplayError::Io {
                    path: self.path.to_path_buf(),
                    line: lineno,
                    cause,
                })?;
            if n == 0 {
                break;
            }
            if text.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&text).map_err(|cause| ReplayError::Json {
                path: self.path.to_path_buf(),
                line: lineno,
                cause,
            })?;
            self.line(lineno, &Node::root(&v))?;
        }
        if self.report.episodes == 0 {
            return Err(self.schema_err(
                lineno - 1,
                "no `reset` line: this is not a trajectory in the reference schema".into(),
            ));
        }
        Ok(self.report)
    }

    fn line(&mut self, lineno: usize, v: &Node) -> Result<(), ReplayError> {
        let kind = v
            .get("kind")
            .and_then(|k| k.str())
            .map_err(|e| self.field_err(lineno, e))?;
        match kind {
            "meta" => self.meta(lineno, v),
            "reset" => self.reset(lineno, v).map_err(|e| self.field_err(lineno, e)),
            "step" => self.step(lineno, v),
            other => Err(self.schema_err(
                lineno,
                format!("unknown line kind '{other}' (expected meta, reset or step)"),
            )),
        }
    }

    fn meta(&mut self, lineno: usize, v: &Node) -> Result<(), ReplayError> {
        if self.seen_meta || self.report.episodes > 0 {
            return Err(self.schema_err(lineno, "a `meta` line must come first, once".into()));
        }
        self.seen_meta = true;
        let env = v
            .get("env")
            .and_then(|e| e.str())
            .map_err(|e| self.field_err(lineno, e))?;
        if env != E::ID.name() {
            return Err(ReplayError::WrongEnv {
                path: self.path.to_path_buf(),
                line: lineno,
                expected: E::ID,
                found: env.to_string(),
            });
        }
        if let Some(p) = v.opt("params") {
            self.params = E::parse_params(&p).map_err(|e| self.field_err(lineno, e))?;
        }
        Ok(())
    }

    fn reset(&mut self, lineno: usize, v: &Node) -> Result<(), FieldError> {
        let episode = v.get("episode")?.i64()?;
        let recorded = E::parse_state(&v.get("state")?)?;
        let obs = E::parse_obs(v)?;
        let injected = match v.opt("injected") {
            Some(n) => n.bool()?,
            None => false,
        };
        // An injected episode starts from a hand-made state that no draw produces.
        let ours = if injected {
            recorded.clone()
        } else {
            E::reset_from_draw(&self.params, E::parse_reset_draw(&v.get("draw")?)?)
        };
        let mut diffs = Vec::new();
        E::diff_state(&ours, &recorded, &mut diffs);
        diff_obs("obs", &E::obs(&self.params, &ours), &obs, &mut diffs);
        self.report.episodes += 1;
        self.record(lineno, episode, None, diffs);
        self.cursor = Some(Cursor {
            episode,
            next_t: 0,
            recorded,
            own: ours,
        });
        Ok(())
    }

    fn step(&mut self, lineno: usize, v: &Node) -> Result<(), ReplayError> {
        let (episode, t) = (|| Ok((v.get("episode")?.i64()?, v.get("t")?.i64()?)))()
            .map_err(|e| self.field_err(lineno, e))?;
        let Some(cursor) = self.cursor.as_ref() else {
            return Err(self.schema_err(lineno, "a `step` line before any `reset` line".into()));
        };
        if cursor.episode != episode || cursor.next_t != t {
            return Err(self.schema_err(
                lineno,
                format!(
                    "expected episode {} t={} here, found episode {episode} t={t}; \
                     steps must follow their reset in order",
                    cursor.episode, cursor.next_t
                ),
            ));
        }
        let start = match self.opts.follow {
            Follow::Recorded => cursor.recorded.clone(),
            Follow::Own => cursor.own.clone(),
        };
        let checked = self
            .check_step(&start, v)
            .map_err(|e| self.field_err(lineno, e))?;
        self.report.steps += 1;
        self.report.autoresets += usize::from(checked.autoreset);
        self.record(lineno, episode, Some(t), checked.diffs);
        if let Some(c) = self.cursor.as_mut() {
            c.next_t += 1;
            c.recorded = checked.next_recorded;
            c.own = checked.next_own;
        }
        Ok(())
    }

    fn check_step(&self, start: &E::State, v: &Node) -> Result<StepCheck<E>, FieldError> {
        let p = &self.params;
        let action = E::parse_action(v)?;
        let draw = E::parse_step_draw(v)?;
        let recorded = E::parse_state(&v.get("state")?)?;
        let obs = E::parse_obs(v)?;
        let reward = E::parse_reward(v)?;
        let terminated = v.get("terminated")?.bool()?;
        let truncated = v.get("truncated")?.bool()?;
        let done = v.get("done")?.bool()?;

        let mut diffs = Vec::new();
        let mut ours = start.clone();
        let tr = E::step_with(p, &mut ours, action, || draw);
        E::diff_state(&ours, &recorded, &mut diffs);
        diff_obs("obs", &E::obs(p, &ours), &obs, &mut diffs);
        diff_f32("reward", tr.reward, reward, &mut diffs);
        if tr.terminated != terminated {
            diffs.push(format!(
                "terminated: ours {}, recorded {terminated}",
                tr.terminated
            ));
        }
        if tr.truncated != truncated {
            diffs.push(format!(
                "truncated: ours {}, recorded {truncated}",
                tr.truncated
            ));
        }
        if done != (terminated || truncated) {
            diffs.push(format!(
                "the line itself is inconsistent: done={done} but terminated={terminated}, \
                 truncated={truncated}"
            ));
        }
        if let Some(d) = v.opt("discount") {
            let want = if tr.terminated { 0.0 } else { 1.0 };
            let d = d.f64()?;
            if d != want {
                diffs.push(format!("discount: ours {want}, recorded {d}"));
            }
        }
        E::check_step_extras(p, start, action, v, &mut diffs)?;

        let mut next_recorded = recorded;
        let mut next_own = ours;
        let autoreset = v.opt("autoreset");
        match (&autoreset, done) {
            (Some(a), true) => {
                let rdraw = E::parse_reset_draw(&a.get("draw")?)?;
                let rstate = E::parse_state(&a.get("state")?)?;
                let robs = E::parse_obs(a)?;
                // The whole of gymnax's env.step: transition, then reset where done.
                let mut auto = start.clone();
                let atr = E::step_autoreset(p, &mut auto, action, || draw, || rdraw);
                let mut adiffs = Vec::new();
                if atr != tr {
                    adiffs.push(format!("transition {atr:?} differs from step's {tr:?}"));
                }
                E::diff_state(&auto, &rstate, &mut adiffs);
                diff_obs("obs", &E::obs(p, &auto), &robs, &mut adiffs);
                diffs.extend(adiffs.into_iter().map(|d| format!("autoreset {d}")));
                next_recorded = rstate;
                next_own = auto;
            }
            (None, true) => return Err(v.err("records done=true but has no `autoreset` object")),
            (Some(_), false) => {
                return Err(v.err("has an `autoreset` object although done=false"));
            }
            (None, false) => {}
        }
        Ok(StepCheck {
            diffs,
            autoreset: done,
            next_recorded,
            next_own,
        })
    }

    fn record(&mut self, line: usize, episode: i64, t: Option<i64>, diffs: Vec<String>) {
        if diffs.is_empty() {
            return;
        }
        self.report.mismatches += 1;
        if self.report.first_mismatches.len() < self.opts.max_details {
            self.report.first_mismatches.push(Mismatch {
                line,
                episode,
                t,
                what: diffs.join("; "),
            });
        }
    }
}

struct StepCheck<E: Env> {
    diffs: Vec<String>,
    autoreset: bool,
    next_recorded: E::State,
    next_own: E::State,
}

/// Compares two observations by their bits; describes the first differing entries.
fn diff_obs(name: &str, ours: &[f32], rec: &[f32], out: &mut Vec<String>) {
    if ours.len() != rec.len() {
        out.push(format!(
            "{name}: ours has {} values, recorded {}",
            ours.len(),
            rec.len()
        ));
        return;
    }
    let bad: Vec<usize> = (0..ours.len())
        .filter(|&i| ours[i].to_bits() != rec[i].to_bits())
        .collect();
    if let Some(&i) = bad.first() {
        out.push(format!(
            "{name}[{i}]: ours {:?}, recorded {:?}{}",
            ours[i],
            rec[i],
            if bad.len() > 1 {
                format!(" (and {} more entries)", bad.len() - 1)
            } else {
                String::new()
            }
        ));
    }
}
