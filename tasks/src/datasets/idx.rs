//! MNIST's IDX format (as used by Fashion-MNIST), gzipped or not: a big-endian header
//! (`0 0 type ndims`, then one u32 per dimension) followed by the data. Images are
//! `ubyte [N, rows, cols]`, labels `ubyte [N]`.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::registry::DatasetSpec;
use super::{DataError, Decoded, Split};

/// The four IDX files of a dataset, found in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxFiles {
    /// `train-images-idx3-ubyte[.gz]`.
    pub train_images: PathBuf,
    /// `train-labels-idx1-ubyte[.gz]`.
    pub train_labels: PathBuf,
    /// `t10k-images-idx3-ubyte[.gz]`.
    pub test_images: PathBuf,
    /// `t10k-labels-idx1-ubyte[.gz]`.
    pub test_labels: PathBuf,
}

/// The canonical names (without `.gz`) in [`IdxFiles`] order.
pub const NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

impl IdxFiles {
    /// Finds the four files among `files` (either spelling: `.gz` or not, or the
    /// `train-images.idx3-ubyte` spelling of some mirrors); `None` if any is missing.
    pub fn find(files: &[PathBuf]) -> Option<IdxFiles> {
        let pick = |name: &str| {
            let dotted = name.replacen("-idx", ".idx", 1);
            files
                .iter()
                .find(|p| {
                    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    let n = n.strip_suffix(".gz").unwrap_or(n);
                    n == name || n == dotted
                })
                .cloned()
        };
        Some(IdxFiles {
            train_images: pick(NAMES[0])?,
            train_labels: pick(NAMES[1])?,
            test_images: pick(NAMES[2])?,
            test_labels: pick(NAMES[3])?,
        })
    }

    /// The four paths, in [`NAMES`] order.
    pub fn paths(&self) -> [&Path; 4] {
        [
            &self.train_images,
            &self.train_labels,
            &self.test_images,
            &self.test_labels,
        ]
    }
}

/// Reads a file, gunzipping it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::read(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 2);
        GzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(|e| {
            DataError::format(path, format!("corrupt gzip data ({e}); the file is damaged or truncated: copy or download it again"))
        })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX ubyte array: its dimensions and data.
pub fn parse(bytes: &[u8]) -> Result<(Vec<usize>, &[u8]), String> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err("not an IDX file (bad magic number)".into());
    }
    if bytes[2] != 0x08 {
        return Err(format!(
            "IDX element type 0x{:02x}, expected 0x08 (unsigned byte)",
            bytes[2]
        ));
    }
    let nd = bytes[3] as usize;
    let head = 4 + 4 * nd;
    if bytes.len() < head {
        return Err("truncated IDX header".into());
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            u32::from_be_bytes([
                bytes[4 + 4 * i],
                bytes[5 + 4 * i],
                bytes[6 + 4 * i],
                bytes[7 + 4 * i],
            ]) as usize
        })
        .collect();
    let want = dims.iter().product::<usize>();
    let data = &bytes[head..];
    if data.len() != want {
        return Err(format!(
            "IDX header says {dims:?} ({want} bytes of data) but the file holds {}",
            data.len()
        ));
    }
    Ok((dims, data))
}

fn read_split(
    spec: &DatasetSpec,
    images: &Path,
    labels: &Path,
    count: usize,
) -> Result<Split, DataError> {
    let ib = read_maybe_gz(images)?;
    let (idims, idata) = parse(&ib).map_err(|p| DataError::format(images, p))?;
    if spec.channels != 1 || idims.len() != 3 || idims[1] != spec.height || idims[2] != spec.width {
        return Err(DataError::format(
            images,
            format!(
                "images of shape {idims:?}, expected [N, {}, {}] ({} is not {})",
                spec.height,
                spec.width,
                images.display(),
                spec.title
            ),
        ));
    }
    let lb = read_maybe_gz(labels)?;
    let (ldims, ldata) = parse(&lb).map_err(|p| DataError::format(labels, p))?;
    if ldims.len() != 1 || ldims[0] != idims[0] {
        return Err(DataError::format(
            labels,
            format!(
                "labels of shape {ldims:?}, but {} holds {} images",
                images.display(),
                idims[0]
            ),
        ));
    }
    if idims[0] != count {
        return Err(DataError::format(
            images,
            format!(
                "{} images, but {} has {count} in this split",
                idims[0], spec.name
            ),
        ));
    }
    Ok(Split {
        images: idata.to_vec(),
        labels: ldata.to_vec(),
    })
}

/// Decodes the four IDX files of `spec`.
pub fn decode(spec: &DatasetSpec, files: &IdxFiles) -> Result<Decoded, DataError> {
    Ok(Decoded {
        train: read_split(
            spec,
            &files.train_images,
            &files.train_labels,
            spec.train_count,
        )?,
        test: read_split(
            spec,
            &files.test_images,
            &files.test_labels,
            spec.test_count,
        )?,
    })
}

/// Encodes a ubyte array as IDX (for tests and mirrors).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_rejects_bad_headers() {
        let e = encode(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(parse(&e).unwrap(), (vec![2, 3], &[1u8, 2, 3, 4, 5, 6][..]));
        assert!(parse(&e[..e.len() - 1]).unwrap_err().contains("holds 5"));
        assert!(parse(b"\x00\x00\x0d\x01").unwrap_err().contains("0x0d"));
        assert!(parse(b"PK\x03\x04").unwrap_err().contains("magic"));
    }

    #[test]
    fn finds_either_spelling() {
        let files: Vec<PathBuf> = [
            "a/train-images-idx3-ubyte.gz",
            "a/train-labels.idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte.gz",
            "x.txt",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let f = IdxFiles::find(&files).unwrap();
        assert_eq!(f.train_labels, PathBuf::from("a/train-labels.idx1-ubyte"));
        assert!(IdxFiles::find(&files[1..]).is_none());
    }
}
