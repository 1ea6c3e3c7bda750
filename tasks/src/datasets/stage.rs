//! Staging: decode the files a user carried in (or `fetch` downloaded), check them
//! against the published checksums, and write the arrays, a README and the manifest
//! under the data root; check that a staged dataset is complete; verify its decoded
//! content again.
//!
//! Files are written atomically (temporary file + rename), the manifest is removed first
//! and written last, so a dataset is either staged completely or reported as not staged.
//! Importing the same data twice writes nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cifar::{self, CifarFiles};
use super::digest::{file_digest, sha256};
use super::hf_parquet::{self, ParquetFiles};
use super::idx::{self, IdxFiles};
use super::npy::{self, Dtype};
use super::registry::{ContentHashes, DatasetSpec, Format, SourceSpec};
use super::{DataError, Decoded};

/// Version of the manifest layout.
pub const MANIFEST_FORMAT: u32 = 1;

/// One source file that was imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 (hex).
    pub sha256: String,
    /// MD5 (hex).
    pub md5: String,
    /// Whether a published checksum was checked (false: no checksum is published for
    /// this file, e.g. an uncompressed IDX file; only its structure was checked).
    pub pinned: bool,
}

/// One staged array.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayFile {
    /// Path relative to the dataset directory (`public/train_images.npy`).
    pub path: String,
    /// Element type.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Size of the `.npy` file.
    pub bytes: u64,
    /// SHA-256 of the `.npy` file.
    pub sha256: String,
    /// SHA-256 of the array's raw data (what the published content hashes pin).
    pub data_sha256: String,
}

/// `manifest.json` of a staged dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// Dataset name.
    pub dataset: String,
    /// The source's format.
    pub source_format: Format,
    /// The source files.
    pub source_files: Vec<SourceFile>,
    /// Whether published SHA-256s of the decoded arrays were checked.
    pub content_pinned: bool,
    /// The staged arrays.
    pub arrays: Vec<ArrayFile>,
}

impl Manifest {
    /// The array staged at `path`.
    pub fn array(&self, path: &str) -> Option<&ArrayFile> {
        self.arrays.iter().find(|a| a.path == path)
    }
}

/// What an import did.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportReport {
    /// The dataset directory.
    pub dir: PathBuf,
    /// The manifest written (or found identical).
    pub manifest: Manifest,
    /// Whether anything was written.
    pub changed: bool,
}

/// Staged paths, relative to the dataset directory.
pub const TRAIN_IMAGES: &str = "public/train_images.npy";
/// Training labels.
pub const TRAIN_LABELS: &str = "public/train_labels.npy";
/// Test images.
pub const TEST_IMAGES: &str = "public/test_images.npy";
/// Hidden test labels.
pub const TEST_LABELS: &str = "private/test_labels.npy";

/// `<root>/<name>`.
pub fn dataset_dir(spec: &DatasetSpec, root: &Path) -> PathBuf {
    root.join(spec.name)
}

/// Files under `path` (itself, if it is a file), at most four directories deep, skipping
/// hidden and partial (`.part`) files.
fn list_files(path: &Path) -> Result<Vec<PathBuf>, DataError> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
        let rd = std::fs::read_dir(dir).map_err(|e| DataError::read(dir, e))?;
        let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') || name.ends_with(".part") {
                continue;
            }
            if p.is_dir() {
                if depth < 4 {
                    walk(&p, depth + 1, out)?;
                }
            } else {
                out.push(p);
            }
        }
        Ok(())
    }
    let md = std::fs::metadata(path).map_err(|e| DataError::read(path, e))?;
    let mut out = Vec::new();
    if md.is_dir() {
        walk(path, 0, &mut out)?;
    } else {
        out.push(path.to_path_buf());
    }
    Ok(out)
}

/// The files of one recognised source.
enum Found {
    Idx(IdxFiles),
    Cifar(CifarFiles),
    Parquet(ParquetFiles),
}

impl Found {
    fn paths(&self) -> Vec<PathBuf> {
        match self {
            Found::Idx(f) => f.paths().iter().map(|p| p.to_path_buf()).collect(),
            Found::Cifar(CifarFiles::Loose(ps)) => ps.clone(),
            Found::Cifar(CifarFiles::Tarball(p)) => vec![p.clone()],
            Found::Parquet(f) => f.train.iter().chain(&f.test).cloned().collect(),
        }
    }
}

