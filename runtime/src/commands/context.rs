//! What a command may touch ([`CommandContext`]) and how agent-typed paths are resolved and
//! confined to the workspace.
//!
//! The editor commands run in the runtime process, outside the sandbox, so every path is
//! checked twice: lexically (after joining with the shell's current directory and removing
//! `.`/`..`), and again after resolving symlinks. Anything that ends up outside the
//! workspace is refused, whether or not it exists. Files are additionally re-checked after
//! opening (see `text::open_confined`).

use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::python_check::PythonChecker;

fn nothing(_: &Path) -> bool {
    false
}

/// Everything an editor command needs from the runtime.
pub struct CommandContext<'a> {
    /// The shell's current directory (absolute); relative paths are resolved against it.
    pub cwd: &'a Path,
    /// The workspace root; no command reads or writes outside it.
    pub workspace: &'a Path,
    /// Whether a path (canonical, absolute) must not be modified by `edit`, `insert` or
    /// `create`. Filesystem permissions are respected in addition.
    pub is_read_only: &'a dyn Fn(&Path) -> bool,
    /// Whether a path (canonical, absolute) is hidden from the agent: commands treat it as
    /// absent and searches skip it. Called for every directory on the way down as well.
    pub is_hidden: &'a dyn Fn(&Path) -> bool,
    /// Checks Python files before and after an edit.
    pub python: &'a dyn PythonChecker,
    /// How long one `search_dir`/`search_file`/`find_file` may run before it stops with
    /// partial results.
    pub search_time_limit: Duration,
    /// Canonical directories outside the workspace whose files may be read (not written)
    /// through a link in the workspace, e.g. the task's public data behind `data/`.
    pub readable_roots: &'a [PathBuf],
}

impl<'a> CommandContext<'a> {
    /// A context with nothing read-only or hidden and a 25-second search limit (MLGym's
    /// short command timeout).
    pub fn new(cwd: &'a Path, workspace: &'a Path, python: &'a dyn PythonChecker) -> Self {
        CommandContext {
            cwd,
            workspace,
            is_read_only: &nothing,
            is_hidden: &nothing,
            python,
            search_time_limit: Duration::from_secs(25),
            readable_roots: &[],
        }
    }

    /// Sets the directories readable through links (see [`CommandContext::readable_roots`]).
    pub fn with_readable_roots(mut self, roots: &'a [PathBuf]) -> Self {
        self.readable_roots = roots;
        self
    }

    /// Sets the read-only predicate.
    pub fn with_read_only(mut self, is_read_only: &'a dyn Fn(&Path) -> bool) -> Self {
        self.is_read_only = is_read_only;
        self
    }

    /// Sets the hidden-path predicate.
    pub fn with_hidden(mut self, is_hidden: &'a dyn Fn(&Path) -> bool) -> Self {
        self.is_hidden = is_hidden;
        self
    }

    /// Sets the search time limit.
    pub fn with_search_time_limit(mut self, limit: Duration) -> Self {
        self.search_time_limit = limit;
        self
    }
}

/// Why a path cannot be used.
#[derive(Debug)]
pub(crate) enum PathProblem {
    /// Nothing there (or hidden from the agent).
    NotFound,
    /// The path, or what it points to, is outside the workspace.
    Outside,
    /// Another I/O error.
    Io(io::Error),
}

/// Paths resolved for one command: the canonical workspace and the context.
pub(crate) struct Resolver<'c, 'a> {
    pub ctx: &'c CommandContext<'a>,
    /// The workspace, symlinks resolved.
    pub root: PathBuf,
}

impl<'c, 'a> Resolver<'c, 'a> {
    pub fn new(ctx: &'c CommandContext<'a>) -> io::Result<Self> {
        let root = ctx.workspace.canonicalize()?;
        Ok(Resolver { ctx, root })
    }

    /// The agent's path joined with the current directory, `.` and `..` removed lexically.
    pub fn lexical(&self, arg: &str) -> PathBuf {
        normalize(&self.ctx.cwd.join(arg))
    }

