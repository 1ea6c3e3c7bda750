//! Where datasets live: `$MLGYM_DATA`, else `$XDG_DATA_HOME/mlgym`, else
//! `~/.local/share/mlgym`.

use std::path::PathBuf;

/// The data root (not created here).
pub fn data_root() -> PathBuf {
    if let Some(d) = std::env::var_os("MLGYM_DATA").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("mlgym");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/mlgym"),
        None => PathBuf::from("/var/lib/mlgym"),
    }
}
