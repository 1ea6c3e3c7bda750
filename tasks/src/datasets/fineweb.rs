//! FineWeb-10B as GPT-2 tokens, in the shards modded-nanogpt downloads from the Hugging
//! Face dataset `kjj0/fineweb10B-gpt2`: `fineweb_val_000000.bin` (100M tokens; MLGym
//! scores the first 10,485,760) and `fineweb_train_000001.bin` … `000103.bin` (100M
//! tokens each). MLGym's task data holds "2.4B training tokens": the first 24 training
//! shards, the default here. Shard format: [`crate::lm::shards`].
//!
//! Staged layout (`$MLGYM_DATA/fineweb/`):
//!
//! ```text
//! manifest.json                          every shard: tokens, bytes, SHA-256; the
//!                                        SHA-256 of the scored validation prefix
//! public/fineweb10B/fineweb_val_000000.bin     (the agent's data/, as in MLGym)
//! public/fineweb10B/fineweb_train_0000NN.bin
//! public/README.md
//! downloads/                             files fetched by `mlgym data fetch fineweb`
//! ```
//!
//! The validation shard is public, as in MLGym (the agent may read it; the native
//! baseline never does). The evaluator re-hashes the scored prefix against the manifest
//! before every evaluation.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::digest::file_digest;
use super::fetch::{download_files, FetchOptions};
use super::registry::RemoteFile;
use super::stage::{verify_downloads, write_atomic, VerifyReport};
use super::DataError;
use crate::lm::shards::{self, Shard, HEADER_BYTES};

/// Name on the command line and directory under the data root.
pub const NAME: &str = "fineweb";
/// Where `mlgym data fetch fineweb` downloads from.
pub const BASE_URL: &str = "https://huggingface.co/datasets/kjj0/fineweb10B-gpt2/resolve/main/";
/// The shards' directory under `public/` (MLGym's `data/fineweb10B/`).
pub const SUBDIR: &str = "fineweb10B";
/// The validation shard.
pub const VAL_FILE: &str = "fineweb_val_000000.bin";
/// Prefix of the training shards.
pub const TRAIN_PREFIX: &str = "fineweb_train_";
/// Training shards fetched by default (MLGym's 2.4B tokens).
pub const DEFAULT_TRAIN_SHARDS: usize = 24;
/// Training shards published.
pub const MAX_TRAIN_SHARDS: usize = 103;
/// Tokens of a full shard (llm.c's `shard_size`).
pub const FULL_SHARD_TOKENS: u64 = 100_000_000;
/// Bytes of a full shard: the header and 100M uint16 tokens.
pub const FULL_SHARD_BYTES: u64 = HEADER_BYTES + 2 * FULL_SHARD_TOKENS;
/// Validation tokens scored (the evaluator's `val_tokens`).
pub const SCORED_TOKENS: u64 = crate::lm::evaluate::VAL_TOKENS as u64;

const MANIFEST_FORMAT: u32 = 1;

/// The name of training shard `i` (1-based), e.g. `fineweb_train_000001.bin`.
pub fn train_name(i: usize) -> &'static str {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        (0..=MAX_TRAIN_SHARDS)
            .map(|i| format!("{TRAIN_PREFIX}{i:06}.bin"))
            .collect()
    });
    names.get(i).map_or("", String::as_str)
}

/// The published files: the validation shard and training shards `1..=train_shards`.
/// Every shard but the last published one is known to be a full shard.
pub fn remote_files(train_shards: usize) -> Vec<RemoteFile> {
    let file = |path: &'static str, full: bool| RemoteFile {
        path,
        bytes: full.then_some(FULL_SHARD_BYTES),
        md5: None,
        sha256: None,
    };
    let mut out = vec![file(VAL_FILE, true)];
    for i in 1..=train_shards.clamp(1, MAX_TRAIN_SHARDS) {
        out.push(file(train_name(i), i < MAX_TRAIN_SHARDS));
    }
    out
}

/// `<root>/fineweb`.
pub fn dataset_dir(root: &Path) -> PathBuf {
    root.join(NAME)
}

/// The agent's `data/`: `<root>/fineweb/public`.
pub fn public_dir(root: &Path) -> PathBuf {
    dataset_dir(root).join("public")
}

/// The staged shards: `<root>/fineweb/public/fineweb10B`.
pub fn shard_dir(root: &Path) -> PathBuf {
    public_dir(root).join(SUBDIR)
}

