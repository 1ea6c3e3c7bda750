//! Collecting the declared submission artefacts out of a workspace into a fresh
//! directory — the only thing an evaluator ever sees of the agent's work.
//!
//! Only regular files are copied; a symbolic link among the artefacts is refused (it
//! could point at an answer file or anywhere on the host), as is anything that resolves
//! outside the workspace.

use std::path::{Path, PathBuf};

/// Why artefacts could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum ArtefactError {
    /// No file matched any pattern.
    #[error("no file in the workspace matches the submission artefacts ({0})")]
    NotFound(String),
    /// A matched path is a symbolic link or special file.
    #[error("submission artefact {0} is not a regular file (symbolic links are not accepted; submit the file itself)")]
    NotRegular(String),
    /// The artefacts are too large.
    #[error("submission artefacts exceed {limit} bytes ({path} pushes them over); remove large files from the submission")]
    TooLarge {
        /// The limit.
        limit: u64,
        /// The file that crossed it.
        path: String,
    },
    /// I/O failure.
    #[error("copying submission artefact {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Matches one path component against a pattern component with `*` and `?`.
fn component_matches(pat: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pat.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether relative path `rel` (components separated by `/`) matches `pattern`
/// (`*`, `?` within a component; `**` for any number of directories).
pub fn matches(pattern: &str, rel: &str) -> bool {
    fn go(p: &[&str], r: &[&str]) -> bool {
        match (p.first(), r.first()) {
            (None, None) => true,
            (Some(&"**"), _) => go(&p[1..], r) || (!r.is_empty() && go(p, &r[1..])),
            (Some(pc), Some(rc)) => component_matches(pc, rc) && go(&p[1..], &r[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let r: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    go(&p, &r)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
    }
}

/// Copies every workspace file matching `patterns` into `dest` (keeping relative
/// paths) and returns the copied relative paths. `data/` (the task's read-only data) is
/// never collected.
pub fn collect(
    workspace: &Path,
    patterns: &[String],
    dest: &Path,
    limit: u64,
) -> Result<Vec<PathBuf>, ArtefactError> {
    let mut all = Vec::new();
    walk(workspace, workspace, &mut all);
    let mut total = 0u64;
    let mut copied = Vec::new();
    for rel in all {
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        if rel_s == "data" || rel_s.starts_with("data/") {
            continue;
        }
        if !patterns.iter().any(|p| matches(p, &rel_s)) {
            continue;
        }
        let src = workspace.join(&rel);
        let meta = std::fs::symlink_metadata(&src).map_err(|e| ArtefactError::Io {
            path: rel_s.clone(),
            source: e,
        })?;
        if !meta.is_file() {
            return Err(ArtefactError::NotRegular(rel_s));
        }
        total += meta.len();
        if total > limit {
            return Err(ArtefactError::TooLarge { limit, path: rel_s });
        }
        let dst = dest.join(&rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ArtefactError::Io {
                path: rel_s.clone(),
                source: e,
            })?;
        }
        std::fs::copy(&src, &dst).map_err(|e| ArtefactError::Io {
            path: rel_s.clone(),
            source: e,
        })?;
        copied.push(rel);
    }
    if copied.is_empty() {
        return Err(ArtefactError::NotFound(patterns.join(", ")));
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_shells() {
        assert!(matches("strategy.py", "strategy.py"));
        assert!(matches("*.py", "helper.py"));
        assert!(!matches("*.py", "sub/helper.py"));
        assert!(matches("**/*.py", "sub/helper.py"));
        assert!(matches("**/*.py", "top.py"));
        assert!(matches("checkpoints/**", "checkpoints/a/b.safetensors"));
        assert!(matches("model_?.bin", "model_1.bin"));
        assert!(!matches("submission.csv", "submission.csv.bak"));
    }

    #[test]
    fn collects_only_declared_regular_files() {
        let ws = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(ws.path().join("strategy.py"), "x").unwrap();
        std::fs::write(ws.path().join("notes.txt"), "y").unwrap();
        std::fs::create_dir(ws.path().join("data")).unwrap();
        std::fs::write(ws.path().join("data/answer.py"), "z").unwrap();
        let got = collect(
            ws.path(),
            &["*.py".into(), "data/*".into()],
            dest.path(),
            1 << 20,
        )
        .unwrap();
        assert_eq!(got, vec![PathBuf::from("strategy.py")]);
        assert!(!dest.path().join("notes.txt").exists());
        std::os::unix::fs::symlink("/etc/passwd", ws.path().join("evil.py")).unwrap();
        let dest2 = tempfile::tempdir().unwrap();
        let e = collect(ws.path(), &["*.py".into()], dest2.path(), 1 << 20).unwrap_err();
        assert!(e.to_string().contains("evil.py"), "{e}");
        let e = collect(ws.path(), &["nothing.csv".into()], dest2.path(), 1 << 20).unwrap_err();
        assert!(matches!(e, ArtefactError::NotFound(_)));
    }
}
