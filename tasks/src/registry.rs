//! The task registry: every task folder embedded from `tasks/defs/`, parsed, with its
//! native evaluator, baseline and data requirements attached (see [`crate::hooks`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::definition::{DefinitionError, TaskDef};
use crate::evaluator::{Baseline, EvalError, Evaluator};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_tasks.rs"));
}

/// A starter file copied into the agent's workspace.
#[derive(Clone, Debug)]
pub struct StarterFile {
    /// Path relative to the workspace.
    pub path: PathBuf,
    /// Content.
    pub bytes: &'static [u8],
    /// Read-only in the workspace.
    pub read_only: bool,
}

/// Data a task needs, and how it reaches the agent and the evaluator.
pub trait TaskData: Send + Sync {
    /// Whether the data is staged under `data_root`.
    fn ready(&self, data_root: &Path) -> bool;
    /// The directory of files the agent may read (shown as `data/` in its workspace).
    /// Never contains answers.
    fn public_dir(&self, data_root: &Path) -> Result<PathBuf, EvalError>;
    /// The command that stages the data (for error messages), e.g.
    /// `mlgym data import house-price PATH/train.csv`.
    fn how_to_stage(&self) -> String;
}

/// What a task module attaches to a definition.
pub struct Hooks {
    /// The native evaluator.
    pub evaluator: Box<dyn Evaluator>,
    /// The native baseline, if the task has one.
    pub baseline: Option<Box<dyn Baseline>>,
    /// The task's data, if it needs any.
    pub data: Option<Box<dyn TaskData>>,
}

/// A registered task.
pub struct Task {
    /// Its definition.
    pub def: TaskDef,
    /// The description shown to the agent.
    pub description: String,
    /// Files copied into the workspace.
    pub starter: Vec<StarterFile>,
    /// Evaluator, baseline and data.
    pub hooks: Hooks,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.def.id)
            .finish_non_exhaustive()
    }
}

impl Task {
    /// Whether the task's data is staged (always true for tasks without data).
    pub fn data_ready(&self, data_root: &Path) -> bool {
        self.hooks.data.as_ref().is_none_or(|d| d.ready(data_root))
    }

    /// An embedded starter file by relative path.
    pub fn starter_file(&self, path: &str) -> Option<&'static [u8]> {
        self.starter
            .iter()
            .find(|f| f.path == Path::new(path))
            .map(|f| f.bytes)
    }
}

/// Registry problems.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// An embedded definition is malformed.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// No task has this id.
    #[error("no task `{id}`; known tasks: {known}")]
    Unknown {
        /// The id asked for.
        id: String,
        /// Comma-separated known ids.
        known: String,
    },
    /// A folder's files are inconsistent (e.g. a missing starter file).
    #[error("task folder `{folder}`: {message}")]
    Folder {
        /// The folder.
        folder: String,
        /// What is wrong.
        message: String,
    },
}

fn load_folder(
    folder: &str,
    files: &[(&str, &'static [u8])],
) -> Result<Option<Task>, RegistryError> {
    let file = |name: &str| files.iter().find(|(p, _)| *p == name).map(|(_, b)| *b);
    let fail = |message: String| RegistryError::Folder {
        folder: folder.to_string(),
        message,
    };
    let toml_path = PathBuf::from(format!("tasks/defs/{folder}/task.toml"));
    // A folder without a definition (e.g. one being written) is not a task.
    let Some(text) = file("task.toml") else {
        return Ok(None);
    };
    let text = std::str::from_utf8(text).map_err(|_| fail("task.toml is not UTF-8".into()))?;
    let def = TaskDef::parse(text, &toml_path)?;
    let description = match &def.description_file {
        Some(f) => {
            let b = file(f).ok_or_else(|| fail(format!("description_file `{f}` is missing")))?;
            String::from_utf8_lossy(b).into_owned()
        }
        None => def.description.clone(),
    };
    let mut starter = Vec::new();
    for s in &def.starter_files {
        let bytes = file(&format!("starter/{s}"))
            .ok_or_else(|| fail(format!("starter file `starter/{s}` is missing")))?;
        starter.push(StarterFile {
            path: PathBuf::from(s),
            bytes,
            read_only: def.read_only.contains(s),
        });
    }
    if let Some(name) = &def.shared_starter {
        add_shared_starter(name, &mut starter).map_err(fail)?;
    }
    let Some(hooks) = crate::hooks::hooks_for(&def, &starter) else {
        return Ok(None);
    };
    Ok(Some(Task {
        def,
        description,
        starter,
        hooks,
    }))
}

/// Appends every file of the shared starter folder `tasks/starters/<name>/` (writable in
/// the workspace). A path the task's own `starter_files` already has is an error: one file
/// must not silently replace another.
fn add_shared_starter(name: &str, starter: &mut Vec<StarterFile>) -> Result<(), String> {
    let files = embedded::STARTERS
        .iter()
        .find(|(folder, _)| *folder == name)
        .map(|(_, files)| *files)
        .ok_or_else(|| {
            let known: Vec<&str> = embedded::STARTERS.iter().map(|(f, _)| *f).collect();
            format!(
                "field `shared_starter`: no folder tasks/starters/{name}/ (known: {})",
                known.join(", ")
            )
        })?;
    for (rel, bytes) in files {
        let path = PathBuf::from(rel);
        if starter.iter().any(|f| f.path == path) {
            return Err(format!(
                "starter file `{rel}` is both in starter/ and in the shared starter \
                 tasks/starters/{name}/: keep one"
            ));
        }
        starter.push(StarterFile {
            path,
            bytes,
            read_only: false,
        });
    }
    Ok(())
}

static REGISTRY: OnceLock<Result<Vec<Task>, String>> = OnceLock::new();

/// Every task that has a native evaluator, in id order.
pub fn all() -> Result<&'static [Task], RegistryError> {
    let r = REGISTRY.get_or_init(|| {
        let mut tasks = Vec::new();
        for (folder, files) in embedded::EMBEDDED {
            match load_folder(folder, files) {
                Ok(Some(t)) => tasks.push(t),
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        tasks.sort_by(|a, b| a.def.id.cmp(&b.def.id));
        Ok(tasks)
    });
    r.as_deref().map_err(|m| RegistryError::Folder {
        folder: "tasks/defs".into(),
        message: m.clone(),
    })
}

/// The task with `id`.
pub fn get(id: &str) -> Result<&'static Task, RegistryError> {
    let tasks = all()?;
    tasks
        .iter()
        .find(|t| t.def.id == id)
        .ok_or_else(|| RegistryError::Unknown {
            id: id.to_string(),
            known: tasks
                .iter()
                .map(|t| t.def.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}