/// The command that stages the dataset (for messages).
pub fn how_to_stage() -> String {
    format!("run `mlgym data fetch {NAME}` (add `--train-shards N`, default {DEFAULT_TRAIN_SHARDS}; `--mirror URL` for a lab mirror), or, without network, `mlgym data import {NAME} DIR` with DIR holding {VAL_FILE} and fineweb_train_*.bin (see docs/lm-submission.md)")
}

/// One staged shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// File name.
    pub name: String,
    /// Tokens (from the header, checked against the length).
    pub tokens: u64,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Whether the size is the published one (a full 100M-token shard).
    pub canonical_size: bool,
}

/// `manifest.json` of the staged dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest version.
    pub format: u32,
    /// `fineweb`.
    pub dataset: String,
    /// The validation shard, then the training shards in name order.
    pub shards: Vec<ShardEntry>,
    /// Validation tokens covered by `scored_sha256` (the scored tokens and the final
    /// target: 10,485,761, or fewer when the validation shard is shorter).
    pub scored_tokens: u64,
    /// SHA-256 of those tokens' bytes (uint16 little-endian).
    pub scored_sha256: String,
}

impl Manifest {
    /// The training shards' entries.
    pub fn train(&self) -> impl Iterator<Item = &ShardEntry> {
        self.shards
            .iter()
            .filter(|s| s.name.starts_with(TRAIN_PREFIX))
    }

    /// Tokens of all training shards.
    pub fn train_tokens(&self) -> u64 {
        self.train().map(|s| s.tokens).sum()
    }
}

/// What an import or fetch staged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinewebReport {
    /// `<root>/fineweb`.
    pub dir: PathBuf,
    /// The manifest written.
    pub manifest: Manifest,
    /// Whether anything changed.
    pub changed: bool,
}

/// The shards among `dir` and `dir/fineweb10B`: the validation shard and the training
/// shards, by name.
fn find_shards(dir: &Path) -> Result<(PathBuf, Vec<PathBuf>), DataError> {
    for d in [dir.to_path_buf(), dir.join(SUBDIR)] {
        let val = d.join(VAL_FILE);
        if val.is_file() {
            let train =
                shards::list(&d, TRAIN_PREFIX).map_err(|e| DataError::format(&d, e.to_string()))?;
            if train.is_empty() {
                return Err(DataError::NotFound {
                    path: d,
                    problem: format!(
                        "{VAL_FILE} is here but no {TRAIN_PREFIX}*.bin training shard"
                    ),
                });
            }
            return Ok((val, train));
        }
    }
    Err(DataError::NotFound {
        path: dir.to_path_buf(),
        problem: format!("no {VAL_FILE} here or in {SUBDIR}/; expected the validation shard and fineweb_train_*.bin shards from kjj0/fineweb10B-gpt2"),
    })
}

fn scored_prefix(val: &Shard) -> Result<(u64, String), DataError> {
    let n = (SCORED_TOKENS + 1).min(val.len());
    let tokens = val
        .read(0, n as usize)
        .map_err(|e| DataError::format(val.path(), e.to_string()))?;
    let bytes: Vec<u8> = tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
    Ok((n, super::digest::sha256(&bytes)))
}

fn entry(path: &Path) -> Result<(Shard, ShardEntry), DataError> {
    let shard = Shard::open(path).map_err(|e| DataError::format(path, e.to_string()))?;
    let d = file_digest(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let e = ShardEntry {
        name,
        tokens: shard.len(),
        bytes: d.bytes,
        sha256: d.sha256,
        canonical_size: d.bytes == FULL_SHARD_BYTES,
    };
    Ok((shard, e))
}

/// Copies `src` to `dst` through a temporary file and a rename (or hard-links it when
/// `link` and both are on one file system).
fn place(src: &Path, dst: &Path, link: bool) -> Result<(), DataError> {
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dst.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let linked = link && std::fs::hard_link(src, &tmp).is_ok();
    if !linked {
        std::fs::copy(src, &tmp).map_err(|e| DataError::write(&tmp, e))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| DataError::write(&tmp, e))?;
    }
    std::fs::rename(&tmp, dst).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::write(dst, e)
    })
}

/// Whether `dst` already holds the shard `e` read from `src` (the same file, or the same
/// bytes).
fn already_staged(src: &Path, dst: &Path, e: &ShardEntry) -> Result<bool, DataError> {
    use std::os::unix::fs::MetadataExt as _;
    let (Ok(a), Ok(b)) = (std::fs::metadata(src), std::fs::metadata(dst)) else {
        return Ok(false);
    };
    if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
        return Ok(true);
    }
    Ok(b.len() == e.bytes && file_digest(dst)?.sha256 == e.sha256)
}

