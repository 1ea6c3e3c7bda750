//! Sweeps: a grid of episodes (agents × tasks × runs), each run as its own `mlgym run`
//! process, resumable, locally ([`local`]) or on a Slurm cluster ([`slurm`]).
//!
//! A sweep directory holds:
//! * `sweep.json`: the [`Plan`] (the grid and the arguments of every `mlgym run`);
//! * `cells/<agent>__<task>__run_<k>/`: one folder per grid cell, holding the run
//!   directory that `mlgym run --out` created, `cell.log` (the runs' output, appended per
//!   attempt) and `status.json` (the last attempt's outcome, see [`cell`]);
//! * `slurm/`: the job script, the submissions (`jobs.json`) and Slurm's logs;
//! * `report/`: `mlgym report` over `cells/`.
//!
//! Cells are independent processes, so one crashing episode never takes others down, and
//! what is finished is read from the run records themselves (`run.json` status
//! `finished`): re-running a sweep runs only the cells that are not.

pub mod cell;
pub mod local;
pub mod slurm;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::gym::driver::folder_part;

pub use cell::{CellState, CellStatus};

/// The plan's file in a sweep directory.
pub const PLAN_FILE: &str = "sweep.json";
/// The folder of the cells in a sweep directory.
pub const CELLS_DIR: &str = "cells";

/// Why a sweep cannot go on. Every message names the file or option and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The grid is empty or malformed.
    #[error("{option}: {problem}")]
    Grid {
        /// The option at fault.
        option: &'static str,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The sweep directory holds a different plan.
    #[error(
        "{file} describes a different sweep ({difference}); re-run with the same grid, or \
         choose another --out"
    )]
    PlanMismatch {
        /// `sweep.json`.
        file: PathBuf,
        /// What differs.
        difference: String,
    },
    /// There is no plan to resume.
    #[error(
        "{file} does not exist: start the sweep with --tasks and --agents (this directory \
         holds no sweep)"
    )]
    NoPlan {
        /// The missing `sweep.json`.
        file: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A record does not parse.
    #[error("{path} is not valid: {problem}; delete it to start that part afresh")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Another sweep works on the same directory.
    #[error(
        "another mlgym sweep ({holder}) is running in {dir}; wait for it, or stop it with \
         `mlgym sweep --out {dir} --cancel`"
    )]
    Busy {
        /// The sweep directory.
        dir: PathBuf,
        /// Who holds it.
        holder: String,
    },
    /// A Slurm command failed.
    #[error("{command}: {problem}")]
    Slurm {
        /// The command line.
        command: String,
        /// What went wrong and what to do.
        problem: String,
    },
}

