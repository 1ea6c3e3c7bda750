//! A staged image dataset as the agent's `data/` ([`ImageData`]) and as arrays for the
//! baseline ([`Arrays`]).

use std::path::{Path, PathBuf};

use crate::datasets::npy::{self, Dtype};
use crate::datasets::registry::DatasetSpec;
use crate::datasets::stage::{
    check_staged, dataset_dir, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};
use crate::evaluator::EvalError;
use crate::registry::TaskData;

/// [`TaskData`] of a vision task: the dataset's `public/` directory is the agent's `data/`.
#[derive(Debug)]
pub struct ImageData {
    /// The dataset.
    pub spec: &'static DatasetSpec,
}

fn missing(spec: &DatasetSpec, why: String) -> EvalError {
    EvalError::DataMissing(format!("{why}; {}", spec.how_to_stage()))
}

impl TaskData for ImageData {
    fn ready(&self, data_root: &Path) -> bool {
        check_staged(self.spec, data_root).is_ok()
    }

    fn public_dir(&self, data_root: &Path) -> Result<PathBuf, EvalError> {
        check_staged(self.spec, data_root).map_err(|why| missing(self.spec, why))?;
        Ok(dataset_dir(self.spec, data_root).join("public"))
    }

    fn how_to_stage(&self) -> String {
        self.spec.how_to_stage()
    }
}

/// Images (uint8 NHWC) and labels of one split.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Images {
    /// `len × h × w × c` bytes.
    pub pixels: Vec<u8>,
    /// Labels (empty for the unlabelled test images).
    pub labels: Vec<u8>,
    /// Number of images.
    pub len: usize,
}

/// The arrays a baseline reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Arrays {
    /// Training images and labels.
    pub train: Images,
    /// Test images (no labels).
    pub test: Images,
}

fn load(spec: &DatasetSpec, root: &Path, rel: &str, dtype: Dtype) -> Result<npy::Array, EvalError> {
    let path = dataset_dir(spec, root).join(rel);
    let a = npy::read(&path).map_err(|e| missing(spec, e.to_string()))?;
    if a.dtype != dtype {
        return Err(missing(
            spec,
            format!("{}: {:?}, expected {dtype:?}", path.display(), a.dtype),
        ));
    }
    Ok(a)
}

/// Labels of an int64 array, checked to be class ids.
pub fn labels_of(spec: &DatasetSpec, a: &npy::Array) -> Result<Vec<u8>, String> {
    a.as_i64()
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            u8::try_from(l)
                .ok()
                .filter(|l| (*l as usize) < spec.classes.len())
                .ok_or(format!("entry {i}: label {l} is not a class id"))
        })
        .collect()
}

/// Reads the public arrays of a staged dataset.
pub fn load_public(spec: &DatasetSpec, root: &Path) -> Result<Arrays, EvalError> {
    check_staged(spec, root).map_err(|why| missing(spec, why))?;
    let ti = load(spec, root, TRAIN_IMAGES, Dtype::Uint8)?;
    let tl = load(spec, root, TRAIN_LABELS, Dtype::Int64)?;
    let xi = load(spec, root, TEST_IMAGES, Dtype::Uint8)?;
    let labels = labels_of(spec, &tl).map_err(|e| missing(spec, format!("{TRAIN_LABELS}: {e}")))?;
    let n = ti.shape.first().copied().unwrap_or(0);
    if labels.len() != n || ti.shape[1..] != [spec.height, spec.width, spec.channels] {
        return Err(missing(
            spec,
            format!(
                "{TRAIN_IMAGES} {:?} does not fit {TRAIN_LABELS} ({} labels)",
                ti.shape,
                labels.len()
            ),
        ));
    }
    let m = xi.shape.first().copied().unwrap_or(0);
    Ok(Arrays {
        train: Images {
            pixels: ti.data,
            labels,
            len: n,
        },
        test: Images {
            pixels: xi.data,
            labels: Vec::new(),
            len: m,
        },
    })
}

/// Reads the hidden test labels (evaluator only), checked against the manifest.
pub fn load_test_labels(spec: &DatasetSpec, root: &Path) -> Result<Vec<u8>, EvalError> {
    let m = check_staged(spec, root).map_err(|why| missing(spec, why))?;
    let a = load(spec, root, TEST_LABELS, Dtype::Int64)?;
    let recorded = m.array(TEST_LABELS).map(|a| a.data_sha256.clone());
    if recorded.as_deref() != Some(crate::datasets::digest::sha256(&a.data).as_str()) {
        return Err(missing(
            spec,
            format!("{TEST_LABELS} does not match its manifest (modified?)"),
        ));
    }
    labels_of(spec, &a).map_err(|e| missing(spec, format!("{TEST_LABELS}: {e}")))
}
