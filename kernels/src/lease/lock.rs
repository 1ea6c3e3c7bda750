//! One GPU's lock: an exclusive `flock` on `<lease dir>/<uuid>.lock`.
//!
//! The kernel drops a `flock` when the last descriptor of its open file closes, so a
//! holder that dies (even by `kill -9`) releases its GPUs at once; nothing has to clean up
//! stale files. The file also records who holds it (a JSON [`Holder`]), which is only
//! trusted while the lock is held. Who holds a lock is read from `/proc/locks` rather than
//! by probing with `flock`, so that looking never makes a concurrent leaser fail.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds a lease, as written into the lock file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id of the holder.
    pub pid: u32,
    /// What the GPU is for (e.g. `mlgym run rlMountainCarContinuous`).
    pub purpose: String,
    /// Since when, seconds since the Unix epoch.
    pub since: f64,
}

/// A held lock; dropping it releases the GPU.
#[derive(Debug)]
pub(crate) struct LockFile {
    file: File,
    path: PathBuf,
}

fn flock(file: &File, op: libc::c_int) -> std::io::Result<bool> {
    loop {
        // SAFETY: flock on a descriptor we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), op) };
        if r == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Ok(false),
            _ => return Err(e),
        }
    }
}

impl LockFile {
    /// Takes the lock at `path` if nobody holds it: `Ok(None)` when someone does.
    pub(crate) fn try_acquire(path: &Path) -> std::io::Result<Option<LockFile>> {
        // Read-write to record the holder; read-only is enough to lock a file that another
        // user created in a shared lease directory. std opens with O_CLOEXEC, so the lock
        // never leaks into programs this process starts.
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                OpenOptions::new().read(true).open(path)?
            }
            Err(e) => return Err(e),
        };
        if flock(&file, libc::LOCK_EX | libc::LOCK_NB)? {
            Ok(Some(LockFile {
                file,
                path: path.to_path_buf(),
            }))
        } else {
            Ok(None)
        }
    }

    /// Records `holder` in the file (best effort: a read-only file keeps no record).
    pub(crate) fn write_holder(&mut self, holder: &Holder) {
        let Ok(text) = serde_json::to_string(holder) else {
            return;
        };
        let _ = self.file.set_len(0);
        let _ = self.file.seek(SeekFrom::Start(0));
        let _ = self.file.write_all(format!("{text}\n").as_bytes());
    }

    /// The lock file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Unlock explicitly: a forked child that still shares the descriptor must not keep
        // the GPU leased after its parent let go.
        let _ = flock(&self.file, libc::LOCK_UN);
    }
}

/// The holder recorded in the lock file at `path`, if it parses.
pub(crate) fn read_holder(path: &Path) -> Option<Holder> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// Whether the lock at `path` is held now, and by which pid, from `/proc/locks`:
/// `Ok(None)` free, `Ok(Some(pid))` held. An error when `/proc/locks` cannot be read.
pub(crate) fn held_by(path: &Path) -> std::io::Result<Option<u32>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let locks = std::fs::read_to_string("/proc/locks")?;
    let dev = meta.dev();
    Ok(find_flock(
        &locks,
        libc::major(dev) as u64,
        libc::minor(dev) as u64,
        meta.ino(),
    ))
}

/// Finds an exclusive `FLOCK` on inode `ino` of device `major:minor` in the text of
/// `/proc/locks` (`1: FLOCK  ADVISORY  WRITE 1234 fe:00:5317188 0 EOF`; waiters, marked
/// `->`, are skipped) and returns its pid.
pub(crate) fn find_flock(locks: &str, major: u64, minor: u64, ino: u64) -> Option<u32> {
    for line in locks.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // A waiter's line has `->` where the lock type goes, so it is skipped too.
        if fields.len() < 6 || fields[1] != "FLOCK" || fields[3] != "WRITE" {
            continue;
        }
        let mut parts = fields[5].split(':');
        let (Some(ma), Some(mi), Some(i)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let same = u64::from_str_radix(ma, 16).ok() == Some(major)
            && u64::from_str_radix(mi, 16).ok() == Some(minor)
            && i.parse::<u64>().ok() == Some(ino);
        if same {
            return fields[4].parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn proc_locks_lines_are_matched_by_device_and_inode() {
        let text = "1: FLOCK  ADVISORY  READ 23071 fe:00:10133509 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 22765 fe:00:5317188 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 23071 fe:00:5317188 0 EOF\n\
                    3: POSIX  ADVISORY  WRITE 99 fe:00:42 0 EOF\n";
        assert_eq!(find_flock(text, 0xfe, 0, 5317188), Some(22765));
        assert_eq!(find_flock(text, 0xfe, 0, 10133509), None); // shared, not a lease
        assert_eq!(find_flock(text, 0xfe, 0, 42), None); // POSIX lock
        assert_eq!(find_flock(text, 0xfd, 0, 5317188), None);
    }

    #[test]
    fn a_lock_excludes_a_second_open_of_the_same_file_and_is_seen_in_proc_locks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("GPU-x.lock");
        assert_eq!(held_by(&p).unwrap(), None);
        let mut a = LockFile::try_acquire(&p).unwrap().unwrap();
        a.write_holder(&Holder {
            pid: std::process::id(),
            purpose: "test".into(),
            since: 1.0,
        });
        // flock conflicts between open file descriptions, even in one process.
        assert!(LockFile::try_acquire(&p).unwrap().is_none());
        assert_eq!(held_by(&p).unwrap(), Some(std::process::id()));
        assert_eq!(read_holder(&p).unwrap().purpose, "test");
        drop(a);
        assert_eq!(held_by(&p).unwrap(), None);
        assert!(LockFile::try_acquire(&p).unwrap().is_some());
    }
}
