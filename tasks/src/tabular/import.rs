//! `mlgym data import house-price|titanic PATH`: verify the Kaggle file, split it, and
//! stage the public files, the hidden answers and a manifest under the data root.
//!
//! Every file is written atomically (temporary file + rename) and only when its content
//! changes, with the manifest removed first and written last, so a dataset is either
//! staged completely or reported as not staged; importing twice changes nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::csv::{self, Record};
use super::dataset::{sha256_hex, DatasetSpec, FileInfo, Manifest, SourceInfo, MANIFEST_FORMAT};

/// Why an import failed. Each message names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The source is not well-formed CSV.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: csv::CsvError,
    },
    /// The header lacks expected columns or has unexpected ones.
    #[error("{path} is not {expected}: {problem}")]
    Columns {
        /// The file.
        path: PathBuf,
        /// What the file should be.
        expected: &'static str,
        /// Missing and unexpected columns.
        problem: String,
    },
    /// The columns are right but the content is not the known file.
    #[error(
        "{path}: checksum mismatch: SHA-256 is {found}, but {expected} has {want}; \
         pass the unmodified file downloaded from Kaggle"
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// What the file should be.
        expected: &'static str,
        /// Expected SHA-256.
        want: &'static str,
        /// Found SHA-256.
        found: String,
    },
    /// An id of the split is absent or repeated (only possible with a modified file).
    #[error("{path}: {problem}")]
    Split {
        /// The file.
        path: PathBuf,
        /// The problem.
        problem: String,
    },
    /// Writing under the data root failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What an import did.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportReport {
    /// Dataset name.
    pub dataset: &'static str,
    /// The dataset directory.
    pub dir: PathBuf,
    /// The manifest written (or found identical).
    pub manifest: Manifest,
    /// Whether any file was written (false when it was already staged identically).
    pub changed: bool,
}

/// Verifies `source` against `spec`, splits it, and stages it under `data_root`.
pub fn import(
    spec: &'static DatasetSpec,
    source: &Path,
    data_root: &Path,
) -> Result<ImportReport, ImportError> {
    let bytes = std::fs::read(source).map_err(|e| ImportError::Read {
        path: source.to_path_buf(),
        source: e,
    })?;
    let table = csv::parse(&bytes).map_err(|e| ImportError::Csv {
        path: source.to_path_buf(),
        source: e,
    })?;
    check_columns(spec, &table.header).map_err(|problem| ImportError::Columns {
        path: source.to_path_buf(),
        expected: spec.source,
        problem,
    })?;
    let sha = content_sha256(&bytes);
    if sha != spec.sha256 {
        return Err(ImportError::Checksum {
            path: source.to_path_buf(),
            expected: spec.source,
            want: spec.sha256,
            found: sha,
        });
    }
    let files =
        build_files(spec, &table.header, &table.records).map_err(|problem| ImportError::Split {
            path: source.to_path_buf(),
            problem,
        })?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        dataset: spec.name.to_string(),
        source: SourceInfo {
            sha256: sha,
            rows: table.records.len(),
        },
        id_column: spec.id_column.to_string(),
        target_column: spec.target_column.to_string(),
        files: files
            .iter()
            .map(|f| FileInfo {
                path: f.path.clone(),
                rows: f.rows,
                bytes: f.text.len() as u64,
                sha256: sha256_hex(f.text.as_bytes()),
            })
            .collect(),
    };
    let dir = spec.dir(data_root);
    let mut manifest_text =
        serde_json::to_string_pretty(&manifest).map_err(|e| ImportError::Write {
            path: spec.manifest_path(data_root),
            source: e.into(),
        })?;
    manifest_text.push('\n');
    let unchanged = files
        .iter()
        .all(|f| same_content(&dir.join(&f.path), f.text.as_bytes()))
        && same_content(&spec.manifest_path(data_root), manifest_text.as_bytes());
    if unchanged {
        return Ok(ImportReport {
            dataset: spec.name,
            dir,
            manifest,
            changed: false,
        });
    }
    let manifest_path = spec.manifest_path(data_root);
    if let Err(e) = std::fs::remove_file(&manifest_path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(ImportError::Write {
                path: manifest_path,
                source: e,
            });
        }
    }
    for sub in ["public", "private"] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| ImportError::Write {
            path: d.clone(),
            source: e,
        })?;
    }
    restrict(&dir.join("private"))?;
    for f in &files {
        let p = dir.join(&f.path);
        if !same_content(&p, f.text.as_bytes()) {
            write_atomic(&p, f.text.as_bytes())?;
        }
    }
    write_atomic(&manifest_path, manifest_text.as_bytes())?;
    Ok(ImportReport {
        dataset: spec.name,
        dir,
        manifest,
        changed: true,
    })
}

