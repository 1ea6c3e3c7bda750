//! Embeds every task folder under `defs/` (task.toml, description, starter files) into
//! the library, so that the `mlgym` binary is self-contained and works from anywhere.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "__pycache__" {
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

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let defs = manifest.join("defs");
    println!("cargo:rerun-if-changed={}", defs.display());
    let mut code = String::from("/// Embedded task folders: (folder name, [(relative path, bytes)]).\n#[allow(clippy::type_complexity)]\npub static EMBEDDED: &[(&str, &[(&str, &[u8])])] = &[\n");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&defs).map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect()).unwrap_or_default();
    dirs.sort();
    for d in dirs {
        let name = d.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let mut files = Vec::new();
        files_under(&d, &mut files);
        let _ = writeln!(code, "    ({name:?}, &[");
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            let rel = f.strip_prefix(&d).unwrap_or(&f).to_string_lossy().replace('\\', "/");
            let _ = writeln!(code, "        ({rel:?}, include_bytes!({:?})),", f.display().to_string());
        }
        let _ = writeln!(code, "    ]),");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("embedded_tasks.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("writing {}: {e}", out.display());
    }
}
