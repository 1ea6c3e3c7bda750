//! The 3SATTime task: instance generator, CDCL ground truth, DPLL heuristic evaluation.
//!
//! The agent improves `heuristic_fn` in `heuristic.py`, the branching heuristic of the
//! task's Python DPLL solver (`solver.py`, evaluator-owned). Map:
//! * [`cnf`]: formulas and model checks; [`generate`]: uniform random 3-SAT;
//! * [`cdcl`]: the native solver (ground truth, sanity bound); [`dpll`]: an independent
//!   one to cross-check it;
//! * [`instances`]: the pinned evaluation and development sets;
//! * [`evaluate`]: the evaluator (`harness.py` runs in the sandbox); [`timing`]: how
//!   `Time` is measured and calibrated.

use std::path::{Path, PathBuf};

use crate::definition::TaskDef;
use crate::evaluator::{EvalError, StarterFilesBaseline};
use crate::registry::{Hooks, StarterFile, TaskData};

pub mod cdcl;
pub mod cnf;
pub mod dpll;
pub mod evaluate;
pub mod generate;
pub mod instances;
pub mod timing;

/// The task id.
pub const TASK_ID: &str = "3SATTime";

/// Hooks for the tasks of this family, or `None` for other ids.
pub fn hooks(def: &TaskDef, starter: &[StarterFile]) -> Option<Hooks> {
    if def.id != TASK_ID {
        return None;
    }
    let file = |name: &str| {
        starter
            .iter()
            .find(|f| f.path == Path::new(name))
            .map(|f| f.bytes)
    };
    // Without its solver or heuristic the folder is broken; not offering the task makes
    // that visible in `mlgym tasks` rather than failing at evaluation time.
    let solver = file("solver.py")?;
    let heuristic = file(evaluate::SUBMISSION)?;
    Some(Hooks {
        evaluator: Box::new(evaluate::SatEvaluator::new(solver)),
        baseline: Some(Box::new(StarterFilesBaseline {
            files: vec![(PathBuf::from(evaluate::SUBMISSION), heuristic)],
        })),
        data: Some(Box::new(SatData)),
    })
}

/// The development set shown to the agent as `data/` (`dev.jsonl`, `README.txt`).
/// It is generated, never imported, so it is always ready: [`TaskData::public_dir`]
/// writes it under the data root on first use.
pub struct SatData;

impl TaskData for SatData {
    fn ready(&self, _data_root: &Path) -> bool {
        true
    }

    fn public_dir(&self, data_root: &Path) -> Result<PathBuf, EvalError> {
        instances::stage_public(data_root).map_err(EvalError::DataMissing)
    }

    fn how_to_stage(&self) -> String {
        "nothing to do: the 3-SAT development set is generated into $MLGYM_DATA/3sat/ on first use \
         (the data root must be writable)"
            .into()
    }
}