fn expected_files(spec: &DatasetSpec) -> String {
    spec.sources
        .iter()
        .map(|s| {
            let names: Vec<&str> = match s.format {
                Format::Idx => idx::NAMES.to_vec(),
                Format::CifarBinary => {
                    vec!["cifar-10-binary.tar.gz (or its data_batch_1..5.bin and test_batch.bin)"]
                }
                Format::HfParquet => s.files.iter().map(|f| f.name()).collect(),
            };
            format!("{} ({})", s.format.as_str(), names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; or ")
}

fn recognise(
    spec: &DatasetSpec,
    path: &Path,
    files: &[PathBuf],
    format: Option<Format>,
) -> Result<(&'static SourceSpec, Found), DataError> {
    for s in spec
        .sources
        .iter()
        .filter(|s| format.is_none_or(|f| f == s.format))
    {
        let found = match s.format {
            Format::Idx => IdxFiles::find(files).map(Found::Idx),
            Format::CifarBinary => CifarFiles::find(files).map(Found::Cifar),
            Format::HfParquet => ParquetFiles::find(files).map(Found::Parquet),
        };
        if let Some(f) = found {
            return Ok((s, f));
        }
    }
    Err(DataError::NotFound {
        path: path.to_path_buf(),
        problem: format!(
            "no complete copy of {} found here; expected one of: {}",
            spec.name,
            expected_files(spec)
        ),
    })
}

/// Hashes the source files and checks those with a published checksum.
fn check_sources(source: &SourceSpec, paths: &[PathBuf]) -> Result<Vec<SourceFile>, DataError> {
    let mut out = Vec::new();
    for p in paths {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let d = file_digest(p)?;
        let published = source.files.iter().find(|f| f.name() == name && f.pinned());
        if let Some(f) = published {
            let hint =
                "the file is damaged, truncated or another version: copy or download it again";
            let mismatch = |what, want: String, found: String| DataError::Checksum {
                path: p.clone(),
                what,
                name: f.path,
                want,
                found,
                hint,
            };
            if let Some(b) = f.bytes.filter(|b| *b != d.bytes) {
                return Err(mismatch(
                    "size",
                    format!("{b} bytes"),
                    format!("{} bytes", d.bytes),
                ));
            }
            if let Some(s) = f.sha256.filter(|s| *s != d.sha256) {
                return Err(mismatch("SHA-256", s.to_string(), d.sha256));
            }
            if let Some(m) = f.md5.filter(|m| *m != d.md5) {
                return Err(mismatch("MD5", m.to_string(), d.md5));
            }
        }
        out.push(SourceFile {
            name,
            bytes: d.bytes,
            sha256: d.sha256,
            md5: d.md5,
            pinned: published.is_some(),
        });
    }
    Ok(out)
}

/// One array to stage: path, dtype, shape, raw data.
struct Staged {
    path: &'static str,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn arrays(spec: &DatasetSpec, d: Decoded) -> Vec<Staged> {
    let img = |n: usize| vec![n, spec.height, spec.width, spec.channels];
    let (ntr, nte) = (d.train.len(), d.test.len());
    vec![
        Staged {
            path: TRAIN_IMAGES,
            dtype: Dtype::Uint8,
            shape: img(ntr),
            data: d.train.images,
        },
        Staged {
            path: TRAIN_LABELS,
            dtype: Dtype::Int64,
            shape: vec![ntr],
            data: npy::labels_as_i64(&d.train.labels),
        },
        Staged {
            path: TEST_IMAGES,
            dtype: Dtype::Uint8,
            shape: img(nte),
            data: d.test.images,
        },
        Staged {
            path: TEST_LABELS,
            dtype: Dtype::Int64,
            shape: vec![nte],
            data: npy::labels_as_i64(&d.test.labels),
        },
    ]
}

fn content_of<'a>(c: &'a ContentHashes, path: &str) -> &'a str {
    match path {
        TRAIN_IMAGES => c.train_images,
        TRAIN_LABELS => c.train_labels,
        TEST_IMAGES => c.test_images,
        _ => c.test_labels,
    }
}

/// Decodes the dataset found at `path` (a directory, or the CIFAR-10 tarball), checks it
/// and stages it under `root`.
pub fn import(spec: &DatasetSpec, path: &Path, root: &Path) -> Result<ImportReport, DataError> {
    import_as(spec, path, root, None, None)
}

/// [`import`] restricted to one `format` and, with `only`, to those files.
pub fn import_as(
    spec: &DatasetSpec,
    path: &Path,
    root: &Path,
    format: Option<Format>,
    only: Option<&[PathBuf]>,
) -> Result<ImportReport, DataError> {
    let files = match only {
        Some(f) => f.to_vec(),
        None => list_files(path)?,
    };
    let (source, found) = recognise(spec, path, &files, format)?;
    let source_files = check_sources(source, &found.paths())?;
    let decoded = match &found {
        Found::Idx(f) => idx::decode(spec, f)?,
        Found::Cifar(f) => cifar::decode(spec, f)?,
        Found::Parquet(f) => hf_parquet::decode(spec, f)?,
    };
    for (split, what) in [(&decoded.train, "training"), (&decoded.test, "test")] {
        if let Some((i, l)) = split
            .labels
            .iter()
            .enumerate()
            .find(|(_, l)| **l as usize >= spec.classes.len())
        {
            return Err(DataError::format(
                path,
                format!(
                    "{what} image {i} has label {l}, outside 0..{}",
                    spec.classes.len() - 1
                ),
            ));
        }
    }
    let staged = arrays(spec, decoded);
    if let Some(c) = &source.content {
        for a in &staged {
            let (want, found) = (content_of(c, a.path), sha256(&a.data));
            if want != found {
                return Err(DataError::Checksum {
                    path: path.to_path_buf(),
                    what: "SHA-256 of the decoded data",
                    name: a.path,
                    want: want.to_string(),
                    found,
                    hint: "the files decode to other content than the published export; report this with the files' checksums",
                });
            }
        }
    }
    let mut files_out = Vec::new();
    let mut array_infos = Vec::new();
    for a in &staged {
        let mut bytes = npy::header(a.dtype, &a.shape);
        bytes.extend_from_slice(&a.data);
        array_infos.push(ArrayFile {
            path: a.path.to_string(),
            dtype: a.dtype,
            shape: a.shape.clone(),
            bytes: bytes.len() as u64,
            sha256: sha256(&bytes),
            data_sha256: sha256(&a.data),
        });
        files_out.push((a.path.to_string(), bytes));
    }
    files_out.push((
        "public/README.md".into(),
        readme(spec, &array_infos).into_bytes(),
    ));
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        dataset: spec.name.to_string(),
        source_format: source.format,
        source_files,
        content_pinned: source.content.is_some(),
        arrays: array_infos,
    };
    let dir = dataset_dir(spec, root);
    let manifest_path = dir.join("manifest.json");
    let mut manifest_text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| DataError::write(&manifest_path, e.into()))?;
    manifest_text.push('\n');
    let unchanged = std::fs::read(&manifest_path).is_ok_and(|b| b == manifest_text.as_bytes())
        && check_staged(spec, root).is_ok();
    if unchanged {
        return Ok(ImportReport {
            dir,
            manifest,
            changed: false,
        });
    }
    if let Err(e) = std::fs::remove_file(&manifest_path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(DataError::write(&manifest_path, e));
        }
    }
    for sub in ["public", "private"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| DataError::write(dir.join(sub), e))?;
    }
    restrict(&dir.join("private"))?;
    for (rel, bytes) in &files_out {
        write_atomic(&dir.join(rel), bytes)?;
    }
    write_atomic(&manifest_path, manifest_text.as_bytes())?;
    Ok(ImportReport {
        dir,
        manifest,
        changed: true,
    })
}