impl SweepError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
        move |source| SweepError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The grid of a sweep and the arguments of its runs (`sweep.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Task ids, in order.
    pub tasks: Vec<String>,
    /// Agent specs as `mlgym run --agent` takes them.
    pub agents: Vec<String>,
    /// Runs per (agent, task).
    pub runs: u32,
    /// Seed of run 0; run `k` uses `seed + k`, the same for every agent and task so that
    /// agents are compared on the same opponents' and environments' randomness.
    pub seed: u64,
    /// `mlgym run --max-steps`.
    pub max_steps: usize,
    /// Further `mlgym run` arguments (sandbox, interpreter, LLM settings), verbatim.
    pub run_args: Vec<String>,
}

/// One grid cell: one episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Position in [`Plan::cells`] (the Slurm array index).
    pub index: usize,
    /// `<agent>__<task>__run_<k>`, the cell's folder name.
    pub id: String,
    /// Task id.
    pub task: String,
    /// Agent spec.
    pub agent: String,
    /// Run number, from 0.
    pub run: u32,
    /// The episode's seed.
    pub seed: u64,
}

/// `mlgym run` options that a sweep sets itself and that `run_args` must not repeat.
const OWN_RUN_OPTIONS: [&str; 7] = [
    "--task",
    "--agent",
    "--seed",
    "--out",
    "--resume",
    "--max-steps",
    "--json",
];

impl Plan {
    /// Checks the grid: known tasks, at least one agent and run, distinct cell folders,
    /// and no `run_args` that the sweep sets itself.
    pub fn validate(&self) -> Result<(), SweepError> {
        if self.tasks.is_empty() {
            return Err(SweepError::Grid {
                option: "--tasks",
                problem: "no task given; list task ids (see `mlgym tasks`) or `all`".into(),
            });
        }
        for t in &self.tasks {
            mlgym_tasks::registry::get(t).map_err(|e| SweepError::Grid {
                option: "--tasks",
                problem: e.to_string(),
            })?;
        }
        if self.agents.is_empty() {
            return Err(SweepError::Grid {
                option: "--agents",
                problem: "no agent given; e.g. --agents baseline,openai:gpt-4o".into(),
            });
        }
        if self.runs == 0 {
            return Err(SweepError::Grid {
                option: "--runs",
                problem: "must be at least 1".into(),
            });
        }
        for a in &self.run_args {
            let name = a.split('=').next().unwrap_or(a);
            if OWN_RUN_OPTIONS.contains(&name) {
                return Err(SweepError::Grid {
                    option: "run arguments after --",
                    problem: format!(
                        "`{name}` is set by the sweep for every cell; use the sweep's own \
                         option instead"
                    ),
                });
            }
        }
        let cells = self.cells();
        let mut ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(SweepError::Grid {
                option: "--agents/--tasks",
                problem: format!(
                    "two grid cells would share the folder {}; list each agent and task once",
                    w[0]
                ),
            });
        }
        Ok(())
    }

    /// The grid, agent-major then task then run (the order cells are started in).
    pub fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::new();
        for agent in &self.agents {
            for task in &self.tasks {
                for run in 0..self.runs {
                    out.push(Cell {
                        index: out.len(),
                        id: format!("{}__{}__run_{run}", folder_part(agent), folder_part(task)),
                        task: task.clone(),
                        agent: agent.clone(),
                        run,
                        seed: self.seed.wrapping_add(u64::from(run)),
                    });
                }
            }
        }
        out
    }

    /// Loads `<dir>/sweep.json`.
    pub fn load(dir: &Path) -> Result<Plan, SweepError> {
        let file = dir.join(PLAN_FILE);
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SweepError::NoPlan { file })
            }
            Err(e) => return Err(SweepError::io(&file)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| SweepError::Corrupt {
            path: file,
            problem: e.to_string(),
        })
    }

    /// Writes `<dir>/sweep.json` (atomically), or checks that the one there is this plan.
    pub fn save_or_check(&self, dir: &Path) -> Result<(), SweepError> {
        match Plan::load(dir) {
            Ok(old) if old == *self => Ok(()),
            Ok(old) => Err(SweepError::PlanMismatch {
                file: dir.join(PLAN_FILE),
                difference: self.difference(&old),
            }),
            Err(SweepError::NoPlan { file }) => {
                std::fs::create_dir_all(dir).map_err(SweepError::io(dir))?;
                crate::record::write_json(&file, self, true).map_err(SweepError::io(&file))
            }
            Err(e) => Err(e),
        }
    }

    fn difference(&self, old: &Plan) -> String {
        let mut d = Vec::new();
        if self.tasks != old.tasks {
            d.push(format!("tasks {:?} there", old.tasks));
        }
        if self.agents != old.agents {
            d.push(format!("agents {:?} there", old.agents));
        }
        if self.runs != old.runs {
            d.push(format!("runs {} there", old.runs));
        }
        if self.seed != old.seed {
            d.push(format!("seed {} there", old.seed));
        }
        if self.max_steps != old.max_steps {
            d.push(format!("max steps {} there", old.max_steps));
        }
        if self.run_args != old.run_args {
            d.push(format!("run arguments {:?} there", old.run_args));
        }
        d.join(", ")
    }
}

/// Counts of cell states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Finished episodes.
    pub complete: usize,
    /// Cells whose last attempt failed.
    pub failed: usize,
    /// Cells with an episode that was cut off (resumed on the next attempt).
    pub interrupted: usize,
    /// Cells never started.
    pub pending: usize,
}

impl Counts {
    /// Tallies `states`.
    pub fn of<'a>(states: impl IntoIterator<Item = &'a CellState>) -> Counts {
        let mut c = Counts::default();
        for s in states {
            match s {
                CellState::Complete { .. } => c.complete += 1,
                CellState::Failed { .. } => c.failed += 1,
                CellState::Interrupted { .. } => c.interrupted += 1,
                CellState::Pending => c.pending += 1,
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn plan() -> Plan {
        Plan {
            tasks: vec!["battleOfSexes".into(), "blotto".into()],
            agents: vec!["baseline".into(), "replay:a/b.jsonl".into()],
            runs: 2,
            seed: 7,
            max_steps: 5,
            run_args: vec![],
        }
    }

    #[test]
    fn the_grid_is_agents_by_tasks_by_runs_with_paired_seeds() {
        let cells = plan().cells();
        assert_eq!(cells.len(), 8);
        assert_eq!(cells[0].id, "baseline__battleOfSexes__run_0");
        assert_eq!(cells[7].id, "replay-a-b.jsonl__blotto__run_1");
        assert!(cells.iter().enumerate().all(|(i, c)| c.index == i));
        assert_eq!((cells[1].seed, cells[5].seed), (8, 8));
        plan().validate().unwrap();
    }

    #[test]
    fn bad_grids_name_the_option() {
        let mut p = plan();
        p.tasks.push("noSuchTask".into());
        assert!(p.validate().unwrap_err().to_string().starts_with("--tasks"));
        let mut p = plan();
        p.run_args = vec!["--seed=3".into()];
        assert!(p.validate().unwrap_err().to_string().contains("--seed"));
        let mut p = plan();
        p.agents = vec!["replay:a b".into(), "replay:a/b".into()];
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("share the folder"));
        let mut p = plan();
        p.runs = 0;
        assert!(p.validate().is_err());
    }

    #[test]
    fn a_directory_keeps_its_plan() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Plan::load(dir.path()),
            Err(SweepError::NoPlan { .. })
        ));
        plan().save_or_check(dir.path()).unwrap();
        plan().save_or_check(dir.path()).unwrap();
        assert_eq!(Plan::load(dir.path()).unwrap(), plan());
        let mut other = plan();
        other.runs = 3;
        let e = other.save_or_check(dir.path()).unwrap_err().to_string();
        assert!(e.contains("runs 2 there") && e.contains("--out"), "{e}");
    }
}
