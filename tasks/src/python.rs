//! The Python interpreter agent code runs with, and what a sandbox must share for it.
//!
//! The interpreter is configurable (`MLGYM_PYTHON`, default `/usr/bin/python3`) because
//! labs bring their own environments (a venv, conda, pyenv). When it lives outside the
//! system directories the sandbox always shares, its installation prefixes are shared
//! read-only.

use std::path::{Path, PathBuf};

use mlgym_sandbox::SYSTEM_DIRS;

/// A resolved interpreter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonEnv {
    /// The interpreter as agents call it.
    pub executable: PathBuf,
    /// Directories the sandbox must share read-only for it to work.
    pub read_only: Vec<PathBuf>,
}

/// Errors finding the interpreter.
#[derive(Debug, thiserror::Error)]
#[error("Python interpreter {}: {message}. Install python3 (e.g. `apt-get install python3 python3-numpy`) or set MLGYM_PYTHON to an interpreter", path.display())]
pub struct PythonError {
    /// The interpreter path tried.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl PythonEnv {
    /// The interpreter named by `MLGYM_PYTHON`, else `/usr/bin/python3`.
    pub fn from_env() -> Result<PythonEnv, PythonError> {
        let p = std::env::var_os("MLGYM_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/python3"));
        PythonEnv::at(&p)
    }

    /// Resolves `path` and finds the prefixes it needs (runs it once, outside any
    /// sandbox, to print `sys.prefix` and `sys.base_prefix`; no agent code is involved).
    pub fn at(path: &Path) -> Result<PythonEnv, PythonError> {
        let err = |m: String| PythonError {
            path: path.to_path_buf(),
            message: m,
        };
        if !path.is_file() {
            return Err(err("does not exist".into()));
        }
        let out = std::process::Command::new(path)
            .args([
                "-I",
                "-c",
                "import sys; print(sys.prefix); print(sys.base_prefix)",
            ])
            .output()
            .map_err(|e| err(format!("cannot be run: {e}")))?;
        if !out.status.success() {
            return Err(err(format!(
                "failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut read_only: Vec<PathBuf> = Vec::new();
        let system = |p: &Path| SYSTEM_DIRS.iter().any(|d| p.starts_with(d));
        let mut candidates: Vec<PathBuf> = text.lines().map(PathBuf::from).collect();
        if let Ok(real) = std::fs::canonicalize(path) {
            if let Some(dir) = real.parent() {
                candidates.push(dir.to_path_buf());
            }
        }
        if let Some(dir) = path.parent() {
            candidates.push(dir.to_path_buf());
        }
        for c in candidates {
            let Ok(c) = std::fs::canonicalize(&c) else {
                continue;
            };
            if !system(&c) && !read_only.iter().any(|r| c.starts_with(r)) {
                read_only.retain(|r| !r.starts_with(&c));
                read_only.push(c);
            }
        }
        Ok(PythonEnv {
            executable: path.to_path_buf(),
            read_only,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_python_needs_no_extra_paths() {
        let p = Path::new("/usr/bin/python3");
        if !p.exists() {
            eprintln!("SKIP: /usr/bin/python3 is absent");
            return;
        }
        let env = PythonEnv::at(p).unwrap();
        assert!(env.read_only.is_empty(), "{:?}", env.read_only);
    }

    #[test]
    fn missing_interpreter_is_a_clear_error() {
        let e = PythonEnv::at(Path::new("/nope/python"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nope/python") && e.contains("MLGYM_PYTHON"),
            "{e}"
        );
    }
}