fn readme(spec: &DatasetSpec, arrays: &[ArrayFile]) -> String {
    let mut s = format!("# {}\n\n", spec.title);
    s.push_str("NumPy arrays (load with `numpy.load(path)`):\n\n");
    for a in arrays.iter().filter(|a| a.path.starts_with("public/")) {
        let name = a.path.trim_start_matches("public/");
        let what = match a.path.as_str() {
            TRAIN_IMAGES => {
                "training images, uint8, (N, height, width, channels), pixel values 0-255"
            }
            TRAIN_LABELS => "training labels, int64, one class id per training image",
            _ => "test images, uint8, same layout; predict one label per image, in this order",
        };
        s.push_str(&format!("- `{name}`: shape {:?}: {what}\n", a.shape));
    }
    s.push_str("\nClasses:\n\n");
    for (i, c) in spec.classes.iter().enumerate() {
        s.push_str(&format!("{i}. {c}\n"));
    }
    s
}

/// Whether `spec` is staged under `root` and complete (manifest present, every array
/// there with its recorded size); `Err` says what is wrong.
pub fn check_staged(spec: &DatasetSpec, root: &Path) -> Result<Manifest, String> {
    let dir = dataset_dir(spec, root);
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if m.format != MANIFEST_FORMAT || m.dataset != spec.name {
        return Err(format!(
            "{} is from another version or dataset",
            path.display()
        ));
    }
    for want in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        let a = m
            .array(want)
            .ok_or_else(|| format!("{} lists no {want}", path.display()))?;
        let p = dir.join(&a.path);
        match std::fs::metadata(&p) {
            Ok(md) if md.len() == a.bytes => {}
            Ok(md) => {
                return Err(format!(
                    "{} has {} bytes, the manifest says {}",
                    p.display(),
                    md.len(),
                    a.bytes
                ))
            }
            Err(e) => return Err(format!("{}: {e}", p.display())),
        }
    }
    Ok(m)
}

