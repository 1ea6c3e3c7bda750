//! The last steps before `execve` of the sandboxed command, in the forked child of the
//! helper: rlimits, capabilities, `no_new_privs`, landlock, seccomp.

use std::path::{Path, PathBuf};

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use crate::spec::{Mode, NetPolicy, SYSTEM_DIRS};
use crate::wire::InitConfig;

fn setrlimit(res: libc::__rlimit_resource_t, soft: u64, hard: u64) -> Result<(), String> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: valid rlimit struct.
    if unsafe { libc::setrlimit(res, &lim) } != 0 {
        return Err(format!(
            "setrlimit({res}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Applies the resource limits of `cfg`.
pub fn rlimits(cfg: &InitConfig) -> Result<(), String> {
    let l = &cfg.limits;
    setrlimit(libc::RLIMIT_CORE, 0, 0)?;
    if let Some(m) = l.memory_bytes {
        // An address-space limit breaks CUDA (it reserves huge ranges), so GPU runs rely
        // on the memory cgroup alone.
        if !cfg.memory_by_cgroup && cfg.gpus.is_empty() {
            setrlimit(libc::RLIMIT_AS, m, m)?;
        }
    }
    if let Some(c) = l.cpu_seconds {
        // Soft limit: SIGXCPU (reported as the CPU limit); hard limit one second later.
        setrlimit(libc::RLIMIT_CPU, c, c + 1)?;
    }
    if let Some(p) = cfg.nproc {
        setrlimit(libc::RLIMIT_NPROC, p, p)?;
    }
    if let Some(f) = l.file_size_bytes {
        setrlimit(libc::RLIMIT_FSIZE, f, f)?;
    }
    if let Some(n) = l.open_files {
        setrlimit(libc::RLIMIT_NOFILE, n, n)?;
    }
    Ok(())
}

/// Drops every capability for good: the bounding set (so that exec as uid 0 grants
/// nothing) and the ambient set. Fails silently where we hold no capabilities anyway.
pub fn drop_capabilities() {
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
    }
    // SAFETY: as above.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
}

/// Sets `no_new_privs` (setuid binaries then give nothing; required for seccomp).
pub fn no_new_privs() -> Result<(), String> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Replaces each path that contains a hidden path by its entries (recursively), so that
/// landlock's "everything beneath" rules never cover a hidden path. A directory split
/// this way can no longer be listed, and new entries cannot be created directly in it.
fn split_around_hidden(paths: Vec<PathBuf>, hidden: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        split_one(&p, hidden, &mut out);
    }
    out
}

fn split_one(p: &Path, hidden: &[PathBuf], out: &mut Vec<PathBuf>) {
    if hidden.iter().any(|h| h == p) {
        return;
    }
    if !hidden.iter().any(|h| h.starts_with(p)) || !p.is_dir() {
        out.push(p.to_path_buf());
        return;
    }
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            split_one(&e.path(), hidden, out);
        }
    }
}

fn existing(paths: impl IntoIterator<Item = PathBuf>) -> Vec<PathBuf> {
    paths.into_iter().filter(|p| p.exists()).collect()
}

/// Applies the landlock ruleset; returns a short description of what is enforced.
pub fn landlock(cfg: &InitConfig) -> Result<String, String> {
    // The highest ABI this crate knows; the kernel's (lower) one is used in best effort.
    let abi = ABI::V10;
    let e = |e: landlock::RulesetError| format!("landlock: {e}");
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(e)?;
    if cfg.net == NetPolicy::None {
        ruleset = ruleset.handle_access(AccessNet::from_all(abi)).map_err(e)?;
    }
    ruleset = ruleset.scope(Scope::from_all(abi)).map_err(e)?;
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let dev_rw = AccessFs::from_read(abi) | AccessFs::WriteFile;
    let mut read_paths: Vec<PathBuf> = existing(SYSTEM_DIRS.iter().map(PathBuf::from));
    read_paths.extend(cfg.read_only.iter().cloned());
    let mut rw_paths: Vec<PathBuf> = cfg.read_write.clone();
    for m in &cfg.mounts {
        if m.writable {
            rw_paths.push(m.inside.clone());
        } else {
            read_paths.push(m.inside.clone());
        }
    }
    let mut dev_paths: Vec<PathBuf> = existing(
        ["null", "zero", "full", "random", "urandom"]
            .iter()
            .map(|n| Path::new("/dev").join(n)),
    );
    match cfg.mode {
        Mode::Full => {
            rw_paths.push("/tmp".into());
            rw_paths.push("/dev/shm".into());
            if cfg.gpus.is_empty() {
                read_paths.push("/proc".into());
            }
        }
        Mode::Landlock | Mode::None => {
            rw_paths.extend(cfg.private_tmp.iter().cloned());
        }
    }
    let mut gpu_paths = Vec::new();
    if !cfg.gpus.is_empty() {
        for g in &cfg.gpus {
            gpu_paths.push(PathBuf::from(format!("/dev/nvidia{g}")));
        }
        for n in [
            "nvidiactl",
            "nvidia-uvm",
            "nvidia-uvm-tools",
            "nvidia-modeset",
        ] {
            gpu_paths.push(Path::new("/dev").join(n));
        }
        gpu_paths = existing(gpu_paths);
        // CUDA initialisation writes thread names to /proc/self/task/*/comm.
        if cfg.mode == Mode::Full {
            dev_paths.push("/proc".into());
        }
    }
    dev_paths.retain(|p| p.exists());
    let read_paths = split_around_hidden(read_paths, &cfg.hidden);
    let rw_paths = split_around_hidden(rw_paths, &cfg.hidden);
    let created = ruleset
        .create()
        .map_err(e)?
        .add_rules(path_beneath_rules(&read_paths, read))
        .map_err(e)?
        .add_rules(path_beneath_rules(&rw_paths, all))
        .map_err(e)?
        .add_rules(path_beneath_rules(&dev_paths, dev_rw))
        .map_err(e)?
        .add_rules(path_beneath_rules(&gpu_paths, dev_rw | AccessFs::IoctlDev))
        .map_err(e)?;
    let status = created.restrict_self().map_err(e)?;
    let abi_note = match status.landlock {
        landlock::LandlockStatus::Available { effective_abi, .. } => {
            format!("ABI {}", effective_abi as u32)
        }
        other => format!("{other:?}"),
    };
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => format!("fully enforced ({abi_note})"),
        RulesetStatus::PartiallyEnforced => format!("enforced ({abi_note})"),
        RulesetStatus::NotEnforced => "not enforced (kernel without landlock)".to_string(),
    })
}

/// Finds `name` on `PATH` (as `execvp` would), inside the sandbox's view.
pub fn resolve_command(name: &str, env: &[(String, String)]) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/local/bin:/usr/bin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(name);
        let Ok(c) = std::ffi::CString::new(cand.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: access() with a valid C string.
        if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 && cand.is_file() {
            return Some(cand);
        }
    }
    None
}
