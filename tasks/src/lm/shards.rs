//! FineWeb token shards in the modded-nanogpt / llm.c format: a header of 256
//! little-endian `int32` (`[0]` magic 20240520, `[1]` version 1, `[2]` the token count,
//! the rest zero), then the tokens as little-endian `uint16` GPT-2 ids. A file is valid
//! only when its length is exactly `1024 + 2 · count` bytes.
//!
//! * [`Shard`]: an opened, checked shard that reads token ranges without loading the
//!   whole file (a full shard holds 100M tokens, 200 MB).
//! * [`TokenLoader`]: modded-nanogpt's `DistributedDataLoader` for one process: windows of
//!   `B·T + 1` tokens, advancing by `B·T`, moving to the next shard when the next window
//!   would not fit.
//! * [`write`]: writes a shard (tests, synthetic data).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// `header[0]`.
pub const MAGIC: i32 = 20_240_520;
/// `header[1]`.
pub const VERSION: i32 = 1;
/// Header length in bytes (256 `int32`).
pub const HEADER_BYTES: u64 = 1024;

/// A shard that cannot be read or is not in the format.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// The file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a valid shard.
    #[error("{}: {problem}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: String,
    },
}

fn io(path: &Path, source: std::io::Error) -> ShardError {
    ShardError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format(path: &Path, problem: String) -> ShardError {
    ShardError::Format {
        path: path.to_path_buf(),
        problem,
    }
}

/// Checks a shard header (the first 1024 bytes) against the file length and returns the
/// token count.
pub fn parse_header(path: &Path, header: &[u8], file_len: u64) -> Result<u64, ShardError> {
    if header.len() < HEADER_BYTES as usize || file_len < HEADER_BYTES {
        return Err(format(
            path,
            format!("{file_len} bytes, shorter than the 1024-byte header of a token shard; the file is truncated or not a shard"),
        ));
    }
    let word = |i: usize| {
        i32::from_le_bytes([
            header[4 * i],
            header[4 * i + 1],
            header[4 * i + 2],
            header[4 * i + 3],
        ])
    };
    let (magic, version, count) = (word(0), word(1), word(2));
    if magic != MAGIC {
        return Err(format(
            path,
            format!("magic number {magic}, expected {MAGIC}: not a modded-nanogpt/llm.c token shard (header of 256 int32, then uint16 tokens)"),
        ));
    }
    if version != VERSION {
        return Err(format(
            path,
            format!("version {version}, expected {VERSION} (uint16 GPT-2 tokens); other versions are not supported"),
        ));
    }
    if count < 0 {
        return Err(format(
            path,
            format!("negative token count {count} in the header"),
        ));
    }
    let want = HEADER_BYTES + 2 * count as u64;
    if file_len != want {
        return Err(format(
            path,
            format!(
                "the header announces {count} tokens ({want} bytes with the header), but the file has {file_len} bytes; it is truncated or damaged: copy or download it again"
            ),
        ));
    }
    Ok(count as u64)
}

/// An opened shard whose header and length have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    path: PathBuf,
    tokens: u64,
}

