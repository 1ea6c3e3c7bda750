//! Which native evaluator, baseline and data each task id gets: each task family's
//! module answers for its own ids. A definition without hooks is not offered.

use crate::definition::TaskDef;
use crate::registry::{Hooks, StarterFile};

/// The hooks for `def`, or `None` when no native evaluator exists for it yet.
pub fn hooks_for(def: &TaskDef, starter: &[StarterFile]) -> Option<Hooks> {
    crate::games::hooks(def, starter)
        .or_else(|| crate::tabular::hooks(def, starter))
        .or_else(|| crate::sat::hooks(def, starter))
        .or_else(|| crate::rl::hooks(def, starter))
        .or_else(|| crate::vision::hooks(def, starter))
        .or_else(|| crate::lm::hooks(def, starter))
        .or_else(|| crate::captioning::hooks(def, starter))
        .or_else(|| crate::nli::hooks(def, starter))
}
