//! Embeds every task folder under `defs/` (task.toml, description, starter files) and
//! every shared starter folder under `starters/` into the library, so that the `mlgym`
//! binary is self-contained and works from anywhere.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Build outputs are never starter files (someone may have built a starter crate
        // in place).
        if name.starts_with('.') || name == "__pycache__" || name == "target" {
            continue;
        }
        if p.is_dir() {
            println!("cargo:rerun-if-changed={}", p.display());
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Writes `pub static NAME: &[(folder, [(relative path, bytes)])]` for every folder under
/// `root` (sorted, so the output is stable).
fn embed_folders(code: &mut String, name: &str, doc: &str, root: &Path) {
    println!("cargo:rerun-if-changed={}", root.display());
    let _ = writeln!(
        code,
        "/// {doc}: (folder name, [(relative path, bytes)]).\n#[allow(clippy::type_complexity)]\npub static {name}: &[(&str, &[(&str, &[u8])])] = &["
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    for d in dirs {
        let name = d
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let mut files = Vec::new();
        files_under(&d, &mut files);
        let _ = writeln!(code, "    ({name:?}, &[");
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            let rel = f
                .strip_prefix(&d)
                .unwrap_or(&f)
                .to_string_lossy()
                .replace('\\', "/");
            let _ = writeln!(
                code,
                "        ({rel:?}, include_bytes!({:?})),",
                f.display().to_string()
            );
        }
        let _ = writeln!(code, "    ]),");
    }
    code.push_str("];\n");
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut code = String::new();
    embed_folders(
        &mut code,
        "EMBEDDED",
        "Embedded task folders",
        &manifest.join("defs"),
    );
    // Starter folders shared by several tasks (a task names one with `shared_starter`).
    // A file there may be a symbolic link to a library source file (the RL trainer crate
    // is built from the library's own environment, network and PPO files): the embedded
    // bytes are the link target's, so the agent gets a plain file.
    embed_folders(
        &mut code,
        "STARTERS",
        "Embedded shared starter folders",
        &manifest.join("starters"),
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("embedded_tasks.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("writing {}: {e}", out.display());
    }
}
