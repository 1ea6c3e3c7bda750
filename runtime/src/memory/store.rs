//! The memory file: MLGym's `memory.json` layout (`{"texts": [...], "embeddings":
//! [[...]], "tags": [...]}`, one entry per record in each list) plus the name of the
//! model that made the embeddings.
//!
//! It lives in the run directory, outside everything the agent's sandbox can see, and is
//! replaced atomically on every change (written to a temporary file, fsynced, renamed
//! over the old one, directory fsynced): after a crash it holds either the old or the
//! new records, never a torn file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Problems reading or writing the memory file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be read or written.
    #[error("memory file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file exists but is not a memory file; it is left untouched.
    #[error("memory file {path} is not usable ({problem}); move it away to start an empty memory")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// The content of `memory.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryFile {
    /// The saved texts.
    pub texts: Vec<String>,
    /// Their unit-length embeddings.
    pub embeddings: Vec<Vec<f32>>,
    /// Their key words (one word 3-gram each).
    pub tags: Vec<String>,
    /// The embedding model (`all-minilm-l6-v2`); absent in MLGym's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// The memory file and its records.
#[derive(Debug)]
pub struct MemoryStore {
    path: PathBuf,
    data: MemoryFile,
}

impl MemoryStore {
    /// Opens `path`: an absent or empty file (MLGym `touch`es it) is an empty memory and
    /// is written as one; anything else must be a consistent memory file.
    pub fn open(path: &Path, model: &str) -> Result<MemoryStore, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let fresh = bytes.iter().all(u8::is_ascii_whitespace);
        let data: MemoryFile = if fresh {
            MemoryFile {
                model: Some(model.to_string()),
                ..MemoryFile::default()
            }
        } else {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                path: path.to_path_buf(),
                problem: e.to_string(),
            })?
        };
        let n = data.texts.len();
        if data.embeddings.len() != n || data.tags.len() != n {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                problem: format!(
                    "{n} texts but {} embeddings and {} tags",
                    data.embeddings.len(),
                    data.tags.len()
                ),
            });
        }
        let store = MemoryStore {
            path: path.to_path_buf(),
            data,
        };
        if fresh {
            store.persist()?;
        }
        Ok(store)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The records.
    pub fn data(&self) -> &MemoryFile {
        &self.data
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.data.texts.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.data.texts.is_empty()
    }

    /// Appends a record and makes it durable before returning.
    pub fn push(
        &mut self,
        text: String,
        embedding: Vec<f32>,
        tag: String,
    ) -> Result<(), StoreError> {
        self.data.texts.push(text);
        self.data.embeddings.push(embedding);
        self.data.tags.push(tag);
        if let Err(e) = self.persist() {
            self.truncate_in_memory(self.len() - 1);
            return Err(e);
        }
        Ok(())
    }

    /// Keeps only the first `n` records (durably); no-op when there are not more.
    pub fn truncate(&mut self, n: usize) -> Result<(), StoreError> {
        if n >= self.len() {
            return Ok(());
        }
        self.truncate_in_memory(n);
        self.persist()
    }

    fn truncate_in_memory(&mut self, n: usize) {
        self.data.texts.truncate(n);
        self.data.embeddings.truncate(n);
        self.data.tags.truncate(n);
    }

    /// Writes the whole file atomically: temp file (mode 0600), fsync, rename, fsync dir.
    fn persist(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp"));
        let json = serde_json::to_vec(&self.data).map_err(|e| io(std::io::Error::other(e)))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&json).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)
    }
}
