//! Mode `full`: the private root built from bind mounts, run by the helper as root of its
//! new user and mount namespaces.
//!
//! Layout: a tmpfs root; system directories bound read-only (merged-usr symlinks such as
//! `/bin -> usr/bin` recreated as symlinks); the spec's read-only and read-write paths
//! bound at their own names; hidden paths under them covered by empty inaccessible
//! mounts; a fresh `/proc` of the new pid namespace; a tmpfs `/tmp`; a minimal `/dev`
//! (null, zero, full, random, urandom, shm, the fd links, and leased GPUs). Then
//! `pivot_root`, and the root itself becomes read-only.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::spec::SYSTEM_DIRS;
use crate::wire::InitConfig;

fn cstr(p: &Path) -> Result<CString, String> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("path {} contains NUL", p.display()))
}

fn err(what: &str, p: &Path) -> String {
    format!(
        "{what} {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    )
}

fn mount(
    src: Option<&Path>,
    dst: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), String> {
    let src_c = src.map(cstr).transpose()?;
    let dst_c = cstr(dst)?;
    let fs_c = fstype
        .map(|f| CString::new(f).map_err(|e| e.to_string()))
        .transpose()?;
    let data_c = data
        .map(|d| CString::new(d).map_err(|e| e.to_string()))
        .transpose()?;
    // SAFETY: all pointers are valid C strings or null.
    let r = unsafe {
        libc::mount(
            src_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            dst_c.as_ptr(),
            fs_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            flags,
            data_c
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr().cast()),
        )
    };
    if r != 0 {
        return Err(err("mounting onto", dst));
    }
    Ok(())
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const AT_RECURSIVE: libc::c_int = 0x8000;

/// Sets attributes on a whole mount subtree (MS_REMOUNT cannot make submounts read-only).
fn setattr(p: &Path, set: u64, recursive: bool) -> Result<(), String> {
    let c = cstr(p)?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: valid path and attribute struct of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            flags as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(err("setting mount attributes of", p));
    }
    Ok(())
}

fn mkdir_p(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("creating {}: {e}", p.display()))
}

/// Creates the mount point for `src` at `dst` (a directory or an empty file).
fn mount_point_for(src: &Path, dst: &Path) -> Result<(), String> {
    if src.is_dir() {
        mkdir_p(dst)
    } else {
        if let Some(parent) = dst.parent() {
            mkdir_p(parent)?;
        }
        if !dst.exists() {
            std::fs::File::create(dst).map_err(|e| format!("creating {}: {e}", dst.display()))?;
        }
        Ok(())
    }
}

