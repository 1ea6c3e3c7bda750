//! The agent's memory (MLGym's memory agent config): `memory_write <text>` stores a
//! finding with its sentence embedding and a short tag; `memory_read <query>` returns
//! the stored texts most similar to the query; the status footer shows how many records
//! there are and their key words.
//!
//! Embeddings are all-MiniLM-L6-v2's (BERT, mean pooling, unit length), computed
//! natively with candle ([`mlgym_tasks::text`]) from the model staged with `mlgym data
//! import all-minilm-l6-v2 DIR`: nothing is downloaded, so memory works air-gapped.
//!
//! The memory file is `<run>/memory.json` ([`store`]): in the run directory, not in the
//! workspace, so the agent's shell can neither read nor change it; only these two
//! commands reach it. It survives `--resume` (the episode's snapshot records how many
//! records the journal has seen, see [`Memory::truncate`]).

pub mod keywords;
pub mod store;

use std::path::{Path, PathBuf};

use mlgym_tasks::text::{cosine, SentenceEmbedder, TextError, ALL_MINILM_L6_V2};
use store::{MemoryStore, StoreError};

/// The memory file's name in the run directory.
pub const MEMORY_FILE: &str = "memory.json";
/// Texts `memory_read` returns (MLGym: 2).
pub const READ_TOP_K: usize = 2;

/// How to run the memory: which model directory embeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryConfig {
    /// A BERT sentence-embedding model directory (`config.json`, `model.safetensors`,
    /// `tokenizer.json`).
    pub model_dir: PathBuf,
    /// The model's name, recorded in the memory file.
    pub model_name: String,
}

impl MemoryConfig {
    /// The all-MiniLM-L6-v2 model staged under `data_root`, or
    /// [`TextError::NotStaged`] saying how to stage it.
    pub fn staged(data_root: &Path) -> Result<MemoryConfig, MemoryError> {
        let model_dir = ALL_MINILM_L6_V2.check_staged(data_root)?;
        Ok(MemoryConfig {
            model_dir,
            model_name: ALL_MINILM_L6_V2.name.to_string(),
        })
    }
}

/// Why the memory could not start or change.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The embedding model is missing or broken.
    #[error("memory: {0}")]
    Model(#[from] TextError),
    /// The memory file cannot be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The memory file holds embeddings of another width.
    #[error(
        "memory file {path} holds {found}-dimensional embeddings, but the model makes {want}: \
         it was written with another model; move it away to start an empty memory"
    )]
    Dimension {
        /// The file.
        path: PathBuf,
        /// Width found in the file.
        found: usize,
        /// The model's width.
        want: usize,
    },
}

/// A memory command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemoryCommand {
    /// `memory_write <text>`.
    Write(String),
    /// `memory_read <query>`.
    Read(String),
}

/// Whether `action` is a memory command (its first word is `memory_write` or
/// `memory_read`).
pub fn is_command(action: &str) -> bool {
    matches!(
        action.split_whitespace().next(),
        Some("memory_write" | "memory_read")
    )
}

/// Parses a memory command: `None` when `action` is not one, `Some(Err(usage))` when its
/// argument is missing. The argument is the rest of the action; one pair of enclosing
/// quotes (`'...'` or `"..."`, as a shell would remove) is removed.
pub fn parse(action: &str) -> Option<Result<MemoryCommand, String>> {
    let a = action.trim();
    let name = a.split_whitespace().next()?;
    let rest = unquote(a[name.len()..].trim());
    let (make, usage): (fn(String) -> MemoryCommand, &str) = match name {
        "memory_write" => (
            MemoryCommand::Write,
            "memory_write <text>: the finding to save",
        ),
        "memory_read" => (MemoryCommand::Read, "memory_read <query>: what to look for"),
        _ => return None,
    };
    if rest.trim().is_empty() {
        return Some(Err(format!("Usage: {usage}")));
    }
    Some(Ok(make(rest)))
}

/// Removes one pair of enclosing quotes when the whole argument is a single quoted word.
fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        let inner = &s[1..s.len() - 1];
        if b[0] == b'\'' && !inner.contains('\'') {
            return inner.to_string();
        }
        if b[0] == b'"' {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(n @ ('"' | '\\' | '$' | '`')) => out.push(n),
                        Some(n) => {
                            out.push('\\');
                            out.push(n);
                        }
                        None => out.push('\\'),
                    },
                    '"' => return s.to_string(),
                    c => out.push(c),
                }
            }
            return out;
        }
    }
    s.to_string()
}

/// What the status footer shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStatus {
    /// Number of records.
    pub records: usize,
    /// Their tags, oldest first, without repeats.
    pub keywords: Vec<String>,
}

/// One `memory_read` result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The record's index.
    pub index: usize,
    /// Cosine similarity to the query.
    pub similarity: f32,
    /// The stored text.
    pub text: String,
}

/// An episode's memory: the model and the file.
pub struct Memory {
    embedder: SentenceEmbedder,
    store: MemoryStore,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("store", &self.store)
            .finish()
    }
}

