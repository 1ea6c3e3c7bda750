//! What the shared `lm` files use of the library's `datasets` module: writing a file
//! through a temporary file and a rename.

use std::path::PathBuf;

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Anything else (never produced here; the library has more kinds).
    #[error("{0}")]
    Other(String),
}

/// Staging helpers.
pub mod stage {
    use std::io::Write as _;
    use std::path::Path;

    use super::DataError;

    /// Writes `bytes` to `path` through a temporary file in the same folder and a rename,
    /// so a reader never sees half a file.
    pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|source| DataError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}
