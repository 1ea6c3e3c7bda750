//! The COCO captions data of imageCaptioningCOCO: imported from MLGym's layout, staged
//! with the test captions kept out of the agent's sight.
//!
//! Accepted source (`mlgym data import coco DIR`, MLGym's `data/imageCaptioningCOCO/data`):
//!
//! ```text
//! DIR/train_images.parquet  DIR/train/<file_name>...
//! DIR/val_images.parquet    DIR/val/<file_name>...
//! DIR/test_images.parquet   DIR/test/<file_name>...
//! ```
//!
//! Each parquet file has a string column `file_name` and the captions as `anns` (a list
//! of structs with a string `caption`, MLGym's files), `captions` (a list of strings) or
//! `caption` (one string per row, an image's rows repeated).
//!
//! Staged layout (`$MLGYM_DATA/coco/`):
//!
//! ```text
//! manifest.json                     images and captions per split
//! public/{train,val}_images.parquet copies of the source files (the agent's data/)
//! public/{train,val,test}/...       the images (hard links when possible)
//! public/test_images.csv            `file_name` of every test image to caption
//! public/README.md
//! private/test_references.json      [{file_name, captions}]: read by the evaluator only
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parquet::record::Field;
use serde::{Deserialize, Serialize};

use crate::datasets::hf_parquet;
use crate::datasets::stage::write_atomic;
use crate::datasets::DataError;
use crate::evaluator::EvalError;
use crate::registry::TaskData;
use crate::staging::{read_manifest, replace_dir};
use crate::tabular::csv;

/// Name of the dataset on the command line and under the data root.
pub const NAME: &str = "coco";
/// The list of test images in `public/`.
pub const TEST_LIST: &str = "test_images.csv";
/// The hidden references in `private/`.
pub const REFERENCES: &str = "test_references.json";
const MANIFEST: &str = "manifest.json";
const SPLITS: [&str; 3] = ["train", "val", "test"];

/// One image and its reference captions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Captioned {
    /// The image's file name in its split folder.
    pub file_name: String,
    /// Its human captions.
    pub captions: Vec<String>,
}

/// Counts of one staged split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCount {
    /// Images.
    pub images: usize,
    /// Captions.
    pub captions: usize,
}

/// `manifest.json` of the staged dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Where it was imported from.
    pub source: String,
    /// Split name → counts.
    pub splits: BTreeMap<String, SplitCount>,
}

/// The staged directory under `root`.
pub fn dataset_dir(root: &Path) -> PathBuf {
    root.join(NAME)
}

/// What to run to stage the data (for messages).
pub fn how_to_stage() -> String {
    "run `mlgym data import coco DIR` with DIR holding MLGym's COCO files: train_images.parquet, val_images.parquet, test_images.parquet and the image folders train/, val/, test/ (see docs/pretrained-tasks.md)".into()
}

fn caption_strings(f: &Field) -> Vec<String> {
    match f {
        Field::Str(s) => vec![s.clone()],
        Field::ListInternal(list) => list
            .elements()
            .iter()
            .flat_map(|e| match e {
                Field::Str(s) => vec![s.clone()],
                Field::Group(g) => g
                    .get_column_iter()
                    .filter(|(n, _)| n.as_str() == "caption")
                    .flat_map(|(_, v)| caption_strings(v))
                    .collect(),
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads the images and captions of one parquet file, in first-appearance order.
pub fn read_parquet(path: &Path) -> Result<Vec<Captioned>, DataError> {
    let bad = |p: String| DataError::format(path, p);
    let mut out: Vec<Captioned> = Vec::new();
    let mut at: BTreeMap<String, usize> = BTreeMap::new();
    for (i, row) in hf_parquet::rows(path)?.enumerate() {
        let row = row?;
        let mut name = None;
        let mut caps = None;
        for (col, field) in row.get_column_iter() {
            match (col.as_str(), field) {
                ("file_name", Field::Str(s)) => name = Some(s.clone()),
                ("anns" | "captions" | "caption", f) => caps = Some(caption_strings(f)),
                _ => {}
            }
        }
        let (Some(name), Some(caps)) = (name, caps) else {
            return Err(bad(format!(
                "row {i}: expected a string column `file_name` and captions in `anns` (list of {{caption}}), `captions` (list of strings) or `caption`"
            )));
        };
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(bad(format!(
                "row {i}: file_name `{name}` must be a plain file name inside the split's image folder"
            )));
        }
        match at.get(&name) {
            Some(&k) => out[k].captions.extend(caps),
            None => {
                at.insert(name.clone(), out.len());
                out.push(Captioned {
                    file_name: name,
                    captions: caps,
                });
            }
        }
    }
    if out.is_empty() {
        return Err(bad("has no rows".into()));
    }
    if let Some(c) = out
        .iter()
        .find(|c| c.captions.iter().all(|s| s.trim().is_empty()))
    {
        return Err(bad(format!("image `{}` has no caption", c.file_name)));
    }
    Ok(out)
}

/// Hard-links `from` to `to`, copying when a link is impossible (another file system).
fn link_or_copy(from: &Path, to: &Path) -> Result<(), DataError> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| DataError::write(to, e))
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), DataError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| DataError::format(path, e.to_string()))?;
    write_atomic(path, &bytes)
}

