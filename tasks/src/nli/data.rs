//! MultiNLI (`multi_nli`): imported from its Hugging Face parquet export or from JSON
//! lines, staged with validation_matched hidden from the agent.
//!
//! Accepted source (`mlgym data import mnli DIR`): a directory holding, at any depth,
//!
//! * parquet: `train-*.parquet` and `validation_matched-*.parquet` (or files under
//!   `train/` and `validation_matched/`), columns `premise`, `hypothesis`, integer
//!   `label`; or
//! * JSON lines: `train.jsonl` and `validation_matched.jsonl` with the same fields, or the
//!   original release's `multinli_1.0_train.jsonl` and `multinli_1.0_dev_matched.jsonl`
//!   (`sentence1`, `sentence2`, `gold_label` as a word).
//!
//! Rows without a gold label (`-1`, `-`) are dropped, as the Hugging Face export does.
//! Labels: 0 entailment, 1 neutral, 2 contradiction. The published sizes are 392,702
//! training and 9,815 validation_matched pairs; other sizes are imported (for subsets)
//! and reported.
//!
//! Staged layout (`$MLGYM_DATA/mnli/`):
//!
//! ```text
//! manifest.json                        rows and SHA-256 of each staged file
//! public/train.jsonl                   {"premise","hypothesis","label"} per line
//! public/README.md
//! private/validation_matched.jsonl     the evaluation pairs: read by the evaluator only
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parquet::record::Field;
use serde::{Deserialize, Serialize};

use crate::datasets::digest::sha256;
use crate::datasets::hf_parquet;
use crate::datasets::stage::{restrict, write_atomic};
use crate::datasets::DataError;
use crate::staging::{read_manifest, replace_dir};

/// Name on the command line and directory under the data root.
pub const NAME: &str = "mnli";
/// Label names, by label id.
pub const LABELS: [&str; 3] = ["entailment", "neutral", "contradiction"];
/// Published sizes of train and validation_matched.
pub const PUBLISHED_ROWS: [usize; 2] = [392_702, 9_815];
const MANIFEST: &str = "manifest.json";
/// The agent's training pairs in `public/`.
pub const TRAIN_FILE: &str = "train.jsonl";
/// The evaluation pairs in `private/`.
pub const VALID_FILE: &str = "validation_matched.jsonl";

/// One labelled pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The premise.
    pub premise: String,
    /// The hypothesis.
    pub hypothesis: String,
    /// 0 entailment, 1 neutral, 2 contradiction.
    pub label: u8,
}

/// One staged file in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Path under the dataset directory.
    pub path: String,
    /// Pairs.
    pub rows: usize,
    /// SHA-256 of the file.
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Where it was imported from.
    pub source: String,
    /// The staged files.
    pub files: Vec<StagedFile>,
}

/// The staged directory under `root`.
pub fn dataset_dir(root: &Path) -> PathBuf {
    root.join(NAME)
}

/// What to run to stage MNLI (for messages).
pub fn how_to_stage() -> String {
    "run `mlgym data import mnli DIR` with DIR holding multi_nli's train and validation_matched splits (the Hugging Face parquet files train-*.parquet and validation_matched-*.parquet, or train.jsonl and validation_matched.jsonl)".into()
}

fn label_from_word(w: &str) -> Option<i64> {
    LABELS.iter().position(|l| *l == w).map(|i| i as i64)
}

/// A parsed row: `Some(pair)`, or `None` for a row without a gold label.
fn make_pair(
    premise: Option<String>,
    hypothesis: Option<String>,
    label: Option<i64>,
) -> Result<Option<Pair>, String> {
    let (Some(premise), Some(hypothesis), Some(label)) = (premise, hypothesis, label) else {
        return Err("expected `premise`, `hypothesis` and `label` (or `sentence1`, `sentence2`, `gold_label`)".into());
    };
    match label {
        -1 => Ok(None),
        0..=2 => Ok(Some(Pair {
            premise,
            hypothesis,
            label: label as u8,
        })),
        other => Err(format!(
            "label {other} is not 0, 1, 2 (or -1 for no gold label)"
        )),
    }
}