fn inside(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

fn bind(root: &Path, src: &Path, target: &Path, read_only: bool) -> Result<(), String> {
    let dst = inside(root, target);
    mount_point_for(src, &dst)?;
    mount(Some(src), &dst, None, libc::MS_BIND | libc::MS_REC, None)?;
    let mut attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if read_only {
        attrs |= MOUNT_ATTR_RDONLY;
    }
    setattr(&dst, attrs, true)
}

/// Builds the new root under `cfg.root_dir` and pivots into it.
pub fn build(cfg: &InitConfig) -> Result<(), String> {
    let root = cfg.root_dir.as_path();
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    mount(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=0755,size=16m"),
    )?;

    for d in SYSTEM_DIRS {
        let p = Path::new(d);
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(p).map_err(|e| format!("reading link {d}: {e}"))?;
            std::os::unix::fs::symlink(&target, inside(root, p))
                .map_err(|e| format!("creating link {d}: {e}"))?;
        } else if meta.is_dir() {
            bind(root, p, p, true)?;
        }
    }

    // The private /tmp comes first so that shared paths under /tmp land on top of it.
    let tmp = root.join("tmp");
    mkdir_p(&tmp)?;
    let tmp_opts = format!("mode=1777,size={}", cfg.limits.tmp_bytes.max(1 << 20));
    mount(
        Some(Path::new("tmpfs")),
        &tmp,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&tmp_opts),
    )?;

    // Parents before children, so that a read-only path inside a read-write one (or the
    // reverse) ends up on top.
    // (host, inside, read-only)
    let mut binds: Vec<(&Path, &Path, bool)> = cfg
        .read_only
        .iter()
        .map(|p| (p.as_path(), p.as_path(), true))
        .chain(
            cfg.read_write
                .iter()
                .map(|p| (p.as_path(), p.as_path(), false)),
        )
        .chain(
            cfg.mounts
                .iter()
                .map(|m| (m.host.as_path(), m.inside.as_path(), !m.writable)),
        )
        .collect();
    binds.sort_by_key(|(_, t, _)| t.components().count());
    for (src, target, ro) in &binds {
        bind(root, src, target, *ro)?;
    }
    for h in &cfg.hidden {
        let covered = binds.iter().any(|(p, _, _)| h.starts_with(p))
            || SYSTEM_DIRS.iter().any(|d| h.starts_with(d));
        if !covered {
            continue; // not mounted at all, so it does not exist inside
        }
        let dst = inside(root, h);
        if h.is_dir() {
            mount(
                Some(Path::new("tmpfs")),
                &dst,
                Some("tmpfs"),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY,
                Some("mode=000,size=4k"),
            )?;
        } else {
            let empty = root.join(".hidden-file");
            if !empty.exists() {
                std::fs::File::create(&empty)
                    .map_err(|e| format!("creating {}: {e}", empty.display()))?;
                std::fs::set_permissions(
                    &empty,
                    std::os::unix::fs::PermissionsExt::from_mode(0o000),
                )
                .map_err(|e| format!("chmod {}: {e}", empty.display()))?;
            }
            mount(Some(&empty), &dst, None, libc::MS_BIND, None)?;
            setattr(
                &dst,
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                false,
            )?;
        }
    }

    build_dev(root, &cfg.gpus)?;

    let proc_dir = root.join("proc");
    mkdir_p(&proc_dir)?;
    mount(
        Some(Path::new("proc")),
        &proc_dir,
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )?;

    pivot(root)?;
    setattr(
        Path::new("/"),
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        false,
    )
}

fn build_dev(root: &Path, gpus: &[u32]) -> Result<(), String> {
    let dev = root.join("dev");
    mkdir_p(&dev)?;
    mount(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )?;
    let mut nodes: Vec<String> = ["null", "zero", "full", "random", "urandom", "tty"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if !gpus.is_empty() {
        for g in gpus {
            nodes.push(format!("nvidia{g}"));
        }
        for extra in [
            "nvidiactl",
            "nvidia-uvm",
            "nvidia-uvm-tools",
            "nvidia-modeset",
        ] {
            nodes.push(extra.to_string());
        }
    }
    for n in &nodes {
        let host = Path::new("/dev").join(n);
        if !host.exists() {
            continue;
        }
        let dst = dev.join(n);
        std::fs::File::create(&dst).map_err(|e| format!("creating {}: {e}", dst.display()))?;
        mount(Some(&host), &dst, None, libc::MS_BIND, None)?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(name))
            .map_err(|e| format!("creating /dev/{name}: {e}"))?;
    }
    let shm = dev.join("shm");
    mkdir_p(&shm)?;
    mount(
        Some(Path::new("tmpfs")),
        &shm,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=1777,size=256m"),
    )?;
    Ok(())
}

fn pivot(root: &Path) -> Result<(), String> {
    std::env::set_current_dir(root).map_err(|e| format!("entering {}: {e}", root.display()))?;
    let dot = c".";
    // SAFETY: valid C strings; pivot_root(".", ".") stacks the old root on the new one.
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    if r != 0 {
        return Err(err("pivot_root into", root));
    }
    // SAFETY: valid C string.
    if unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(err("detaching the old root from", root));
    }
    std::env::set_current_dir("/").map_err(|e| format!("entering /: {e}"))
}

/// Brings the loopback interface up (network policy `loopback`).
pub fn loopback_up() -> Result<(), String> {
    // SAFETY: socket/ioctl/close on a fresh descriptor with a properly sized ifreq.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return Err(format!(
                "socket for loopback: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let r = libc::ioctl(s, libc::SIOCSIFFLAGS, &req);
        let e = std::io::Error::last_os_error();
        libc::close(s);
        if r != 0 {
            return Err(format!("bringing loopback up: {e}"));
        }
    }
    Ok(())
}

/// Sets the hostname of the new UTS namespace.
pub fn set_hostname() {
    let name = b"sandbox";
    // SAFETY: valid buffer and length.
    unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
}
