//! The Rust toolchain inside the agent's sandbox, for tasks whose starter holds a crate
//! (a `<dir>/Cargo.toml` starter file: `rl-ppo`'s `ppo/`, `lm-gpt`'s `gpt/`).
//!
//! The sandbox's unprivileged user usually cannot enter the host's toolchain (rustup
//! keeps it under `/root` or a home directory), and a crate with dependencies needs the
//! registry. So the first episode of such a task stages, under
//! `<data root>/rust/<key>/`, `sysroot/` (the host's `rustc --print sysroot`) and
//! `cargo-home/registry/` (the host's registry: index, archives, unpacked sources), both
//! made of hard links where possible, then builds every starter crate of the task there in
//! release mode (`crates/<dir>/target`). Each workspace gets a copy of that target
//! directory, so the agent's first `cargo build --release` recompiles the starter crate
//! alone. The key hashes `rustc -vV` and the crates' files: a new toolchain or starter
//! stages afresh.
//!
//! Inside, the staged folder is read-only at the same path (so the registry paths in the
//! pre-built target stay valid), `sysroot/bin` is on `PATH`, `CARGO_HOME` is the staged
//! one (cargo needs no write there for an offline build) and `CARGO_NET_OFFLINE=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

use mlgym_sandbox::SandboxSpec;
use mlgym_tasks::registry::Task;
use sha2::{Digest, Sha256};

/// Environment variable that turns the sandbox's toolchain off (`off`): no staging, no
/// `cargo` inside.
pub const OFF_ENV: &str = "MLGYM_SANDBOX_RUST";

/// Why the toolchain could not be staged for the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    /// A file-system operation failed.
    #[error("staging the Rust toolchain for the sandbox: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// Pre-building a starter crate failed.
    #[error("pre-building the starter crate {dir} for the sandbox failed (is every crate it needs in {registry}? build it once with network, or fix the crate):\n{stderr}")]
    Build {
        /// The crate's folder.
        dir: String,
        /// The registry used.
        registry: String,
        /// cargo's error output (its end).
        stderr: String,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ToolchainError {
    let context = context.into();
    move |source| ToolchainError::Io { context, source }
}

/// A staged toolchain and the pre-built targets of a task's starter crates.
#[derive(Clone, Debug)]
pub struct Toolchain {
    root: PathBuf,
    crates: Vec<PathBuf>,
}

/// The starter crates of `task`: folders (relative to the workspace) holding a
/// `Cargo.toml` starter file.
pub fn starter_crates(task: &Task) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = task
        .starter
        .iter()
        .filter(|f| f.path.file_name().is_some_and(|n| n == "Cargo.toml"))
        .filter_map(|f| f.path.parent().map(Path::to_path_buf))
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The host's toolchain: `(rustc -vV, sysroot, cargo home)`, or `None` without `rustc`.
fn host_toolchain() -> Option<(String, PathBuf, PathBuf)> {
    let out = |args: &[&str]| {
        Command::new("rustc")
            .args(args)
            .env_remove("RUSTFLAGS")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let version = out(&["-vV"])?;
    let sysroot = PathBuf::from(out(&["--print", "sysroot"])?);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    Some((version, sysroot, cargo_home))
}

/// Why [`stage`] staged nothing (the agent then has no `cargo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// The task's starter holds no Rust crate.
    NoCrate,
    /// [`OFF_ENV`] is `off`.
    TurnedOff,
    /// The host has no usable `rustc` (or no cargo home) on `PATH`.
    NoRustc,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skipped::NoCrate => write!(f, "the task's starter holds no Rust crate"),
            Skipped::TurnedOff => write!(
                f,
                "{OFF_ENV}=off: episodes give the agent no cargo; unset it to stage the toolchain"
            ),
            Skipped::NoRustc => write!(
                f,
                "no `rustc` on PATH (or no cargo home): episodes give the agent no cargo; install Rust on the host"
            ),
        }
    }
}

/// [`stage`], when only the staged toolchain matters (`None`: nothing was staged).
pub fn prepare(
    data_root: &Path,
    task: &Task,
    note: &dyn Fn(&str),
) -> Result<Option<Toolchain>, ToolchainError> {
    Ok(stage(data_root, task, note)?.ok())
}