fn read_jsonl(path: &Path) -> Result<Vec<Pair>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::read(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |m: String| DataError::format(path, format!("line {}: {m}", i + 1));
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not JSON ({e})")))?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let label = match (v.get("label"), v.get("gold_label")) {
            (Some(l), _) => l.as_i64(),
            (None, Some(g)) => g.as_str().and_then(|w| {
                if w == "-" {
                    Some(-1)
                } else {
                    label_from_word(w)
                }
            }),
            _ => None,
        };
        let pair = make_pair(
            s("premise").or_else(|| s("sentence1")),
            s("hypothesis").or_else(|| s("sentence2")),
            label,
        )
        .map_err(bad)?;
        out.extend(pair);
    }
    Ok(out)
}

fn read_parquet(path: &Path, out: &mut Vec<Pair>) -> Result<(), DataError> {
    let bad = |m: String| DataError::format(path, m);
    for (i, row) in hf_parquet::rows(path)?.enumerate() {
        let row = row?;
        let (mut p, mut h, mut l) = (None, None, None);
        for (name, field) in row.get_column_iter() {
            match (name.as_str(), field) {
                ("premise", Field::Str(s)) => p = Some(s.clone()),
                ("hypothesis", Field::Str(s)) => h = Some(s.clone()),
                ("label", Field::Long(v)) => l = Some(*v),
                ("label", Field::Int(v)) => l = Some(i64::from(*v)),
                ("label", Field::Byte(v)) => l = Some(i64::from(*v)),
                ("label", Field::Short(v)) => l = Some(i64::from(*v)),
                _ => {}
            }
        }
        out.extend(make_pair(p, h, l).map_err(|m| bad(format!("row {i}: {m}")))?);
    }
    Ok(())
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The split (`train` or `validation_matched`) a source file belongs to.
fn split_of(p: &Path) -> Option<&'static str> {
    let name = p.file_name()?.to_str()?;
    let parent = p
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if name.ends_with(".parquet") {
        return ["train", "validation_matched"].into_iter().find(|s| {
            name.starts_with(&format!("{s}-")) || name.starts_with(&format!("{s}.")) || parent == *s
        });
    }
    match name {
        "train.jsonl" | "multinli_1.0_train.jsonl" => Some("train"),
        "validation_matched.jsonl" | "multinli_1.0_dev_matched.jsonl" => Some("validation_matched"),
        _ => None,
    }
}

/// Reads both splits from `src` (see the module docs).
pub fn read_source(src: &Path) -> Result<(Vec<Pair>, Vec<Pair>), DataError> {
    let mut files = Vec::new();
    if src.is_file() {
        files.push(src.to_path_buf());
    } else {
        all_files(src, &mut files);
    }
    files.sort();
    let mut splits: BTreeMap<&str, Vec<Pair>> = BTreeMap::new();
    for f in &files {
        let Some(s) = split_of(f) else { continue };
        let rows = splits.entry(s).or_default();
        if f.extension().is_some_and(|e| e == "parquet") {
            read_parquet(f, rows)?;
        } else {
            rows.extend(read_jsonl(f)?);
        }
    }
    let mut take = |s: &str| {
        splits
            .remove(s)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| DataError::NotFound {
                path: src.to_path_buf(),
                problem: format!("no {s} pairs found; {}", how_to_stage()),
            })
    };
    let train = take("train")?;
    let valid = take("validation_matched")?;
    Ok((train, valid))
}

fn jsonl_bytes(rows: &[Pair], path: &Path) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut out, r).map_err(|e| DataError::format(path, e.to_string()))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// What an import staged.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The staged directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Notes (e.g. sizes other than the published ones).
    pub notes: Vec<String>,
}

