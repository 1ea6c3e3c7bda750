//! The agent's workspace: a fresh directory per run holding the task's starter files,
//! with the task's public data reachable as `data/`, and the sandbox spec of the
//! episode's shell.
//!
//! In mode `full` the workspace appears inside the sandbox as `/home/agent/workspace`
//! (MLGym's path, so its trajectories replay unchanged) and read-only starter files are
//! read-only mounts. In mode `landlock` paths cannot be renamed, so the workspace keeps
//! its host path, and read-only starter files are protected by file permissions only.

use std::path::{Path, PathBuf};

use mlgym_sandbox::{Limits, Mode, Mount, NetPolicy, OutputPolicy, SandboxSpec};
use mlgym_tasks::python::PythonEnv;
use mlgym_tasks::Task;

/// MLGym's workspace path inside its container.
pub const INSIDE_WORKSPACE: &str = "/home/agent/workspace";
/// Where the task's public data appears in mode `full` (`workspace/data` links to it).
pub const INSIDE_DATA: &str = "/home/agent/data";
/// Where the `python` link directory appears in mode `full`.
pub const INSIDE_BIN: &str = "/opt/mlgym/bin";

/// Problems preparing a workspace.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// File-system failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The task's data is not staged.
    #[error("task {task} needs data that is not staged: {how}")]
    DataMissing {
        /// Task id.
        task: String,
        /// The command to stage it.
        how: String,
    },
    /// The leased GPUs cannot be handed to the sandbox.
    #[error("giving the leased GPUs to the sandbox: {0}")]
    Gpu(#[from] mlgym_kernels::gpu::GpuError),
}

/// Gives the episode's sandbox exactly the leased `gpus`: their device nodes, and
/// `CUDA_VISIBLE_DEVICES` set to their UUIDs (which name the same devices whatever subset
/// the driver enumerates inside, where only these nodes exist).
pub fn give_gpus(
    spec: &mut SandboxSpec,
    gpus: &[mlgym_kernels::gpu::GpuDevice],
) -> Result<(), WorkspaceError> {
    if gpus.is_empty() {
        return Ok(());
    }
    let view = mlgym_kernels::gpu::sandbox_view(gpus)?;
    spec.gpus = view.minors;
    spec.env
        .push(("CUDA_VISIBLE_DEVICES".into(), view.cuda_visible_devices));
    Ok(())
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> WorkspaceError {
    let context = context.into();
    move |source| WorkspaceError::Io { context, source }
}

/// An episode's workspace.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// Where it is on the host.
    pub host: PathBuf,
    /// Where the agent sees it.
    pub inside: PathBuf,
    /// The task's public data directory on the host (target of `data/`), if any.
    pub data: Option<PathBuf>,
    /// Read-only starter files (host paths).
    pub read_only: Vec<PathBuf>,
    /// A directory with `python` → the configured interpreter, first on the shell's PATH
    /// (Debian has no `python` command; agents expect one).
    pub bin: PathBuf,
}

/// When we run as root the sandbox runs as an unprivileged uid, which must be able to
/// walk down to the data: every directory above it needs the "others may enter" bit.
pub(crate) fn reachable_by_sandbox(p: &Path) -> Result<(), WorkspaceError> {
    use std::os::unix::fs::PermissionsExt;
    if !mlgym_sandbox::host_support().caller_is_root {
        return Ok(());
    }
    for dir in p.ancestors() {
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        if meta.permissions().mode() & 0o001 == 0 {
            return Err(WorkspaceError::Io {
                context: format!(
                    "the task data {} cannot be reached by the sandbox's unprivileged user because {} is not enterable by others; run `chmod o+x {}` or stage the data under a directory such as /var/lib/mlgym (MLGYM_DATA)",
                    p.display(),
                    dir.display(),
                    dir.display()
                ),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            });
        }
    }
    Ok(())
}

fn set_mode(p: &Path, mode: u32) -> Result<(), WorkspaceError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("setting permissions of {}", p.display())))
}