/// The source's SHA-256, with `\r\n` line ends read as `\n` (a file that went through a
/// Windows checkout is still the known file).
fn content_sha256(bytes: &[u8]) -> String {
    if !bytes.windows(2).any(|w| w == b"\r\n") {
        return sha256_hex(bytes);
    }
    let mut lf = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        lf.push(bytes[i]);
        i += 1;
    }
    sha256_hex(&lf)
}

/// `Err` lists missing and unexpected columns (and hints at Kaggle's test.csv).
fn check_columns(spec: &DatasetSpec, header: &[String]) -> Result<(), String> {
    let missing: Vec<&str> = spec
        .columns
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == c))
        .collect();
    let extra: Vec<&str> = header
        .iter()
        .map(String::as_str)
        .filter(|h| !spec.columns.contains(h))
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    let list = |v: &[&str]| {
        v.iter()
            .take(8)
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
            + if v.len() > 8 {
                format!(" and {} more", v.len() - 8)
            } else {
                String::new()
            }
            .as_str()
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing columns {}", list(&missing)));
    }
    if !extra.is_empty() {
        parts.push(format!("unexpected columns {}", list(&extra)));
    }
    let mut problem = parts.join("; ");
    if missing == [spec.target_column] && extra.is_empty() {
        problem
            .push_str(" (this looks like Kaggle's test.csv; pass train.csv, which has the labels)");
    }
    Err(problem)
}

/// One file to stage.
struct Staged {
    path: String,
    rows: usize,
    text: String,
}

/// The public split files (test without the target) and the private answers.
fn build_files(
    spec: &DatasetSpec,
    header: &[String],
    records: &[Record],
) -> Result<Vec<Staged>, String> {
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(format!("no column `{name}`"))
    };
    let id_col = col(spec.id_column)?;
    let target_col = col(spec.target_column)?;
    let mut by_id: HashMap<i64, &Record> = HashMap::with_capacity(records.len());
    for r in records {
        let id: i64 = r.fields[id_col].trim().parse().map_err(|_| {
            format!(
                "line {}: {} `{}` is not an integer",
                r.line, spec.id_column, r.fields[id_col]
            )
        })?;
        if by_id.insert(id, r).is_some() {
            return Err(format!(
                "line {}: {} {id} appears twice",
                r.line, spec.id_column
            ));
        }
    }
    let splits = spec.split_ids();
    let mut files = Vec::new();
    for (k, split) in splits.iter().enumerate() {
        let is_test = k + 1 == splits.len();
        let keep: Vec<usize> = (0..header.len())
            .filter(|&j| !is_test || j != target_col)
            .collect();
        let mut text = String::new();
        csv::write_record(
            &mut text,
            &keep.iter().map(|&j| header[j].as_str()).collect::<Vec<_>>(),
        );
        let mut answers = String::new();
        csv::write_record(&mut answers, &[spec.id_column, spec.target_column]);
        for id in &split.ids {
            let r = by_id.get(id).ok_or(format!(
                "{} {id} of the {} split is missing",
                spec.id_column, split.name
            ))?;
            csv::write_record(
                &mut text,
                &keep
                    .iter()
                    .map(|&j| r.fields[j].as_str())
                    .collect::<Vec<_>>(),
            );
            if is_test {
                csv::write_record(
                    &mut answers,
                    &[r.fields[id_col].as_str(), r.fields[target_col].as_str()],
                );
            }
        }
        files.push(Staged {
            path: format!("public/{}.csv", split.name),
            rows: split.ids.len(),
            text,
        });
        if is_test {
            files.push(Staged {
                path: "private/answer.csv".into(),
                rows: split.ids.len(),
                text: answers,
            });
        }
    }
    Ok(files)
}

fn same_content(path: &Path, bytes: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|b| b == bytes)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImportError> {
    let fail = |e| ImportError::Write {
        path: path.to_path_buf(),
        source: e,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| {
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

/// Makes the answers directory private to its owner.
fn restrict(dir: &Path) -> Result<(), ImportError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
        ImportError::Write {
            path: dir.to_path_buf(),
            source: e,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_files_hash_like_lf_files() {
        assert_eq!(content_sha256(b"a,b\r\n1,2\r\n"), sha256_hex(b"a,b\n1,2\n"));
        assert_eq!(content_sha256(b"a\rb"), sha256_hex(b"a\rb"));
    }

    #[test]
    fn column_problems_are_listed() {
        let spec = &super::super::dataset::TITANIC;
        let mut header: Vec<String> = spec.columns.iter().map(|s| s.to_string()).collect();
        assert!(check_columns(spec, &header).is_ok());
        header.retain(|h| h != "Survived");
        let e = check_columns(spec, &header).unwrap_err();
        assert!(
            e.contains("missing columns `Survived`") && e.contains("test.csv"),
            "{e}"
        );
        header.push("Foo".into());
        let e = check_columns(spec, &header).unwrap_err();
        assert!(
            e.contains("unexpected columns `Foo`") && !e.contains("test.csv"),
            "{e}"
        );
    }
}
