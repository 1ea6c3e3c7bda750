//! Where datasets live: `$MLGYM_DATA`, else `$XDG_DATA_HOME/mlgym`, else
//! `~/.local/share/mlgym` — or `/var/lib/mlgym` for root, whose home directory the
//! sandbox's unprivileged user cannot enter.

use std::path::PathBuf;

/// The data root (not created here).
pub fn data_root() -> PathBuf {
    if let Some(d) = std::env::var_os("MLGYM_DATA").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    // SAFETY: geteuid never fails.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/mlgym");
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("mlgym");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/mlgym"),
        None => PathBuf::from("/var/lib/mlgym"),
    }
}