/// Stages MNLI from `src` under `root`.
pub fn import(src: &Path, root: &Path) -> Result<ImportReport, DataError> {
    let (train, valid) = read_source(src)?;
    let mut notes = Vec::new();
    for ((what, rows), want) in [("train", &train), ("validation_matched", &valid)]
        .into_iter()
        .zip(PUBLISHED_ROWS)
    {
        if rows.len() != want {
            notes.push(format!("{what} has {} pairs, the published split {want}: scores are not comparable with MLGym's", rows.len()));
        }
    }
    let dir = dataset_dir(root);
    let manifest = replace_dir(
        &dir,
        |tmp| {
            let mut files = Vec::new();
            for (rel, rows) in [
                (format!("public/{TRAIN_FILE}"), &train),
                (format!("private/{VALID_FILE}"), &valid),
            ] {
                let path = tmp.join(&rel);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| DataError::write(parent, e))?;
                }
                let bytes = jsonl_bytes(rows, &path)?;
                write_atomic(&path, &bytes)?;
                files.push(StagedFile {
                    path: rel,
                    rows: rows.len(),
                    sha256: sha256(&bytes),
                });
            }
            restrict(&tmp.join("private"))?;
            write_atomic(&tmp.join("public/README.md"), README.as_bytes())?;
            let manifest = Manifest {
                source: src.display().to_string(),
                files,
            };
            let json = serde_json::to_vec_pretty(&manifest)
                .map_err(|e| DataError::format(tmp.join(MANIFEST), e.to_string()))?;
            write_atomic(&tmp.join(MANIFEST), &json)?;
            Ok(manifest)
        },
        |p, e| DataError::write(p, e),
    )?;
    Ok(ImportReport {
        dir,
        manifest,
        notes,
    })
}

const README: &str = "\
MultiNLI (multi_nli) training pairs

train.jsonl: one JSON object per line: \"premise\", \"hypothesis\", \"label\"
(0 entailment, 1 neutral, 2 contradiction). Hold out part of it for validation.

bert-base-uncased/: the pretrained model to fine-tune (config.json, model.safetensors,
tokenizer.json), loadable with transformers' from_pretrained.

Your model is scored on the validation_matched split, which is not in this folder.
";

/// The manifest, checked: every staged file present with its recorded size of rows.
pub fn check_staged(root: &Path) -> Result<Manifest, String> {
    let dir = dataset_dir(root);
    let m: Manifest = read_manifest(&dir)?;
    for f in &m.files {
        if !dir.join(&f.path).is_file() {
            return Err(format!("{} is missing", dir.join(&f.path).display()));
        }
    }
    Ok(m)
}

/// Re-hashes the staged files against the manifest; returns one line per check.
pub fn verify(root: &Path) -> Result<Vec<String>, DataError> {
    let m = check_staged(root)
        .map_err(|why| DataError::NotStaged(format!("{why}; {}", how_to_stage())))?;
    let dir = dataset_dir(root);
    let mut checks = Vec::new();
    for f in &m.files {
        let p = dir.join(&f.path);
        let bytes = std::fs::read(&p).map_err(|e| DataError::read(&p, e))?;
        let found = sha256(&bytes);
        if found != f.sha256 {
            return Err(DataError::format(
                &p,
                format!(
                    "SHA-256 is {found}, the manifest says {}: the file changed; import mnli again",
                    f.sha256
                ),
            ));
        }
        checks.push(format!(
            "{}: {} pairs, SHA-256 {}",
            f.path, f.rows, f.sha256
        ));
    }
    Ok(checks)
}

/// The hidden evaluation pairs.
pub fn load_validation(root: &Path) -> Result<Vec<Pair>, DataError> {
    check_staged(root).map_err(|why| DataError::NotStaged(format!("{why}; {}", how_to_stage())))?;
    read_jsonl(&dataset_dir(root).join("private").join(VALID_FILE))
}

/// The staged training pairs.
pub fn load_train(root: &Path) -> Result<Vec<Pair>, DataError> {
    check_staged(root).map_err(|why| DataError::NotStaged(format!("{why}; {}", how_to_stage())))?;
    read_jsonl(&dataset_dir(root).join("public").join(TRAIN_FILE))
}