impl Workspace {
    /// Creates `<run_dir>/workspace` with the task's starter files (or reopens it when
    /// it exists, for `--resume`).
    pub fn prepare(
        run_dir: &Path,
        task: &Task,
        data_root: &Path,
        mode: Mode,
        python: &PythonEnv,
    ) -> Result<Workspace, WorkspaceError> {
        let bin = run_dir.join("bin");
        std::fs::create_dir_all(&bin).map_err(io(format!("creating {}", bin.display())))?;
        set_mode(&bin, 0o755)?;
        let link = bin.join("python");
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(&python.executable, &link)
                .map_err(io(format!("linking {}", link.display())))?;
        }
        let bin =
            std::fs::canonicalize(&bin).map_err(io(format!("resolving {}", bin.display())))?;
        let host = run_dir.join("workspace");
        let fresh = !host.exists();
        std::fs::create_dir_all(&host).map_err(io(format!("creating {}", host.display())))?;
        let host =
            std::fs::canonicalize(&host).map_err(io(format!("resolving {}", host.display())))?;
        set_mode(&host, 0o755)?;
        let mut read_only = Vec::new();
        for f in &task.starter {
            let dst = host.join(&f.path);
            if f.read_only {
                read_only.push(dst.clone());
            }
            if !fresh {
                continue;
            }
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(io(format!("creating {}", parent.display())))?;
                set_mode(parent, 0o755)?;
            }
            std::fs::write(&dst, f.bytes).map_err(io(format!("writing {}", dst.display())))?;
            let exec = f.bytes.starts_with(b"#!");
            set_mode(
                &dst,
                match (f.read_only, exec) {
                    (true, true) => 0o555,
                    (true, false) => 0o444,
                    (false, true) => 0o755,
                    (false, false) => 0o644,
                },
            )?;
        }
        let data = match &task.hooks.data {
            None => None,
            Some(d) => {
                if !d.ready(data_root) {
                    return Err(WorkspaceError::DataMissing {
                        task: task.def.id.clone(),
                        how: d.how_to_stage(),
                    });
                }
                let public = d
                    .public_dir(data_root)
                    .map_err(|e| WorkspaceError::DataMissing {
                        task: task.def.id.clone(),
                        how: e.to_string(),
                    })?;
                let public = std::fs::canonicalize(&public)
                    .map_err(io(format!("resolving {}", public.display())))?;
                reachable_by_sandbox(&public)?;
                // workspace/data -> ../data -> the public directory. Inside mode `full`,
                // `../data` is a read-only mount of it at /home/agent/data, so no host
                // path shows; on the host the editor follows the same links.
                let outer = run_dir.join("data");
                if std::fs::symlink_metadata(&outer).is_err() {
                    std::os::unix::fs::symlink(&public, &outer)
                        .map_err(io(format!("linking {}", outer.display())))?;
                }
                let link = host.join("data");
                if fresh && std::fs::symlink_metadata(&link).is_err() {
                    std::os::unix::fs::symlink("../data", &link)
                        .map_err(io(format!("linking {}", link.display())))?;
                }
                Some(public)
            }
        };
        let inside = if mode == Mode::Full {
            PathBuf::from(INSIDE_WORKSPACE)
        } else {
            host.clone()
        };
        Ok(Workspace {
            host,
            inside,
            data,
            read_only,
            bin,
        })
    }

    /// Maps a path as the agent sees it to the host path (identity outside the workspace).
    pub fn to_host(&self, p: &Path) -> PathBuf {
        match p.strip_prefix(&self.inside) {
            Ok(rest) => self.host.join(rest),
            Err(_) => p.to_path_buf(),
        }
    }

    /// Maps a host path to the agent's view.
    pub fn to_inside(&self, p: &Path) -> PathBuf {
        match p.strip_prefix(&self.host) {
            Ok(rest) if rest.as_os_str().is_empty() => self.inside.clone(),
            Ok(rest) => self.inside.join(rest),
            Err(_) => p.to_path_buf(),
        }
    }

    /// Rewrites host workspace paths in `text` to the agent's view.
    pub fn text_to_inside(&self, text: &str) -> String {
        if self.host == self.inside {
            return text.to_string();
        }
        text.replace(
            &*self.host.to_string_lossy(),
            &self.inside.to_string_lossy(),
        )
    }

    /// Rewrites the agent's workspace paths in `text` to host paths.
    pub fn text_to_host(&self, text: &str) -> String {
        if self.host == self.inside {
            return text.to_string();
        }
        text.replace(
            &*self.inside.to_string_lossy(),
            &self.host.to_string_lossy(),
        )
    }

    /// The sandbox spec of the episode's shell.
    pub fn session_spec(
        &self,
        task: &Task,
        python: &PythonEnv,
        mode: Mode,
        request: mlgym_sandbox::ModeRequest,
        rust: Option<&super::toolchain::Toolchain>,
    ) -> SandboxSpec {
        let mut spec = SandboxSpec::new(&self.inside);
        spec.mode = request;
        if mode == Mode::Full {
            spec.read_write.clear();
            spec.mounts.push(Mount {
                host: self.host.clone(),
                inside: self.inside.clone(),
                writable: true,
            });
            for f in &self.read_only {
                spec.mounts.push(Mount {
                    host: f.clone(),
                    inside: self.to_inside(f),
                    writable: false,
                });
            }
        }
        let bin_inside = if mode == Mode::Full {
            spec.mounts.push(Mount {
                host: self.bin.clone(),
                inside: INSIDE_BIN.into(),
                writable: false,
            });
            if let Some(d) = &self.data {
                spec.mounts.push(Mount {
                    host: d.clone(),
                    inside: INSIDE_DATA.into(),
                    writable: false,
                });
            }
            PathBuf::from(INSIDE_BIN)
        } else {
            spec.read_only.extend(self.data.iter().cloned());
            spec.read_only.push(self.bin.clone());
            self.bin.clone()
        };
        spec.read_only.extend(python.read_only.iter().cloned());
        spec.net = NetPolicy::None;
        spec.output_policy = OutputPolicy::Truncate;
        spec.limits = Limits {
            memory_bytes: Some(task.def.memory_mb << 20),
            cpu_seconds: None,
            processes: Some(1024),
            file_size_bytes: None,
            open_files: Some(4096),
            wall: None,
            output_bytes: 1 << 20,
            tmp_bytes: 2 << 30,
        };
        let tmp = if mode == Mode::Full {
            "/tmp".to_string()
        } else {
            String::new()
        };
        spec.env = vec![
            ("PYTHONUNBUFFERED".into(), "1".into()),
            ("TERM".into(), "dumb".into()),
            ("PAGER".into(), "cat".into()),
            ("GIT_PAGER".into(), "cat".into()),
            ("MPLBACKEND".into(), "Agg".into()),
        ];
        if !tmp.is_empty() {
            spec.env.push(("HOME".into(), tmp));
        }
        let mut path = format!("{}:", bin_inside.display());
        if let Some(dir) = python.executable.parent() {
            if !mlgym_sandbox::SYSTEM_DIRS
                .iter()
                .any(|d| dir.starts_with(d))
            {
                path.push_str(&format!("{}:", dir.display()));
            }
        }
        if let Some(rust) = rust {
            path.push_str(&format!("{}:", rust.share(&mut spec).display()));
        }
        path.push_str("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        spec.env.push(("PATH".into(), path));
        spec
    }
}
