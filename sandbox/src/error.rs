//! The sandbox's error type.

use std::path::PathBuf;

/// Everything that can go wrong while setting up or running a sandbox. Errors name the
/// path or setting at fault and, where possible, what to do.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A path listed in the spec does not exist or cannot be resolved.
    #[error("{what} {} does not exist or cannot be resolved: {source}", path.display())]
    PathNotFound {
        /// Which list the path came from.
        what: String,
        /// The path as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The spec is self-contradictory or a limit is impossible.
    #[error("invalid sandbox settings: {0}")]
    InvalidSpec(String),
    /// The requested mode is not available on this host.
    #[error("sandbox mode `{mode}` is not available on this host: {why}")]
    ModeUnavailable {
        /// The requested mode.
        mode: &'static str,
        /// Why, in a sentence.
        why: String,
    },
    /// No isolation is available and running unconfined was not explicitly allowed.
    #[error(
        "no sandbox is available on this host ({0}); refusing to run agent code unconfined. \
         Enable unprivileged user namespaces or landlock, or pass --unsafe-no-sandbox to \
         run without any isolation"
    )]
    NoSandbox(String),
    /// The command to run was not found inside the sandbox.
    #[error("command `{0}` was not found inside the sandbox (is it under a shared path?)")]
    CommandNotFound(String),
    /// The command is empty.
    #[error("no command given")]
    EmptyCommand,
    /// The helper binary that becomes the sandbox's pid 1 could not be found.
    #[error(
        "the sandbox helper was not found: {0}. Build it with `cargo build` (it is the \
         `mlgym-sandbox-init` binary) or set MLGYM_SANDBOX_INIT to its path"
    )]
    InitNotFound(String),
    /// Setting up the sandbox failed (inside the helper or in the parent).
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    /// A system call failed in the parent.
    #[error("{context}: {source}")]
    Os {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// A session's shell died or its protocol broke.
    #[error("sandbox session failed: {0}")]
    Session(String),
}

impl SandboxError {
    /// Wraps the last OS error with context.
    pub(crate) fn last_os(context: impl Into<String>) -> Self {
        SandboxError::Os {
            context: context.into(),
            source: std::io::Error::last_os_error(),
        }
    }

    /// Wraps an I/O error with context.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SandboxError::Os {
            context: context.into(),
            source,
        }
    }
}