    fn lexically_inside(&self, path: &Path) -> bool {
        path.starts_with(&self.root) || path.starts_with(normalize(self.ctx.workspace))
    }

    /// Whether a canonical path is inside the workspace (or a readable root) and not hidden.
    pub fn visible(&self, canonical: &Path) -> bool {
        if let Some(extra) = self
            .ctx
            .readable_roots
            .iter()
            .find(|r| canonical.starts_with(r))
        {
            return !(self.ctx.is_hidden)(canonical) && !(self.ctx.is_hidden)(extra);
        }
        if !canonical.starts_with(&self.root) {
            return false;
        }
        let mut current = self.root.clone();
        if (self.ctx.is_hidden)(&current) {
            return false;
        }
        if let Ok(rest) = canonical.strip_prefix(&self.root) {
            for part in rest.components() {
                current.push(part);
                if (self.ctx.is_hidden)(&current) {
                    return false;
                }
            }
        }
        true
    }

    /// Resolves an existing path (file or directory) inside the workspace.
    pub fn existing(&self, arg: &str) -> Result<PathBuf, PathProblem> {
        let lexical = self.lexical(arg);
        if !self.lexically_inside(&lexical) {
            return Err(PathProblem::Outside);
        }
        let canonical = match lexical.canonicalize() {
            Ok(p) => p,
            Err(e) if is_missing(&e) => return Err(PathProblem::NotFound),
            Err(e) => return Err(PathProblem::Io(e)),
        };
        self.confine(canonical)
    }

    /// Checks an already canonical path again (e.g. the open file, which may have been
    /// replaced by a symlink since it was opened).
    pub fn recheck(&self, stored: &Path) -> Result<PathBuf, PathProblem> {
        match stored.canonicalize() {
            Ok(p) => self.confine(p),
            Err(e) if is_missing(&e) => Err(PathProblem::NotFound),
            Err(e) => Err(PathProblem::Io(e)),
        }
    }

    fn confine(&self, canonical: PathBuf) -> Result<PathBuf, PathProblem> {
        if !canonical.starts_with(&self.root)
            && !self
                .ctx
                .readable_roots
                .iter()
                .any(|r| canonical.starts_with(r))
        {
            return Err(PathProblem::Outside);
        }
        if !self.visible(&canonical) {
            return Err(PathProblem::NotFound);
        }
        Ok(canonical)
    }

    /// Resolves a path that may not exist yet: its directory must exist inside the
    /// workspace. Returns the canonical directory joined with the file name.
    pub fn new_file(&self, arg: &str) -> Result<PathBuf, PathProblem> {
        let lexical = self.lexical(arg);
        if !self.lexically_inside(&lexical) {
            return Err(PathProblem::Outside);
        }
        let (Some(parent), Some(name)) = (lexical.parent(), lexical.file_name()) else {
            return Err(PathProblem::Outside);
        };
        let dir = match parent.canonicalize() {
            Ok(p) => p,
            Err(e) if is_missing(&e) => return Err(PathProblem::NotFound),
            Err(e) => return Err(PathProblem::Io(e)),
        };
        let dir = self.confine(dir)?;
        if !dir.starts_with(&self.root) {
            // Readable roots are never written to.
            return Err(PathProblem::Outside);
        }
        let path = dir.join(name);
        if !self.visible(&path) {
            return Err(PathProblem::NotFound);
        }
        Ok(path)
    }

    /// The message for a path problem, naming what the agent typed.
    pub fn describe(&self, arg: &str, problem: &PathProblem) -> String {
        match problem {
            PathProblem::NotFound => format!("File {arg} not found"),
            PathProblem::Outside => format!(
                "Error: {arg} is outside the workspace {}. The editor and search commands only work on files inside the workspace.",
                self.root.display()
            ),
            PathProblem::Io(e) => format!("Error: cannot access {arg}: {e}"),
        }
    }
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Removes `.` and `..` components without touching the filesystem.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/a/../../x")), PathBuf::from("/x"));
    }
}