/// Checks the shards in `src` (a directory holding `fineweb_val_000000.bin` and
/// `fineweb_train_*.bin`, directly or in `fineweb10B/`) and copies them under `root`.
pub fn import(src: &Path, root: &Path) -> Result<FinewebReport, DataError> {
    let (val, train) = find_shards(src)?;
    stage(&val, &train, root, false)
}

fn stage(
    val: &Path,
    train: &[PathBuf],
    root: &Path,
    link: bool,
) -> Result<FinewebReport, DataError> {
    let (val_shard, val_entry) = entry(val)?;
    let (scored_tokens, scored_sha256) = scored_prefix(&val_shard)?;
    let mut entries = vec![val_entry];
    for p in train {
        entries.push(entry(p)?.1);
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        dataset: NAME.into(),
        shards: entries,
        scored_tokens,
        scored_sha256,
    };
    let dir = dataset_dir(root);
    let manifest_path = dir.join("manifest.json");
    let mut text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| DataError::write(&manifest_path, e.into()))?;
    text.push('\n');
    let shards_dir = shard_dir(root);
    let sources: Vec<&Path> = std::iter::once(val)
        .chain(train.iter().map(PathBuf::as_path))
        .collect();
    let mut stale = Vec::new();
    for (src, e) in sources.iter().zip(&manifest.shards) {
        if !already_staged(src, &shards_dir.join(&e.name), e)? {
            stale.push((*src, e));
        }
    }
    if stale.is_empty()
        && std::fs::read(&manifest_path).is_ok_and(|b| b == text.as_bytes())
        && check_staged(root).is_ok()
    {
        return Ok(FinewebReport {
            dir,
            manifest,
            changed: false,
        });
    }
    if let Err(e) = std::fs::remove_file(&manifest_path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(DataError::write(&manifest_path, e));
        }
    }
    std::fs::create_dir_all(&shards_dir).map_err(|e| DataError::write(&shards_dir, e))?;
    for (src, e) in stale {
        place(src, &shards_dir.join(&e.name), link)?;
    }
    // Shards of an earlier, larger import would still be globbed by the agent's code.
    for p in shards::list(&shards_dir, "fineweb_")
        .map_err(|e| DataError::format(&shards_dir, e.to_string()))?
    {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !manifest.shards.iter().any(|e| e.name == name) {
            std::fs::remove_file(&p).map_err(|e| DataError::write(&p, e))?;
        }
    }
    write_atomic(
        &public_dir(root).join("README.md"),
        readme(&manifest).as_bytes(),
    )?;
    write_atomic(&manifest_path, text.as_bytes())?;
    Ok(FinewebReport {
        dir,
        manifest,
        changed: true,
    })
}

fn readme(m: &Manifest) -> String {
    format!(
        "# FineWeb-10B, GPT-2 tokens (kjj0/fineweb10B-gpt2)\n\n\
         `fineweb10B/` holds token shards in the modded-nanogpt format: a header of 256\n\
         little-endian int32 (magic 20240520, version 1, token count), then the tokens as\n\
         uint16 GPT-2 ids. In numpy:\n\n\
         ```python\n\
         header = np.fromfile(path, dtype=np.int32, count=256)\n\
         tokens = np.fromfile(path, dtype=np.uint16, offset=1024)\n\
         ```\n\n\
         - `fineweb10B/fineweb_train_*.bin`: {} training shards, {} tokens;\n\
         - `fineweb10B/{VAL_FILE}`: the validation shard. The score is the mean loss over its\n  \
           first 10,485,760 tokens (windows of 1024 tokens predicting the next token).\n",
        m.train().count(),
        m.train_tokens()
    )
}

/// Whether the dataset is staged under `root` and complete (manifest present, every
/// shard there with its recorded size); `Err` says what is wrong.
pub fn check_staged(root: &Path) -> Result<Manifest, String> {
    let path = dataset_dir(root).join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if m.format != MANIFEST_FORMAT || m.dataset != NAME {
        return Err(format!(
            "{} is from another version or dataset",
            path.display()
        ));
    }
    if m.shards.first().map(|s| s.name.as_str()) != Some(VAL_FILE) || m.train().next().is_none() {
        return Err(format!(
            "{} lists no validation shard or no training shard",
            path.display()
        ));
    }
    for s in &m.shards {
        let p = shard_dir(root).join(&s.name);
        match std::fs::metadata(&p) {
            Ok(md) if md.len() == s.bytes => {}
            Ok(md) => {
                return Err(format!(
                    "{} has {} bytes, the manifest says {}",
                    p.display(),
                    md.len(),
                    s.bytes
                ))
            }
            Err(e) => return Err(format!("{}: {e}", p.display())),
        }
    }
    Ok(m)
}