/// What `verify` checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// One line per check that passed.
    pub checks: Vec<String>,
}

/// Re-reads every staged array and checks it against the manifest (file and data
/// SHA-256, dtype, shape, label range, split sizes) and, when the source publishes them,
/// against the published content hashes; re-hashes downloaded source files still kept
/// under `downloads/`.
pub fn verify(spec: &DatasetSpec, root: &Path) -> Result<VerifyReport, DataError> {
    let m = check_staged(spec, root)
        .map_err(|why| DataError::NotStaged(format!("{why}; {}", spec.how_to_stage())))?;
    let dir = dataset_dir(spec, root);
    let mut checks = Vec::new();
    let content = spec.source(m.source_format).and_then(|s| s.content);
    for a in &m.arrays {
        let p = dir.join(&a.path);
        let bytes = std::fs::read(&p).map_err(|e| DataError::read(&p, e))?;
        let changed = |what: String| {
            DataError::format(
                &p,
                format!(
                    "{what}; the staged file was modified or damaged: import the dataset again"
                ),
            )
        };
        if sha256(&bytes) != a.sha256 {
            return Err(changed("SHA-256 differs from the manifest".into()));
        }
        let arr = npy::parse(&bytes).map_err(changed)?;
        if arr.dtype != a.dtype || arr.shape != a.shape {
            return Err(changed(format!(
                "{:?} {:?}, the manifest says {:?} {:?}",
                arr.dtype, arr.shape, a.dtype, a.shape
            )));
        }
        let data_sha = sha256(&arr.data);
        if data_sha != a.data_sha256 {
            return Err(changed("data SHA-256 differs from the manifest".into()));
        }
        if let Some(c) = &content {
            if content_of(c, &a.path) != data_sha {
                return Err(changed(
                    "decoded content differs from the published export's".into(),
                ));
            }
        }
        let n = a.shape.first().copied().unwrap_or(0);
        let want_n = if a.path.contains("train") {
            spec.train_count
        } else {
            spec.test_count
        };
        if n != want_n {
            return Err(changed(format!("{n} entries, {} has {want_n}", spec.name)));
        }
        if a.dtype == Dtype::Int64 {
            if let Some(l) = arr
                .as_i64()
                .into_iter()
                .find(|l| !(0..spec.classes.len() as i64).contains(l))
            {
                return Err(changed(format!(
                    "label {l} outside 0..{}",
                    spec.classes.len() - 1
                )));
            }
        } else if a.shape[1..] != [spec.height, spec.width, spec.channels] {
            return Err(changed(format!("image shape {:?}", &a.shape[1..])));
        }
        checks.push(format!(
            "{}: {:?} {:?}, SHA-256 {}{}",
            a.path,
            a.dtype,
            a.shape,
            &data_sha[..16],
            if content.is_some() {
                " (matches the published content)"
            } else {
                ""
            }
        ));
    }
    verify_downloads(
        &dir.join("downloads"),
        m.source_files
            .iter()
            .map(|f| (f.name.as_str(), f.sha256.as_str())),
        "differs from the file that was imported; delete it and fetch again",
        &mut checks,
    )?;
    Ok(VerifyReport { checks })
}

/// Checks each downloaded file `(name, expected SHA-256)` still under `downloads` against
/// the digest recorded when it was staged, adding one line per file to `checks`. A file
/// that is gone is fine (downloads may be deleted once staged); one that differs fails
/// with `mismatch`, which must say what to do.
pub(crate) fn verify_downloads<'a>(
    downloads: &Path,
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    mismatch: &str,
    checks: &mut Vec<String>,
) -> Result<(), DataError> {
    for (name, sha) in files {
        let p = downloads.join(name);
        if p.is_file() {
            let d = file_digest(&p)?;
            if d.sha256 != sha {
                return Err(DataError::format(&p, mismatch));
            }
            checks.push(format!("downloads/{name}: SHA-256 {}", &d.sha256[..16]));
        }
    }
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, then renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| DataError::write(path, e))
}

/// Makes the answers directory private to its owner.
pub(crate) fn restrict(dir: &Path) -> Result<(), DataError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| DataError::write(dir, e))
}