/// What an import staged.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The staged directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

/// Stages the COCO files in `src` (see the module docs) under `root`.
pub fn import(src: &Path, root: &Path) -> Result<ImportReport, DataError> {
    let mut splits = BTreeMap::new();
    for s in SPLITS {
        let pq = src.join(format!("{s}_images.parquet"));
        if !pq.is_file() {
            return Err(DataError::NotFound {
                path: pq,
                problem: format!("missing; {}", how_to_stage()),
            });
        }
        let rows = read_parquet(&pq)?;
        for r in &rows {
            let img = src.join(s).join(&r.file_name);
            if !img.is_file() {
                return Err(DataError::NotFound {
                    path: img,
                    problem: format!(
                        "listed in {s}_images.parquet but missing from the {s}/ image folder"
                    ),
                });
            }
        }
        splits.insert(s, (pq, rows));
    }
    let dir = dataset_dir(root);
    let manifest = replace_dir(
        &dir,
        |tmp| stage_into(src, tmp, &splits),
        |p, e| DataError::write(p, e),
    )?;
    Ok(ImportReport { dir, manifest })
}

type Splits = BTreeMap<&'static str, (PathBuf, Vec<Captioned>)>;

fn stage_into(src: &Path, tmp: &Path, splits: &Splits) -> Result<Manifest, DataError> {
    let public = tmp.join("public");
    let private = tmp.join("private");
    let mut counts = BTreeMap::new();
    for (s, (pq, rows)) in splits {
        let folder = public.join(s);
        std::fs::create_dir_all(&folder).map_err(|e| DataError::write(&folder, e))?;
        for r in rows {
            link_or_copy(&src.join(s).join(&r.file_name), &folder.join(&r.file_name))?;
        }
        if *s != "test" {
            let to = public.join(format!("{s}_images.parquet"));
            std::fs::copy(pq, &to).map_err(|e| DataError::write(&to, e))?;
        }
        counts.insert(
            s.to_string(),
            SplitCount {
                images: rows.len(),
                captions: rows.iter().map(|r| r.captions.len()).sum(),
            },
        );
    }
    let test = splits.get("test").map(|(_, r)| r.as_slice()).unwrap_or(&[]);
    let mut list = String::new();
    csv::write_record(&mut list, &["file_name"]);
    for r in test {
        csv::write_record(&mut list, &[r.file_name.as_str()]);
    }
    write_atomic(&public.join(TEST_LIST), list.as_bytes())?;
    write_atomic(&public.join("README.md"), README.as_bytes())?;
    std::fs::create_dir_all(&private).map_err(|e| DataError::write(&private, e))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| DataError::write(&private, e))?;
    }
    write_json(&private.join(REFERENCES), &test)?;
    let manifest = Manifest {
        source: src.display().to_string(),
        splits: counts,
    };
    write_json(&tmp.join(MANIFEST), &manifest)?;
    Ok(manifest)
}

