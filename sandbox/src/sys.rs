//! Thin, safe wrappers over the few system calls the parent side needs.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::error::SandboxError;

/// A pipe: `(read end, write end)`, both close-on-exec.
pub fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if r != 0 {
        return Err(SandboxError::last_os("creating a pipe"));
    }
    // SAFETY: pipe2 returned two new descriptors that we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe whose descriptors are numbered 10 or above, so that they never collide with the
/// fixed descriptor numbers of the helper protocol.
pub fn pipe_high() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let (r, w) = pipe()?;
    let up = |fd: OwnedFd| -> Result<OwnedFd, SandboxError> {
        // SAFETY: duplicating a descriptor we own to a new close-on-exec one.
        let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
        if n < 0 {
            return Err(SandboxError::last_os("duplicating a pipe descriptor"));
        }
        // SAFETY: fcntl returned a new descriptor we own.
        Ok(unsafe { OwnedFd::from_raw_fd(n) })
    };
    Ok((up(r)?, up(w)?))
}

/// Sets or clears `O_NONBLOCK`.
pub fn set_nonblocking(fd: RawFd, on: bool) -> Result<(), SandboxError> {
    // SAFETY: fcntl on a descriptor we own; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(SandboxError::last_os("reading descriptor flags"));
    }
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, new) } < 0 {
        return Err(SandboxError::last_os("setting descriptor flags"));
    }
    Ok(())
}

/// Opens a pidfd for `pid`.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, SandboxError> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(SandboxError::last_os(
            "opening a pidfd for the sandbox helper",
        ));
    }
    // SAFETY: the kernel returned a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `sig` through a pidfd (no pid-reuse race). Errors (already dead) are ignored.
pub fn pidfd_kill(pidfd: &OwnedFd, sig: i32) {
    // SAFETY: plain syscall with integer arguments and a null siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
}

/// Reaps `pid` (blocking) and returns its raw wait status.
pub fn wait_pid(pid: i32) -> Option<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid with a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r == pid {
            return Some(status);
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None;
    }
}

/// Polls `fds` (each with `POLLIN`) for at most `timeout` (`None` = forever) and returns
/// the `revents` of each.
pub fn poll_in(fds: &[RawFd], timeout: Option<Duration>) -> Result<Vec<i16>, SandboxError> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms: libc::c_int = match timeout {
        None => -1,
        Some(d) => d.as_millis().min(i32::MAX as u128) as libc::c_int,
    };
    loop {
        // SAFETY: `pfds` is a valid array of pollfd of the given length.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if r >= 0 {
            return Ok(pfds.iter().map(|p| p.revents).collect());
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Err(SandboxError::last_os("waiting for the sandbox"));
        }
    }
}

/// Reads what is available from a non-blocking descriptor into `buf`, keeping at most
/// `cap` bytes in total. Returns `(eof, bytes_seen)`; bytes beyond the cap are
/// discarded but counted.
pub fn drain_into(file: &mut File, buf: &mut Vec<u8>, cap: usize) -> (bool, usize) {
    let mut chunk = [0u8; 65536];
    let mut seen = 0;
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return (true, seen),
            Ok(n) => {
                seen += n;
                let room = cap.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return (false, seen),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return (true, seen),
        }
    }
}

/// Writes all of `data`, retrying on interruption.
pub fn write_all(file: &mut File, data: &[u8]) -> Result<(), SandboxError> {
    file.write_all(data)
        .map_err(|e| SandboxError::io("writing to the sandbox helper", e))
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid never fails.
    unsafe { libc::geteuid() }
}

/// The effective gid of this process.
pub fn egid() -> u32 {
    // SAFETY: getegid never fails.
    unsafe { libc::getegid() }
}

/// Host uid (and gid) that sandboxed code runs as when the caller is root: root inside
/// a user namespace would otherwise be host root for file-permission checks and would
/// escape `RLIMIT_NPROC`.
pub const SANDBOX_HOST_ID: u32 = 100_000;

/// Gives `path` (and everything under it) to the sandbox's host uid when the caller is
/// root, so that files the caller wrote into a shared read-write path stay writable
/// inside. Does nothing for other callers. Symlinks are not followed.
pub fn give_to_sandbox(path: &std::path::Path) -> Result<(), SandboxError> {
    if euid() == 0 {
        chown_tree_for_sandbox(path)
    } else {
        Ok(())
    }
}

/// Gives `path` and everything under it to the sandbox's host uid (only when the caller
/// is root and the path is not already owned by it). Symlinks are not followed.
pub fn chown_tree_for_sandbox(path: &std::path::Path) -> Result<(), SandboxError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| SandboxError::io(format!("reading {}", path.display()), e))?;
    if meta.uid() != SANDBOX_HOST_ID || meta.gid() != SANDBOX_HOST_ID {
        std::os::unix::fs::lchown(path, Some(SANDBOX_HOST_ID), Some(SANDBOX_HOST_ID)).map_err(
            |e| SandboxError::io(format!("handing {} to the sandbox", path.display()), e),
        )?;
    }
    if meta.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| SandboxError::io(format!("listing {}", path.display()), e))?;
        for entry in entries.flatten() {
            chown_tree_for_sandbox(&entry.path())?;
        }
    }
    Ok(())
}