/// Stages (once) the toolchain and the pre-built targets of `task`'s starter crates under
/// `data_root`, or says why it staged nothing. `note` receives cargo's progress lines
/// during a first build.
pub fn stage(
    data_root: &Path,
    task: &Task,
    note: &dyn Fn(&str),
) -> Result<Result<Toolchain, Skipped>, ToolchainError> {
    let crates = starter_crates(task);
    if crates.is_empty() {
        return Ok(Err(Skipped::NoCrate));
    }
    if std::env::var(OFF_ENV).is_ok_and(|v| v == "off") {
        return Ok(Err(Skipped::TurnedOff));
    }
    let Some((version, sysroot, cargo_home)) = host_toolchain() else {
        return Ok(Err(Skipped::NoRustc));
    };
    let mut h = Sha256::new();
    h.update(version.as_bytes());
    for f in &task.starter {
        if crates.iter().any(|c| f.path.starts_with(c)) {
            h.update(f.path.to_string_lossy().as_bytes());
            h.update((f.bytes.len() as u64).to_le_bytes());
            h.update(f.bytes);
        }
    }
    let key: String = h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let base = data_root.join("rust");
    std::fs::create_dir_all(&base).map_err(io(format!("creating {}", base.display())))?;
    set_mode(&base, 0o755)?;
    let root = base.join(&key);
    let tc = Toolchain { root, crates };
    let ready = tc.root.join("ready");
    if ready.exists() {
        return Ok(Ok(tc));
    }
    // One stager at a time (parallel episodes of a sweep); the lock dies with us.
    let lock_path = base.join(".lock");
    let lock = std::fs::File::create(&lock_path)
        .map_err(io(format!("creating {}", lock_path.display())))?;
    // SAFETY: flock on a descriptor we own; released when `lock` is closed.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        return Err(io(format!("locking {}", lock_path.display()))(
            std::io::Error::last_os_error(),
        ));
    }
    if ready.exists() {
        return Ok(Ok(tc));
    }
    note(&format!(
        "staging the Rust toolchain for the sandbox in {} and pre-building the starter crate(s) of {} (once; minutes)",
        tc.root.display(),
        task.def.id
    ));
    if tc.root.exists() {
        std::fs::remove_dir_all(&tc.root)
            .map_err(io(format!("removing the incomplete {}", tc.root.display())))?;
    }
    clone_tree(&sysroot, &tc.sysroot(), true)?;
    clone_tree(
        &cargo_home.join("registry"),
        &tc.cargo_home().join("registry"),
        true,
    )?;
    for dir in &tc.crates {
        let dst = tc.root.join("crates").join(dir);
        for f in task.starter.iter().filter(|f| f.path.starts_with(dir)) {
            let p = tc.root.join("crates").join(&f.path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(io(format!("creating {}", parent.display())))?;
            }
            std::fs::write(&p, f.bytes).map_err(io(format!("writing {}", p.display())))?;
        }
        tc.build(&dst, note)?;
    }
    open_up(&tc.root)?;
    std::fs::write(&ready, version).map_err(io(format!("writing {}", ready.display())))?;
    Ok(Ok(tc))
}

impl Toolchain {
    /// The staging folder (`<data root>/rust/<key>`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The starter crates (folders relative to the workspace) pre-built here.
    pub fn crates(&self) -> &[PathBuf] {
        &self.crates
    }

    /// The staged sysroot (`bin/cargo`, `bin/rustc`, `lib/`).
    pub fn sysroot(&self) -> PathBuf {
        self.root.join("sysroot")
    }

    /// The staged `CARGO_HOME` (holding `registry/`).
    pub fn cargo_home(&self) -> PathBuf {
        self.root.join("cargo-home")
    }

    /// The pre-built target directory of starter crate `dir`.
    pub fn target_of(&self, dir: &Path) -> PathBuf {
        self.root.join("crates").join(dir).join("target")
    }