const README: &str = "\
COCO captions (MLGym's subset)

train_images.parquet, val_images.parquet: one row per image: `file_name` and `anns`, the
human captions (a list of records with a `caption` field, usually 5 per image). The
images are in train/ and val/.

test/: the images to caption, listed in test_images.csv (column `file_name`). Their
captions are hidden; the evaluator compares your captions with them (corpus BLEU-4).
";

/// The staged manifest, checked: every file the evaluator and the agent need is present.
pub fn check_staged(root: &Path) -> Result<Manifest, String> {
    let dir = dataset_dir(root);
    let m: Manifest = read_manifest(&dir)?;
    for p in [
        dir.join("public").join(TEST_LIST),
        dir.join("private").join(REFERENCES),
    ] {
        if !p.is_file() {
            return Err(format!("{} is missing", p.display()));
        }
    }
    Ok(m)
}

fn missing(why: String) -> EvalError {
    EvalError::DataMissing(format!("{why}; {}", how_to_stage()))
}

/// The hidden test references, in the order of `public/test_images.csv`.
pub fn load_references(root: &Path) -> Result<Vec<Captioned>, EvalError> {
    check_staged(root).map_err(missing)?;
    let path = dataset_dir(root).join("private").join(REFERENCES);
    let bytes = std::fs::read(&path)
        .map_err(|e| EvalError::io(format!("reading {}", path.display()), e))?;
    let refs: Vec<Captioned> = serde_json::from_slice(&bytes)
        .map_err(|e| missing(format!("{} is damaged ({e})", path.display())))?;
    if refs.is_empty() {
        return Err(missing(format!("{} lists no test image", path.display())));
    }
    Ok(refs)
}

/// [`TaskData`] of imageCaptioningCOCO: `coco/public/` is the agent's `data/`.
#[derive(Debug)]
pub struct CocoData;

impl TaskData for CocoData {
    fn ready(&self, data_root: &Path) -> bool {
        check_staged(data_root).is_ok()
    }

    fn public_dir(&self, data_root: &Path) -> Result<PathBuf, EvalError> {
        check_staged(data_root).map_err(missing)?;
        let public = dataset_dir(data_root).join("public");
        super::resnet::link_into(data_root, &public).map_err(|e| {
            EvalError::io(
                format!("linking the ResNet-50 weights into {}", public.display()),
                e,
            )
        })?;
        Ok(public)
    }

    fn how_to_stage(&self) -> String {
        how_to_stage()
    }
}

/// Re-checks the staged data: the image lists of every split against the manifest and
/// every listed image present. One line per split.
pub fn verify(root: &Path) -> Result<Vec<String>, DataError> {
    let m = check_staged(root)
        .map_err(|why| DataError::NotStaged(format!("{why}; {}", how_to_stage())))?;
    let dir = dataset_dir(root);
    let mut checks = Vec::new();
    for s in SPLITS {
        let rows = if s == "test" {
            let path = dir.join("private").join(REFERENCES);
            let bytes = std::fs::read(&path).map_err(|e| DataError::read(&path, e))?;
            serde_json::from_slice::<Vec<Captioned>>(&bytes).map_err(|e| {
                DataError::format(&path, format!("damaged ({e}); import coco again"))
            })?
        } else {
            read_parquet(&dir.join("public").join(format!("{s}_images.parquet")))?
        };
        let want = m.splits.get(s).map_or(0, |c| c.images);
        if rows.len() != want {
            return Err(DataError::format(
                dir.join(MANIFEST),
                format!(
                    "{s} lists {} images, the manifest {want}; import coco again",
                    rows.len()
                ),
            ));
        }
        for r in &rows {
            let img = dir.join("public").join(s).join(&r.file_name);
            if !img.is_file() {
                return Err(DataError::NotFound {
                    path: img,
                    problem: "missing; import coco again".into(),
                });
            }
        }
        checks.push(format!(
            "{s}: {} images, {} captions, all present",
            rows.len(),
            rows.iter().map(|r| r.captions.len()).sum::<usize>()
        ));
    }
    Ok(checks)
}