impl Memory {
    /// Loads the model and opens (or creates) the memory file `file`.
    pub fn open(cfg: &MemoryConfig, file: &Path) -> Result<Memory, MemoryError> {
        let embedder = SentenceEmbedder::load(&cfg.model_dir)?;
        let store = MemoryStore::open(file, &cfg.model_name)?;
        if let Some(e) = store
            .data()
            .embeddings
            .iter()
            .find(|e| e.len() != embedder.dim())
        {
            return Err(MemoryError::Dimension {
                path: file.to_path_buf(),
                found: e.len(),
                want: embedder.dim(),
            });
        }
        Ok(Memory { embedder, store })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The memory file.
    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// Stores `text` durably; returns its tag.
    pub fn write(&mut self, text: &str) -> Result<String, MemoryError> {
        let embedding = self.embedder.embed_one(text)?;
        let tag = keywords::best_tag(&self.embedder, text, &embedding)?;
        self.store.push(text.to_string(), embedding, tag.clone())?;
        Ok(tag)
    }

    /// The `k` records most similar to `query`, most similar first (ties: older first).
    pub fn read(&self, query: &str, k: usize) -> Result<Vec<Hit>, MemoryError> {
        if self.store.is_empty() {
            return Ok(Vec::new());
        }
        let q = self.embedder.embed_one(query)?;
        let data = self.store.data();
        let mut hits: Vec<Hit> = data
            .embeddings
            .iter()
            .enumerate()
            .map(|(index, e)| Hit {
                index,
                similarity: cosine(&q, e),
                text: data.texts[index].clone(),
            })
            .collect();
        hits.sort_by(|a, b| {
            b.similarity
                .total_cmp(&a.similarity)
                .then(a.index.cmp(&b.index))
        });
        hits.truncate(k);
        Ok(hits)
    }

    /// Keeps the first `n` records: on `--resume`, records written by a step whose
    /// journal line was lost in the crash are dropped, as the step will run again.
    pub fn truncate(&mut self, n: usize) -> Result<(), MemoryError> {
        Ok(self.store.truncate(n)?)
    }

    /// The footer's figures.
    pub fn status(&self) -> MemoryStatus {
        let mut keywords: Vec<String> = Vec::new();
        for t in &self.store.data().tags {
            if !t.is_empty() && !keywords.contains(t) {
                keywords.push(t.clone());
            }
        }
        MemoryStatus {
            records: self.len(),
            keywords,
        }
    }

    /// Runs a command; the observation the agent sees.
    pub fn run(&mut self, cmd: &MemoryCommand) -> String {
        match cmd {
            MemoryCommand::Write(text) => match self.write(text) {
                Ok(tag) => format!(
                    "Saved to memory as record {} (key words: {tag}).",
                    self.len()
                ),
                Err(e) => format!("memory_write failed: {e}"),
            },
            MemoryCommand::Read(query) => match self.read(query, READ_TOP_K) {
                Ok(hits) if hits.is_empty() => {
                    "The memory is empty: save findings with `memory_write <text>` first.".into()
                }
                Ok(hits) => {
                    let mut out = format!("Top {} memories for your query:\n", hits.len());
                    for (i, h) in hits.iter().enumerate() {
                        out.push_str(&format!(
                            "{}. (similarity {:.4}) {}\n",
                            i + 1,
                            h.similarity,
                            h.text
                        ));
                    }
                    out.trim_end().to_string()
                }
                Err(e) => format!("memory_read failed: {e}"),
            },
        }
    }
}

/// The memory commands' entries for the COMMANDS section of the system prompt (laid out
/// like the editor commands'), with the reminder MLGym's memory config adds.
pub const COMMAND_DOCS: &str = "memory_write:
  docstring: saves a finding (what worked, what failed, scores, settings) to your memory, which persists for the whole run; it is stored with key words shown in the status lines
  signature: memory_write <content_str>
  arguments:
    - content_str (string) [required]: the finding to save, in one line

memory_read:
  docstring: shows the two saved findings most similar to the query, with their similarity
  signature: memory_read <query_str>
  arguments:
    - query_str (string) [required]: what you are looking for

Save important findings to memory with memory_write as you go, and use memory_read before repeating an experiment.

";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_takes_the_rest_of_the_line_and_strips_one_pair_of_quotes() {
        let w = |s: &str| Some(Ok(MemoryCommand::Write(s.to_string())));
        assert_eq!(parse("memory_write lr 3e-4 is best"), w("lr 3e-4 is best"));
        assert_eq!(
            parse("  memory_write \"lr \\\"3e-4\\\" is best\"  "),
            w("lr \"3e-4\" is best")
        );
        assert_eq!(parse("memory_write 'it works'"), w("it works"));
        assert_eq!(parse("memory_write 'a' and 'b'"), w("'a' and 'b'"));
        assert_eq!(parse("memory_write \"a\" \"b\""), w("\"a\" \"b\""));
        assert_eq!(
            parse("memory_read batch size"),
            Some(Ok(MemoryCommand::Read("batch size".into())))
        );
        assert!(matches!(parse("memory_read"), Some(Err(u)) if u.contains("memory_read <query>")));
        assert!(matches!(parse("memory_write ''"), Some(Err(_))));
        assert_eq!(parse("memory_writer x"), None);
        assert_eq!(parse("ls memory_write"), None);
        assert!(
            is_command("memory_write x")
                && is_command("memory_read")
                && !is_command("cat memory.json")
        );
    }
}
