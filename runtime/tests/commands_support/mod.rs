//! Shared helpers for the `commands_*` integration tests: a temporary workspace with an
//! editor state, and one call that parses and runs an action like the episode loop does.

#![allow(dead_code)]
// Test scaffolding: a failed setup step should abort the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use mlgym_runtime::commands::{
    execute, parse_action, Action, CommandContext, EditorState, NoPythonCheck, Observation,
    ProcessPythonChecker, PythonChecker,
};

/// The interpreter used by tests that run the real Python check.
pub const PYTHON: &str = "/usr/bin/python3";

/// Whether the Python checker can run here (tests that need it skip otherwise).
pub fn have_python() -> bool {
    let ok = Path::new(PYTHON).exists();
    if !ok {
        eprintln!("skipping: {PYTHON} not found");
    }
    ok
}

/// A temporary workspace plus editor state.
pub struct Ws {
    pub dir: tempfile::TempDir,
    /// The workspace (canonical).
    pub root: PathBuf,
    /// The shell's current directory (default: the workspace).
    pub cwd: PathBuf,
    pub state: EditorState,
    pub read_only: Vec<PathBuf>,
    pub hidden: Vec<PathBuf>,
    pub checker: Box<dyn PythonChecker>,
}

impl Ws {
    /// A workspace whose Python edits are not checked.
    pub fn new() -> Ws {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("workspace");
        fs::create_dir(&root).unwrap();
        let root = root.canonicalize().unwrap();
        Ws {
            dir,
            cwd: root.clone(),
            root,
            state: EditorState::default(),
            read_only: Vec::new(),
            hidden: Vec::new(),
            checker: Box::new(NoPythonCheck),
        }
    }

    /// A workspace whose Python edits are checked with the real script.
    pub fn with_python() -> Ws {
        let mut ws = Ws::new();
        ws.checker = Box::new(ProcessPythonChecker::new(PYTHON));
        ws
    }

    /// A directory next to the workspace (outside it).
    pub fn outside(&self) -> PathBuf {
        let p = self.dir.path().canonicalize().unwrap().join("outside");
        fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The absolute path as the editor prints it.
    pub fn shown(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    pub fn write(&self, rel: &str, content: &str) {
        self.write_bytes(rel, content.as_bytes());
    }

    pub fn write_bytes(&self, rel: &str, content: &[u8]) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Parses and runs `action`; parse errors come back as error observations (as the
    /// runtime shows them).
    pub fn run(&mut self, action: &str) -> Observation {
        match parse_action(action) {
            Ok(Action::Editor(cmd)) => {
                let read_only = self.read_only.clone();
                let hidden = self.hidden.clone();
                let ro = move |p: &Path| read_only.iter().any(|r| p.starts_with(r));
                let hid = move |p: &Path| hidden.iter().any(|h| p.starts_with(h));
                let ctx = CommandContext::new(&self.cwd, &self.root, self.checker.as_ref())
                    .with_read_only(&ro)
                    .with_hidden(&hid);
                execute(&cmd, &mut self.state, &ctx)
            }
            Ok(other) => panic!("not an editor command: {other:?}"),
            Err(e) => Observation {
                text: e.to_string(),
                changed_file: None,
                is_error: true,
            },
        }
    }

    /// Runs `action` and returns its text, replacing the workspace path with `$WS`.
    pub fn text(&mut self, action: &str) -> String {
        let root = self.root.display().to_string();
        self.run(action).text.replace(&root, "$WS")
    }
}

/// `n` numbered lines `line 1`, `line 2`, ... each ending in a newline.
pub fn numbered_lines(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}