impl Shard {
    /// Opens `path` and checks its header and length.
    pub fn open(path: &Path) -> Result<Shard, ShardError> {
        let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
        let len = f.metadata().map_err(|e| io(path, e))?.len();
        let mut header = vec![0u8; HEADER_BYTES.min(len) as usize];
        f.read_exact(&mut header).map_err(|e| io(path, e))?;
        let tokens = parse_header(path, &header, len)?;
        Ok(Shard {
            path: path.to_path_buf(),
            tokens,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of tokens.
    pub fn len(&self) -> u64 {
        self.tokens
    }

    /// Whether the shard holds no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens == 0
    }

    /// Tokens `start .. start + n`.
    pub fn read(&self, start: u64, n: usize) -> Result<Vec<u16>, ShardError> {
        if start + n as u64 > self.tokens {
            return Err(format(
                &self.path,
                format!(
                    "tokens {start}..{} requested, but the shard holds {}",
                    start + n as u64,
                    self.tokens
                ),
            ));
        }
        let mut f = std::fs::File::open(&self.path).map_err(|e| io(&self.path, e))?;
        f.seek(SeekFrom::Start(HEADER_BYTES + 2 * start))
            .map_err(|e| io(&self.path, e))?;
        let mut bytes = vec![0u8; 2 * n];
        f.read_exact(&mut bytes).map_err(|e| io(&self.path, e))?;
        Ok(bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect())
    }
}

/// The bytes of a shard holding `tokens`.
pub fn encode(tokens: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES as usize + 2 * tokens.len());
    let mut header = [0i32; 256];
    header[0] = MAGIC;
    header[1] = VERSION;
    header[2] = i32::try_from(tokens.len()).unwrap_or(i32::MAX);
    for w in header {
        out.extend_from_slice(&w.to_le_bytes());
    }
    for t in tokens {
        out.extend_from_slice(&t.to_le_bytes());
    }
    out
}

/// Writes a shard holding `tokens` to `path` (through a temporary file and a rename).
pub fn write(path: &Path, tokens: &[u16]) -> Result<(), ShardError> {
    if i32::try_from(tokens.len()).is_err() {
        return Err(format(
            path,
            format!("{} tokens do not fit an int32 header", tokens.len()),
        ));
    }
    crate::datasets::stage::write_atomic(path, &encode(tokens)).map_err(|e| match e {
        crate::datasets::DataError::Write { source, .. } => io(path, source),
        other => format(path, other.to_string()),
    })
}

/// The files in `dir` whose names start with `prefix` and end in `.bin`, sorted by name
/// (the order of `sorted(glob.glob(...))`).
pub fn list(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, ShardError> {
    let rd = std::fs::read_dir(dir).map_err(|e| io(dir, e))?;
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".bin"))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Batches of `batch` sequences of `seq` tokens read in order from a list of shards:
/// modded-nanogpt's `DistributedDataLoader` with one process. Each batch is a window of
/// `batch·seq + 1` tokens (inputs = all but the last, targets = all but the first); the
/// position advances by `batch·seq`; when the next window would not fit in the current
/// shard, the loader moves to the start of the next shard (cycling).
#[derive(Clone, Debug)]
pub struct TokenLoader {
    shards: Vec<Shard>,
    batch: usize,
    seq: usize,
    shard: usize,
    pos: u64,
    tokens_read: u64,
}

impl TokenLoader {
    /// A loader over `paths` (in this order). Every shard must hold at least one window.
    pub fn new(paths: &[PathBuf], batch: usize, seq: usize) -> Result<TokenLoader, ShardError> {
        let window = (batch * seq + 1) as u64;
        let mut shards = Vec::with_capacity(paths.len());
        for p in paths {
            let s = Shard::open(p)?;
            if s.len() < window {
                return Err(format(
                    p,
                    format!(
                        "{} tokens, fewer than one batch window of {batch}x{seq}+1 = {window}",
                        s.len()
                    ),
                ));
            }
            shards.push(s);
        }
        if shards.is_empty() {
            return Err(format(
                Path::new("(no shards)"),
                "no training shards given".into(),
            ));
        }
        Ok(TokenLoader {
            shards,
            batch,
            seq,
            shard: 0,
            pos: 0,
            tokens_read: 0,
        })
    }

    /// The next batch: `(inputs, targets)`, each `batch·seq` token ids in row-major
    /// `[batch, seq]` order.
    pub fn next_batch(&mut self) -> Result<(Vec<u32>, Vec<u32>), ShardError> {
        let bt = self.batch * self.seq;
        let buf = self.shards[self.shard].read(self.pos, bt + 1)?;
        let x = buf[..bt].iter().map(|&t| u32::from(t)).collect();
        let y = buf[1..].iter().map(|&t| u32::from(t)).collect();
        self.tokens_read += bt as u64;
        self.pos += bt as u64;
        if self.pos + bt as u64 + 1 > self.shards[self.shard].len() {
            self.shard = (self.shard + 1) % self.shards.len();
            self.pos = 0;
        }
        Ok((x, y))
    }

    /// Training tokens handed out so far.
    pub fn tokens_read(&self) -> u64 {
        self.tokens_read
    }

    /// Where the next batch starts: `(shard index, token offset)`.
    pub fn position(&self) -> (usize, u64) {
        (self.shard, self.pos)
    }
}
