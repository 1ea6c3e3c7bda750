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
fn read_holder(path: &Path) -> Option<Holder> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// Who holds the lock at `path` now: `Ok(None)` free, `Ok(Some((pid, record)))` held by
/// `pid`, with the [`Holder`] recorded in the file when it names that pid. An error when
/// `/proc/locks` cannot be read.
///
/// The recorded holder is checked first, in its own descriptor table
/// (`/proc/<pid>/fdinfo`), which the kernel prints in one piece. `/proc/locks` is the
/// fallback (another user's process, or no record yet): it is one list for the whole
/// machine and is read a page at a time, so a lock dropped elsewhere between two pages
/// can shift a held lock out of view; it is read a second time before saying "free".
pub(crate) fn held_by(path: &Path) -> std::io::Result<Option<(u32, Option<Holder>)>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let (dev, ino) = (meta.dev(), meta.ino());
    let record = read_holder(path);
    if let Some(h) = record.as_ref() {
        if let Some(pid) = held_in_fdinfo(h.pid, dev, ino) {
            return Ok(Some((pid, record.filter(|h| h.pid == pid))));
        }
    }
    for _ in 0..2 {
        if let Some(pid) = find_flock(read_proc_locks()?.lines(), dev, ino) {
            return Ok(Some((pid, record.filter(|h| h.pid == pid))));
        }
    }
    Ok(None)
}

/// The text of `/proc/locks`, read in page-sized pieces: every `read` is one consistent
/// look at the list, so fewer pieces leave fewer gaps for changes to fall into
/// (`read_to_string` would start with a 32-byte read).
fn read_proc_locks() -> std::io::Result<String> {
    let mut bytes = Vec::with_capacity(1 << 16);
    File::open("/proc/locks")?.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The pid shown on an exclusive `FLOCK` that process `pid` holds through one of its
/// descriptors on the file `dev`/`ino`, from `/proc/<pid>/fdinfo` (which lists the locks
/// held through that descriptor, as `lock:` lines). `None` when it holds none there or
/// its table cannot be read (another user's process).
fn held_in_fdinfo(pid: u32, dev: u64, ino: u64) -> Option<u32> {
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        let same_file = std::fs::metadata(entry.path())
            .map(|m| m.dev() == dev && m.ino() == ino)
            .unwrap_or(false);
        if !same_file {
            continue;
        }
        let fdinfo = Path::new("/proc")
            .join(pid.to_string())
            .join("fdinfo")
            .join(entry.file_name());
        let Ok(info) = std::fs::read_to_string(fdinfo) else {
            continue;
        };
        let locks = info.lines().filter_map(|l| l.strip_prefix("lock:"));
        if let Some(shown) = find_flock(locks, dev, ino) {
            return Some(shown);
        }
    }
    None
}

/// Finds an exclusive `FLOCK` on inode `ino` of device `dev` among `lines` in the format
/// of `/proc/locks` (`1: FLOCK  ADVISORY  WRITE 1234 fe:00:5317188 0 EOF`; waiters, marked
/// `->`, are skipped) and returns its pid.
fn find_flock<'a>(lines: impl IntoIterator<Item = &'a str>, dev: u64, ino: u64) -> Option<u32> {
    let (major, minor) = (libc::major(dev) as u64, libc::minor(dev) as u64);
    for line in lines {
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

    /// Serialises the tests that read `/proc/locks` with those that crowd it, so that the
    /// fallback's check (no holder recorded) is not raced by this binary's own churn.
    static PROC_LOCKS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// The pid [`held_by`] names for `path`.
    fn holder_pid(path: &Path) -> Option<u32> {
        held_by(path).unwrap().map(|(pid, _)| pid)
    }

    #[test]
    fn proc_locks_lines_are_matched_by_device_and_inode() {
        let text = "1: FLOCK  ADVISORY  READ 23071 fe:00:10133509 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 22765 fe:00:5317188 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 23071 fe:00:5317188 0 EOF\n\
                    3: POSIX  ADVISORY  WRITE 99 fe:00:42 0 EOF\n";
        let (fe, fd) = (libc::makedev(0xfe, 0), libc::makedev(0xfd, 0));
        assert_eq!(find_flock(text.lines(), fe, 5317188), Some(22765));
        assert_eq!(find_flock(text.lines(), fe, 10133509), None); // shared, not a lease
        assert_eq!(find_flock(text.lines(), fe, 42), None); // POSIX lock
        assert_eq!(find_flock(text.lines(), fd, 5317188), None);
    }

    #[test]
    fn a_lock_excludes_a_second_open_of_the_same_file_and_is_seen_in_proc_locks() {
        let _serial = PROC_LOCKS.lock();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("GPU-x.lock");
        assert_eq!(holder_pid(&p), None);
        let mut a = LockFile::try_acquire(&p).unwrap().unwrap();
        // No holder recorded yet: found through /proc/locks alone.
        assert_eq!(holder_pid(&p), Some(std::process::id()));
        a.write_holder(&Holder {
            pid: std::process::id(),
            purpose: "test".into(),
            since: 1.0,
        });
        // flock conflicts between open file descriptions, even in one process.
        assert!(LockFile::try_acquire(&p).unwrap().is_none());
        assert_eq!(holder_pid(&p), Some(std::process::id()));
        assert_eq!(read_holder(&p).unwrap().purpose, "test");
        assert_eq!(held_by(&p).unwrap().unwrap().1.unwrap().purpose, "test");
        drop(a);
        assert_eq!(holder_pid(&p), None);
        assert!(LockFile::try_acquire(&p).unwrap().is_some());
    }

    /// `/proc/locks` is one list for the whole machine, read in pieces; a lock taken or
    /// dropped elsewhere between two pieces must not hide a lock that is held throughout.
    #[test]
    fn a_held_lock_is_seen_while_other_locks_come_and_go() {
        let _serial = PROC_LOCKS.lock();
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("GPU-held.lock");
        let mut held = LockFile::try_acquire(&ours).unwrap().unwrap();
        held.write_holder(&Holder {
            pid: std::process::id(),
            purpose: "test".into(),
            since: 1.0,
        });
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churners: Vec<_> = (0..2)
            .map(|t| {
                let others: Vec<PathBuf> = (0..64)
                    .map(|i| dir.path().join(format!("other-{t}-{i}.lock")))
                    .collect();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut locks: Vec<Option<LockFile>> = others.iter().map(|_| None).collect();
                    let mut i = 0usize;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let k = (i * 7919) % others.len();
                        locks[k] = match locks[k].take() {
                            Some(_) => None,
                            None => LockFile::try_acquire(&others[k]).unwrap(),
                        };
                        i += 1;
                    }
                })
            })
            .collect();
        let mut missed = 0;
        for _ in 0..3000 {
            if holder_pid(&ours) != Some(std::process::id()) {
                missed += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in churners {
            c.join().unwrap();
        }
        assert_eq!(
            missed, 0,
            "held_by missed a held lock {missed} times of 3000"
        );
    }
}
