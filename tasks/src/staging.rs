//! What the importers that stage a directory under the data root share (MNLI, COCO, the
//! pretrained text models): building the directory beside its final place and renaming it
//! in (any error type: the MNLI and COCO importers pass `DataError::write`), and reading
//! its `manifest.json`.

use std::path::Path;

use serde::de::DeserializeOwned;

/// Builds `dir` with `build` in a temporary sibling (`.<name>.import-<pid>`) and renames
/// it over `dir` only once `build` succeeded, so that a failed import leaves no half-written
/// directory behind. `write_error` wraps the I/O errors of the directory operations.
pub(crate) fn replace_dir<T, E>(
    dir: &Path,
    build: impl FnOnce(&Path) -> Result<T, E>,
    write_error: impl Fn(&Path, std::io::Error) -> E,
) -> Result<T, E> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(root) = dir.parent() {
        std::fs::create_dir_all(root).map_err(|e| write_error(root, e))?;
    }
    let tmp = dir.with_file_name(format!(".{name}.import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let built = match build(&tmp) {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir).map_err(|e| write_error(dir, e))?;
    Ok(built)
}

/// The `manifest.json` of the staged directory `dir`; `Err` names the file and says
/// whether it is missing or unreadable (callers add how to stage).
pub(crate) fn read_manifest<M: DeserializeOwned>(dir: &Path) -> Result<M, String> {
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(|_| format!("{} is missing", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{} is unreadable ({e})", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_failed_build_keeps_the_old_directory_and_leaves_no_temporary() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("set");
        let io = |_: &Path, e: std::io::Error| e.to_string();
        replace_dir(
            &dir,
            |tmp| std::fs::create_dir(tmp).map_err(|e| e.to_string()),
            io,
        )
        .unwrap();
        std::fs::write(dir.join("old"), "1").unwrap();
        let failed: Result<(), String> = replace_dir(
            &dir,
            |tmp| {
                std::fs::create_dir(tmp).unwrap();
                std::fs::write(tmp.join("new"), "2").unwrap();
                Err("no".into())
            },
            io,
        );
        assert_eq!(failed, Err("no".to_string()));
        assert!(dir.join("old").is_file() && !dir.join("new").exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
        replace_dir(
            &dir,
            |tmp| {
                std::fs::create_dir(tmp).map_err(|e| e.to_string())?;
                std::fs::write(tmp.join("new"), "2").map_err(|e| e.to_string())
            },
            io,
        )
        .unwrap();
        assert!(!dir.join("old").exists() && dir.join("new").is_file());
    }
}
