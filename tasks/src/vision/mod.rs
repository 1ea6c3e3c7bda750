//! Image classification: imageClassificationFMnist and imageClassificationCifar10.
//!
//! * [`data`]: the staged arrays (see [`crate::datasets`]) as the agent's `data/` and as
//!   tensors for the baseline.
//! * [`evaluate`]: `submission.csv` (one `label` per test image, in order) → `accuracy`.
//! * [`model`]: MLGym's baseline network on the fast NHWC layers of
//!   [`mlgym_kernels::conv`]; [`train`]: its recipe (HF Trainer defaults: AdamW, lr 5e-5,
//!   linear schedule with 500 warm-up steps, weight decay 0.01, 10 epochs, batch 64), with
//!   the best epoch chosen on a validation split carved from the training data.

pub mod data;
pub mod evaluate;
pub mod model;
pub mod train;

use crate::datasets::registry::{DatasetSpec, CIFAR10, FASHION_MNIST};
use crate::definition::TaskDef;
use crate::registry::{Hooks, StarterFile};

/// Task id of Fashion-MNIST classification.
pub const FMNIST_TASK: &str = "imageClassificationFMnist";
/// Task id of CIFAR-10 classification.
pub const CIFAR10_TASK: &str = "imageClassificationCifar10";

/// The dataset of a vision task id.
pub fn dataset_of(task: &str) -> Option<&'static DatasetSpec> {
    match task {
        FMNIST_TASK => Some(&FASHION_MNIST),
        CIFAR10_TASK => Some(&CIFAR10),
        _ => None,
    }
}

/// Hooks for the tasks of this family, or `None` for other ids.
pub fn hooks(def: &TaskDef, starter: &[StarterFile]) -> Option<Hooks> {
    let _ = starter;
    let spec = dataset_of(&def.id)?;
    Some(Hooks {
        evaluator: Box::new(evaluate::ImageEvaluator { spec }),
        baseline: Some(Box::new(train::CnnBaseline { spec })),
        data: Some(Box::new(data::ImageData { spec })),
    })
}
