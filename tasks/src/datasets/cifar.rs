//! CIFAR-10's binary version: `data_batch_1.bin` … `data_batch_5.bin` (training, in that
//! order) and `test_batch.bin`, each a sequence of 3073-byte records (a label byte, then
//! 1024 red, 1024 green and 1024 blue bytes of a 32×32 image in row-major order).
//! The files are read loose or straight out of `cifar-10-binary.tar.gz` (nothing from the
//! archive is written to disk, so its paths cannot escape anywhere).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::registry::DatasetSpec;
use super::{DataError, Decoded, Split};

/// Names of the batch files, training batches first.
pub const BATCHES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];

/// Where the batches are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CifarFiles {
    /// Loose batch files, in [`BATCHES`] order.
    Loose(Vec<PathBuf>),
    /// The tarball that holds them.
    Tarball(PathBuf),
}

impl CifarFiles {
    /// Finds the six loose batches, else a `*.tar.gz`/`*.tgz` among `files`.
    pub fn find(files: &[PathBuf]) -> Option<CifarFiles> {
        let named = |n: &str| {
            files
                .iter()
                .find(|p| p.file_name().and_then(|f| f.to_str()) == Some(n))
                .cloned()
        };
        if let Some(loose) = BATCHES.iter().map(|n| named(n)).collect::<Option<Vec<_>>>() {
            return Some(CifarFiles::Loose(loose));
        }
        files
            .iter()
            .find(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|n| n.ends_with(".tar.gz") || n.ends_with(".tgz"))
            })
            .map(|p| CifarFiles::Tarball(p.clone()))
    }
}

/// Splits batch bytes into (NHWC images, labels).
fn records(
    spec: &DatasetSpec,
    path: &Path,
    name: &str,
    bytes: &[u8],
    out: &mut Split,
) -> Result<(), DataError> {
    let px = spec.height * spec.width;
    let rec = 1 + px * spec.channels;
    if !bytes.len().is_multiple_of(rec) {
        return Err(DataError::format(
            path,
            format!("{name} has {} bytes, not a whole number of {rec}-byte records: the file is truncated or not CIFAR-10's binary version", bytes.len()),
        ));
    }
    for r in bytes.chunks_exact(rec) {
        out.labels.push(r[0]);
        let planes = &r[1..];
        for p in 0..px {
            for c in 0..spec.channels {
                out.images.push(planes[c * px + p]);
            }
        }
    }
    Ok(())
}

/// Reads the six batches out of a gzipped tarball, matched by file name.
fn from_tarball(path: &Path) -> Result<BTreeMap<&'static str, Vec<u8>>, DataError> {
    let f = std::fs::File::open(path).map_err(|e| DataError::read(path, e))?;
    let mut archive = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(f)));
    let damaged = |e: std::io::Error| {
        DataError::format(path, format!("cannot read the archive ({e}); it is damaged or truncated: copy or download it again"))
    };
    let mut found = BTreeMap::new();
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .ok()
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned));
        if let Some(b) = name.and_then(|n| BATCHES.iter().find(|b| **b == n)) {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(damaged)?;
            found.insert(*b, bytes);
        }
    }
    Ok(found)
}

/// Decodes CIFAR-10's binary batches.
pub fn decode(spec: &DatasetSpec, files: &CifarFiles) -> Result<Decoded, DataError> {
    let mut d = Decoded::default();
    let (path, mut batches): (&Path, BTreeMap<&str, Vec<u8>>) = match files {
        CifarFiles::Tarball(p) => (p, from_tarball(p)?),
        CifarFiles::Loose(ps) => {
            let mut m = BTreeMap::new();
            for (name, p) in BATCHES.iter().zip(ps) {
                m.insert(*name, std::fs::read(p).map_err(|e| DataError::read(p, e))?);
            }
            (ps.first().map_or(Path::new("."), |p| p.as_path()), m)
        }
    };
    for (i, name) in BATCHES.iter().enumerate() {
        let bytes = batches.remove(name).ok_or_else(|| {
            DataError::format(path, format!("{name} is missing from the archive"))
        })?;
        let at = match files {
            CifarFiles::Loose(ps) => ps[i].clone(),
            CifarFiles::Tarball(p) => p.clone(),
        };
        let split = if i < 5 { &mut d.train } else { &mut d.test };
        records(spec, &at, name, &bytes, split)?;
    }
    for (split, want, what) in [
        (&d.train, spec.train_count, "training"),
        (&d.test, spec.test_count, "test"),
    ] {
        if split.len() != want {
            return Err(DataError::format(
                path,
                format!(
                    "{} {what} images, but {} has {want}",
                    split.len(),
                    spec.name
                ),
            ));
        }
    }
    Ok(d)
}

/// Encodes images (NHWC) and labels as binary-version records (for tests and mirrors).
pub fn encode(h: usize, w: usize, c: usize, images: &[u8], labels: &[u8]) -> Vec<u8> {
    let px = h * w;
    let mut out = Vec::with_capacity(labels.len() * (1 + px * c));
    for (i, &l) in labels.iter().enumerate() {
        out.push(l);
        let img = &images[i * px * c..(i + 1) * px * c];
        for ch in 0..c {
            out.extend((0..px).map(|p| img[p * c + ch]));
        }
    }
    out
}
