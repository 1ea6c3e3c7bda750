//! Tabular tasks: regressionKaggleHousePrice and titanicSurvival.
//!
//! * [`dataset`]: the two Kaggle tables, their embedded splits, the staged layout under the
//!   data root and its manifest; [`import`] stages them (`mlgym data import`).
//! * [`evaluate`]: the strict `submission.csv` reader and the metrics (joined on the id).
//! * [`house_price`], [`titanic`]: the native baselines, built on [`csv`], [`frame`]
//!   (pandas' typing rules), [`preprocess`], [`linalg`], [`ridge`] and [`logistic`].

pub mod csv;
pub mod dataset;
pub mod evaluate;
pub mod frame;
pub mod house_price;
pub mod import;
pub mod linalg;
pub mod logistic;
pub mod preprocess;
pub mod ridge;
pub mod titanic;

use std::path::Path;

use crate::definition::TaskDef;
use crate::evaluator::EvalError;
use crate::registry::{Hooks, StarterFile};

use dataset::{DatasetSpec, TabularData, HOUSE_PRICE, TITANIC};
use evaluate::{TabularEvaluator, Target, SUBMISSION};
use frame::Frame;

/// Task id of the House Price regression.
pub const HOUSE_PRICE_TASK: &str = "regressionKaggleHousePrice";
/// Task id of the Titanic classification.
pub const TITANIC_TASK: &str = "titanicSurvival";

/// Hooks for the tasks of this family, or `None` for other ids.
pub fn hooks(def: &TaskDef, starter: &[StarterFile]) -> Option<Hooks> {
    let _ = starter;
    match def.id.as_str() {
        HOUSE_PRICE_TASK => Some(Hooks {
            evaluator: Box::new(TabularEvaluator {
                spec: &HOUSE_PRICE,
                target: Target::Real,
            }),
            baseline: Some(Box::new(house_price::HousePriceBaseline)),
            data: Some(Box::new(TabularData { spec: &HOUSE_PRICE })),
        }),
        TITANIC_TASK => Some(Hooks {
            evaluator: Box::new(TabularEvaluator {
                spec: &TITANIC,
                target: Target::Binary,
            }),
            baseline: Some(Box::new(titanic::TitanicBaseline)),
            data: Some(Box::new(TabularData { spec: &TITANIC })),
        }),
        _ => None,
    }
}

/// Reads a staged CSV file into a typed frame.
pub(crate) fn read_frame(path: &Path) -> Result<Frame, EvalError> {
    let bytes =
        std::fs::read(path).map_err(|e| EvalError::io(format!("reading {}", path.display()), e))?;
    let table =
        csv::parse(&bytes).map_err(|e| EvalError::Internal(format!("{}: {e}", path.display())))?;
    Ok(Frame::from_table(&table))
}

/// Writes `submission.csv` (`id,target` rows) into `out_dir`.
pub(crate) fn write_submission(
    out_dir: &Path,
    spec: &DatasetSpec,
    ids: &[i64],
    values: &[String],
) -> Result<(), EvalError> {
    let mut text = String::new();
    csv::write_record(&mut text, &[spec.id_column, spec.target_column]);
    for (id, v) in ids.iter().zip(values) {
        csv::write_record(&mut text, &[id.to_string(), v.clone()]);
    }
    let path = out_dir.join(SUBMISSION);
    std::fs::write(&path, text).map_err(|e| EvalError::io(format!("writing {}", path.display()), e))
}