/// Re-reads every staged shard: header, token count and length, SHA-256 against the
/// manifest, the scored validation prefix's hash; re-hashes files kept in `downloads/`.
pub fn verify(root: &Path) -> Result<VerifyReport, DataError> {
    let m = check_staged(root)
        .map_err(|why| DataError::NotStaged(format!("{why}; {}", how_to_stage())))?;
    let mut checks = Vec::new();
    for s in &m.shards {
        let p = shard_dir(root).join(&s.name);
        let changed = |what: String| {
            DataError::format(
                &p,
                format!(
                    "{what}; the staged file was modified or damaged: import the dataset again"
                ),
            )
        };
        let (shard, e) = entry(&p)?;
        if e.tokens != s.tokens || e.sha256 != s.sha256 {
            return Err(changed(format!(
                "{} tokens, SHA-256 {}; the manifest says {} tokens, {}",
                e.tokens, e.sha256, s.tokens, s.sha256
            )));
        }
        if s.name == VAL_FILE {
            let (n, sha) = scored_prefix(&shard)?;
            if n != m.scored_tokens || sha != m.scored_sha256 {
                return Err(changed(
                    "the scored validation tokens differ from the manifest".into(),
                ));
            }
        }
        checks.push(format!(
            "{SUBDIR}/{}: header ok, {} tokens, SHA-256 {}{}",
            s.name,
            s.tokens,
            &s.sha256[..16.min(s.sha256.len())],
            if s.canonical_size {
                ""
            } else {
                " (not the published size: a partial, synthetic or other shard)"
            }
        ));
    }
    verify_downloads(
        &dataset_dir(root).join("downloads"),
        m.shards
            .iter()
            .map(|s| (s.name.as_str(), s.sha256.as_str())),
        "differs from the staged shard; delete it and fetch again",
        &mut checks,
    )?;
    Ok(VerifyReport { checks })
}

/// Downloads the validation shard and `train_shards` training shards into
/// `<root>/fineweb/downloads/` (resuming, checking sizes) and stages them (hard links
/// where possible, so the data is stored once).
pub fn fetch(
    root: &Path,
    opts: &FetchOptions<'_>,
    train_shards: usize,
) -> Result<FinewebReport, DataError> {
    if !(1..=MAX_TRAIN_SHARDS).contains(&train_shards) {
        return Err(DataError::NotFound {
            path: dataset_dir(root),
            problem: format!("--train-shards {train_shards}: choose 1 to {MAX_TRAIN_SHARDS}"),
        });
    }
    fetch_files(root, opts, &remote_files(train_shards))
}

/// [`fetch`] of an explicit file list: the validation shard first, then training shards.
pub fn fetch_files(
    root: &Path,
    opts: &FetchOptions<'_>,
    files: &[RemoteFile],
) -> Result<FinewebReport, DataError> {
    let downloads = dataset_dir(root).join("downloads");
    let paths = download_files(files, BASE_URL, &downloads, opts)?;
    match paths.split_first() {
        Some((val, train)) if !train.is_empty() => stage(val, train, root, true),
        _ => Err(DataError::NotFound {
            path: downloads,
            problem: "fetch needs the validation shard and at least one training shard".into(),
        }),
    }
}

/// The staged training shards, in name order.
pub fn train_shards(root: &Path) -> Result<Vec<PathBuf>, String> {
    let m = check_staged(root)?;
    Ok(m.train().map(|s| shard_dir(root).join(&s.name)).collect())
}

/// The first `n + 1` validation tokens (`n` scored tokens and the last target), after
/// checking the staged validation shard's scored prefix against the manifest.
pub fn scored_tokens(root: &Path, n: usize) -> Result<Vec<u16>, DataError> {
    let m = check_staged(root)
        .map_err(|why| DataError::NotStaged(format!("{why}; {}", how_to_stage())))?;
    let path = shard_dir(root).join(VAL_FILE);
    let shard = Shard::open(&path).map_err(|e| DataError::format(&path, e.to_string()))?;
    let (count, sha) = scored_prefix(&shard)?;
    if count != m.scored_tokens || sha != m.scored_sha256 {
        return Err(DataError::format(&path, "the scored validation tokens differ from the manifest: the staged shard was modified; import the dataset again"));
    }
    if (n as u64) + 1 > shard.len() {
        return Err(DataError::format(
            &path,
            format!(
                "{} tokens; scoring {n} tokens needs {} (the published shard has 100M)",
                shard.len(),
                n + 1
            ),
        ));
    }
    shard
        .read(0, n + 1)
        .map_err(|e| DataError::format(&path, e.to_string()))
}
