//! Tabular tasks: regressionKaggleHousePrice, titanicSurvival.

use crate::definition::TaskDef;
use crate::registry::{Hooks, StarterFile};

/// Hooks for the tasks of this family, or `None` for other ids.
pub fn hooks(def: &TaskDef, starter: &[StarterFile]) -> Option<Hooks> {
    let _ = (def, starter);
    None
}
