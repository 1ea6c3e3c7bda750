//! The image-classification datasets: what they are, where they come from (canonical
//! files with their sizes and published checksums), how they are decoded, and how they
//! are staged under the data root for the agent and the evaluator.
//!
//! * [`registry`]: [`DatasetSpec`]s of Fashion-MNIST and CIFAR-10 and their sources.
//! * Decoders: [`idx`] (MNIST's IDX, gzipped or not), [`cifar`] (CIFAR-10's binary
//!   batches, or the tarball that holds them), [`hf_parquet`] (the Hugging Face parquet
//!   exports, PNG images).
//! * [`npy`]: NumPy's `.npy` format, written and read here.
//! * [`stage`]: `import` (decode carried-in files and stage them), `check_staged`,
//!   `verify` (re-check the staged, decoded content against the manifest).
//! * [`fetch`]: download the canonical files (or a mirror's) with resume and checksums.
//! * [`fineweb`]: FineWeb's GPT-2 token shards (languageModelingFineWeb): fetch, import,
//!   verify, staged as shards rather than arrays (its own layout is documented there).
//!
//! Staged layout (`$MLGYM_DATA/<name>/`):
//!
//! ```text
//! manifest.json               source files, checksums, array shapes and SHA-256s
//! public/train_images.npy     uint8 [N, H, W, C]  (shown to the agent as data/)
//! public/train_labels.npy     int64 [N]
//! public/test_images.npy      uint8 [M, H, W, C], canonical test order
//! public/README.md            what the files are
//! private/test_labels.npy     int64 [M]: read by the evaluator only
//! downloads/                  files fetched by `mlgym data fetch` (kept for `verify`)
//! ```

pub mod cifar;
pub mod digest;
pub mod fetch;
pub mod fineweb;
pub mod hf_parquet;
pub mod idx;
pub mod npy;
pub mod registry;
pub mod stage;

use std::path::PathBuf;

pub use registry::{
    find, DatasetSpec, Format, RemoteFile, SourceSpec, CIFAR10, DATASETS, FASHION_MNIST,
};
pub use stage::{check_staged, import, import_as, verify, ImportReport, Manifest, VerifyReport};

/// Decoded images and labels of one split.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// `count × h × w × c` bytes, NHWC.
    pub images: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split has no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Both splits of a decoded dataset, in the source's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The training split.
    pub train: Split,
    /// The test split (canonical order: the order of MLGym's submissions).
    pub test: Split,
}

/// Why a dataset could not be decoded, staged, fetched or verified. Every message names
/// the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not in the expected format, or its content does not fit the dataset.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        problem: String,
    },
    /// A file's checksum or size differs from the published one.
    #[error("{path}: {what} is {found}, but the published {name} has {want}; {hint}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// `SHA-256`, `MD5` or `size`.
        what: &'static str,
        /// The canonical file name.
        name: &'static str,
        /// Expected value.
        want: String,
        /// Found value.
        found: String,
        /// What to do.
        hint: &'static str,
    },
    /// The files given do not make up any supported format of the dataset.
    #[error("{path}: {problem}")]
    NotFound {
        /// What was searched.
        path: PathBuf,
        /// What is missing, and the formats accepted.
        problem: String,
    },
    /// A download failed.
    #[error("{url}: {problem}")]
    Download {
        /// The address.
        url: String,
        /// What happened, and what to do.
        problem: String,
    },
    /// The staged dataset is absent, incomplete or changed.
    #[error("{0}")]
    NotStaged(String),
}

impl DataError {
    pub(crate) fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Read {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Write {
            path: path.into(),
            source,
        }
    }
}