    /// The environment cargo runs with, inside and for the pre-build.
    fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "CARGO_HOME".into(),
                self.cargo_home().to_string_lossy().into_owned(),
            ),
            ("CARGO_NET_OFFLINE".into(), "true".into()),
        ]
    }

    /// Builds the crate in `dir`, passing cargo's progress lines (`Compiling …`) to
    /// `note`: the first build takes minutes and must not look hung.
    fn build(&self, dir: &Path, note: &dyn Fn(&str)) -> Result<(), ToolchainError> {
        use std::io::BufRead;
        let path = format!("{}:/usr/bin:/bin", self.sysroot().join("bin").display());
        let mut child = Command::new(self.sysroot().join("bin/cargo"))
            .args(["build", "--release", "--offline", "--color", "never"])
            .current_dir(dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.root)
            .envs(self.env())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(io(format!("running cargo in {}", dir.display())))?;
        let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        if let Some(err) = child.stderr.take() {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                if line.trim_start().starts_with("Compiling") {
                    note(&format!("  pre-build: {}", line.trim()));
                }
                if tail.len() == 30 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
        let status = child
            .wait()
            .map_err(io(format!("waiting for cargo in {}", dir.display())))?;
        if status.success() {
            return Ok(());
        }
        Err(ToolchainError::Build {
            dir: dir.display().to_string(),
            registry: self.cargo_home().join("registry").display().to_string(),
            stderr: Vec::from(tail).join("\n"),
        })
    }

    /// Shares the toolchain read-only with the sandbox of `spec` and sets cargo's
    /// environment; returns the directory to put on `PATH`.
    pub fn share(&self, spec: &mut SandboxSpec) -> PathBuf {
        spec.read_only.push(self.root.clone());
        spec.env.extend(self.env());
        self.sysroot().join("bin")
    }

    /// Copies the pre-built target directory of every starter crate into the workspace
    /// at `host` (where the crate's `target/` is absent), so the agent's first build is
    /// incremental.
    pub fn warm_targets(&self, host: &Path) -> Result<(), ToolchainError> {
        for dir in &self.crates {
            let src = self.target_of(dir);
            let dst = host.join(dir).join("target");
            if src.is_dir() && std::fs::symlink_metadata(&dst).is_err() {
                clone_tree(&src, &dst, false)?;
            }
        }
        Ok(())
    }
}

fn set_mode(p: &Path, mode: u32) -> Result<(), ToolchainError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("setting permissions of {}", p.display())))
}

/// Recreates the tree `src` at `dst`: directories anew, symbolic links as links, files as
/// hard links when `link` and others may read them (so the sandbox's user can read every
/// file without the host's changing), copies otherwise (or across file systems).
fn clone_tree(src: &Path, dst: &Path, link: bool) -> Result<(), ToolchainError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dst).map_err(io(format!("creating {}", dst.display())))?;
    let rd = std::fs::read_dir(src).map_err(io(format!("reading {}", src.display())))?;
    for e in rd {
        let e = e.map_err(io(format!("reading {}", src.display())))?;
        let (from, to) = (e.path(), dst.join(e.file_name()));
        let meta =
            std::fs::symlink_metadata(&from).map_err(io(format!("reading {}", from.display())))?;
        if meta.file_type().is_symlink() {
            let target =
                std::fs::read_link(&from).map_err(io(format!("reading {}", from.display())))?;
            std::os::unix::fs::symlink(target, &to)
                .map_err(io(format!("linking {}", to.display())))?;
        } else if meta.is_dir() {
            clone_tree(&from, &to, link)?;
        } else if !(link
            && open_to_others(meta.permissions().mode())
            && std::fs::hard_link(&from, &to).is_ok())
        {
            copy_with_times(&from, &to, &meta)?;
        }
    }
    Ok(())
}

/// Copies a file and its modification time: cargo judges freshness by comparing the
/// times of outputs and their dependencies, and copies stamped in copy order would make
/// it rebuild half the pre-built target.
fn copy_with_times(from: &Path, to: &Path, meta: &std::fs::Metadata) -> Result<(), ToolchainError> {
    std::fs::copy(from, to).map_err(io(format!("copying {}", from.display())))?;
    let mut times = std::fs::FileTimes::new();
    if let Ok(m) = meta.modified() {
        times = times.set_modified(m);
    }
    if let Ok(a) = meta.accessed() {
        times = times.set_accessed(a);
    }
    std::fs::File::options()
        .write(true)
        .open(to)
        .and_then(|f| f.set_times(times))
        .map_err(io(format!("setting the times of {}", to.display())))
}

/// Whether others may read a file of this mode (and run it when its owner may).
fn open_to_others(mode: u32) -> bool {
    mode & 0o004 != 0 && (mode & 0o100 == 0 || mode & 0o001 != 0)
}

/// Makes everything under `root` readable (and directories enterable) by others: the
/// sandbox's user reads the staged copies and pre-built targets. Hard-linked files are
/// already readable by others (only those are linked), so the host's files are untouched.
fn open_up(root: &Path) -> Result<(), ToolchainError> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::symlink_metadata(root).map_err(io(format!("reading {}", root.display())))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o7777;
    if meta.is_dir() {
        if mode & 0o005 != 0o005 {
            set_mode(root, mode | 0o755)?;
        }
        let rd = std::fs::read_dir(root).map_err(io(format!("reading {}", root.display())))?;
        for e in rd {
            let e = e.map_err(io(format!("reading {}", root.display())))?;
            open_up(&e.path())?;
        }
    } else {
        // Hard links are open already (see `clone_tree`): only copies change here.
        if !open_to_others(mode) {
            set_mode(
                root,
                mode | 0o004 | if mode & 0o100 != 0 { 0o001 } else { 0 },
            )?;
        }
    }
    Ok(())
}
