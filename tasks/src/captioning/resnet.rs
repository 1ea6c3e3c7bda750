//! The ImageNet-pretrained ResNet-50 of the captioning baseline, staged under the data
//! root (`mlgym data import resnet50 FILE`): torchvision's `resnet50` state dict saved as
//! safetensors (`safetensors.torch.save_file(model.state_dict(), "resnet50.safetensors")`).
//! The import checks the tensors that fix the architecture (stem, last bottleneck,
//! 1000-way classifier) and records the file's SHA-256; the agent sees it as
//! `data/resnet50.safetensors` once both it and COCO are staged.
//!
//! Staged layout: `$MLGYM_DATA/resnet50/{resnet50.safetensors, manifest.json}`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::datasets::digest::file_digest;
use crate::datasets::stage::write_atomic;
use crate::datasets::DataError;

/// Name on the command line and directory under the data root.
pub const NAME: &str = "resnet50";
/// The staged weights file (also its name in the agent's `data/`).
pub const FILE: &str = "resnet50.safetensors";
const MANIFEST: &str = "manifest.json";

/// Tensors (torchvision names) and shapes that identify a ResNet-50.
const SIGNATURE: [(&str, &[usize]); 4] = [
    ("conv1.weight", &[64, 3, 7, 7]),
    ("layer4.2.conv3.weight", &[2048, 512, 1, 1]),
    ("layer3.5.bn3.running_var", &[1024]),
    ("fc.weight", &[1000, 2048]),
];

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The imported file.
    pub source: String,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256.
    pub sha256: String,
    /// Number of tensors.
    pub tensors: usize,
}

/// The staged directory.
pub fn dir(root: &Path) -> PathBuf {
    root.join(NAME)
}

/// What to run to stage the weights (for messages).
pub fn how_to_stage() -> String {
    format!("run `mlgym data import {NAME} FILE` with torchvision's ImageNet ResNet-50 state dict saved as safetensors")
}

/// Stages the weights file `src` under `root` after checking that it is a ResNet-50.
pub fn import(src: &Path, root: &Path) -> Result<(PathBuf, Manifest), DataError> {
    let file = if src.is_dir() {
        src.join(FILE)
    } else {
        src.to_path_buf()
    };
    let bytes = std::fs::read(&file).map_err(|e| DataError::read(&file, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
        DataError::format(&file, format!("not a safetensors file ({e}); save the state dict with safetensors.torch.save_file"))
    })?;
    for (name, shape) in SIGNATURE {
        match st.tensor(name) {
            Ok(t) if t.shape() == shape => {}
            Ok(t) => {
                return Err(DataError::format(
                    &file,
                    format!(
                        "`{name}` has shape {:?}, a ResNet-50 has {shape:?}",
                        t.shape()
                    ),
                ))
            }
            Err(_) => {
                return Err(DataError::format(
                    &file,
                    format!("has no tensor `{name}`: not torchvision's resnet50 state dict"),
                ))
            }
        }
    }
    let d = file_digest(&file)?;
    let manifest = Manifest {
        source: file.display().to_string(),
        bytes: d.bytes,
        sha256: d.sha256,
        tensors: st.len(),
    };
    let target = dir(root);
    std::fs::create_dir_all(&target).map_err(|e| DataError::write(&target, e))?;
    write_atomic(&target.join(FILE), &bytes)?;
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| DataError::format(target.join(MANIFEST), e.to_string()))?;
    write_atomic(&target.join(MANIFEST), &json)?;
    Ok((target, manifest))
}

/// The manifest, checked: the file present with its recorded size.
pub fn check_staged(root: &Path) -> Result<Manifest, String> {
    let path = dir(root).join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(|_| format!("{} is missing", path.display()))?;
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is unreadable ({e})", path.display()))?;
    let size = std::fs::metadata(dir(root).join(FILE))
        .map(|m| m.len())
        .ok();
    if size != Some(m.bytes) {
        return Err(format!(
            "{} is missing or changed",
            dir(root).join(FILE).display()
        ));
    }
    Ok(m)
}

/// Re-hashes the staged file against the manifest.
pub fn verify(root: &Path) -> Result<Vec<String>, DataError> {
    let m = check_staged(root)
        .map_err(|why| DataError::NotStaged(format!("{why}; {}", how_to_stage())))?;
    let path = dir(root).join(FILE);
    let d = file_digest(&path)?;
    if d.sha256 != m.sha256 {
        return Err(DataError::format(
            &path,
            format!(
                "SHA-256 is {}, the manifest says {}; import {NAME} again",
                d.sha256, m.sha256
            ),
        ));
    }
    Ok(vec![format!(
        "{FILE}: {} bytes, {} tensors, SHA-256 {}",
        m.bytes, m.tensors, m.sha256
    )])
}

/// Hard-links (or copies) the staged weights to `public/resnet50.safetensors` when they
/// are staged and not already there; without them the agent's data has no weights.
pub fn link_into(root: &Path, public: &Path) -> std::io::Result<()> {
    let Ok(m) = check_staged(root) else {
        return Ok(());
    };
    let to = public.join(FILE);
    if std::fs::metadata(&to).map(|x| x.len()).ok() == Some(m.bytes) {
        return Ok(());
    }
    let tmp = public.join(format!(".{FILE}.link-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let from = dir(root).join(FILE);
    if std::fs::hard_link(&from, &tmp).is_err() {
        std::fs::copy(&from, &tmp)?;
    }
    std::fs::rename(&tmp, &to)
}
