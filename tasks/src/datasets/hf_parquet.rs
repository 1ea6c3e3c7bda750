//! The Hugging Face parquet exports (`zalando-datasets/fashion_mnist`,
//! `uoft-cs/cifar10`): a `train` and a `test` file (or shards of them), each with an image
//! column (`image` or `img`: a struct of PNG `bytes` and `path`) and an integer `label`
//! column. Read with parquet's row API (no Arrow); images decoded with the `image` crate.

use std::path::{Path, PathBuf};

use parquet::file::reader::SerializedFileReader;
use parquet::record::{Field, Row};

use super::registry::DatasetSpec;
use super::{DataError, Decoded, Split};

/// The parquet files of each split, in shard order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParquetFiles {
    /// Training shards.
    pub train: Vec<PathBuf>,
    /// Test shards.
    pub test: Vec<PathBuf>,
}

fn split_of(p: &Path) -> Option<&'static str> {
    let name = p.file_name()?.to_str()?;
    if !name.ends_with(".parquet") {
        return None;
    }
    let parent = p
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    ["train", "test"].into_iter().find(|s| {
        name.starts_with(&format!("{s}-")) || name.starts_with(&format!("{s}.")) || parent == *s
    })
}

impl ParquetFiles {
    /// Finds `train-*.parquet` / `test-*.parquet` (or `train/*.parquet`, `test/*.parquet`,
    /// the `refs/convert/parquet` layout) among `files`; `None` unless both splits exist.
    pub fn find(files: &[PathBuf]) -> Option<ParquetFiles> {
        let mut pf = ParquetFiles {
            train: Vec::new(),
            test: Vec::new(),
        };
        for p in files {
            match split_of(p) {
                Some("train") => pf.train.push(p.clone()),
                Some("test") => pf.test.push(p.clone()),
                _ => {}
            }
        }
        pf.train.sort();
        pf.test.sort();
        (!pf.train.is_empty() && !pf.test.is_empty()).then_some(pf)
    }
}

fn label_of(f: &Field) -> Option<i64> {
    match f {
        Field::Byte(v) => Some(i64::from(*v)),
        Field::Short(v) => Some(i64::from(*v)),
        Field::Int(v) => Some(i64::from(*v)),
        Field::Long(v) => Some(*v),
        Field::UByte(v) => Some(i64::from(*v)),
        Field::UShort(v) => Some(i64::from(*v)),
        Field::UInt(v) => Some(i64::from(*v)),
        Field::ULong(v) => i64::try_from(*v).ok(),
        _ => None,
    }
}

fn png_of(f: &Field) -> Option<&[u8]> {
    match f {
        Field::Group(g) => g
            .get_column_iter()
            .find(|(n, _)| n.as_str() == "bytes")
            .and_then(|(_, v)| match v {
                Field::Bytes(b) => Some(b.data()),
                _ => None,
            }),
        Field::Bytes(b) => Some(b.data()),
        _ => None,
    }
}

/// The rows of the parquet file `path`, in order; each failure names the file (and the
/// row) and says what to do. Shared by every Hugging Face parquet export mlgym reads.
pub(crate) fn rows(
    path: &Path,
) -> Result<impl Iterator<Item = Result<Row, DataError>> + use<'_>, DataError> {
    let bad = move |p: String| DataError::format(path, p);
    let f = std::fs::File::open(path).map_err(|e| DataError::read(path, e))?;
    let reader = SerializedFileReader::new(f).map_err(|e| {
        bad(format!(
            "not a readable parquet file ({e}); copy or download it again"
        ))
    })?;
    let rows = reader
        .into_iter()
        .enumerate()
        .map(move |(i, row)| row.map_err(|e| bad(format!("row {i}: {e}"))));
    Ok(rows)
}

/// Appends the rows of one parquet file to `out`.
fn read_file(spec: &DatasetSpec, path: &Path, out: &mut Split) -> Result<(), DataError> {
    let bad = |p: String| DataError::format(path, p);
    let want_color = if spec.channels == 1 {
        image::ColorType::L8
    } else {
        image::ColorType::Rgb8
    };
    for (i, row) in rows(path)?.enumerate() {
        let row = row?;
        let mut label = None;
        let mut png = None;
        for (name, field) in row.get_column_iter() {
            match name.as_str() {
                "label" => label = label_of(field),
                "image" | "img" => png = png_of(field),
                _ => {}
            }
        }
        let (Some(label), Some(png)) = (label, png) else {
            return Err(bad(format!(
                "row {i}: expected an `image` (or `img`) column of PNG bytes and an integer `label` column; is this {}'s Hugging Face export?",
                spec.name
            )));
        };
        if !(0..spec.classes.len() as i64).contains(&label) {
            return Err(bad(format!(
                "row {i}: label {label} is outside 0..{}",
                spec.classes.len() - 1
            )));
        }
        let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .map_err(|e| bad(format!("row {i}: bad PNG ({e})")))?;
        if img.color() != want_color
            || img.width() as usize != spec.width
            || img.height() as usize != spec.height
        {
            return Err(bad(format!(
                "row {i}: a {}x{} {:?} image, expected {}x{} {:?}",
                img.width(),
                img.height(),
                img.color(),
                spec.width,
                spec.height,
                want_color
            )));
        }
        out.images.extend_from_slice(img.as_bytes());
        out.labels.push(label as u8);
    }
    Ok(())
}

/// Decodes both splits of a parquet export.
pub fn decode(spec: &DatasetSpec, files: &ParquetFiles) -> Result<Decoded, DataError> {
    let mut d = Decoded::default();
    for (paths, split, want, what) in [
        (&files.train, &mut d.train, spec.train_count, "training"),
        (&files.test, &mut d.test, spec.test_count, "test"),
    ] {
        for p in paths {
            read_file(spec, p, split)?;
        }
        if split.len() != want {
            let first = paths.first().cloned().unwrap_or_default();
            return Err(DataError::format(
                first,
                format!("{} {what} rows, but {} has {want}", split.len(), spec.name),
            ));
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_both_layouts() {
        let files: Vec<PathBuf> = [
            "d/plain_text/train-00000-of-00001.parquet",
            "d/plain_text/test-00000-of-00001.parquet",
            "README.md",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let f = ParquetFiles::find(&files).unwrap();
        assert_eq!((f.train.len(), f.test.len()), (1, 1));
        let conv: Vec<PathBuf> = [
            "x/train/0001.parquet",
            "x/train/0000.parquet",
            "x/test/0000.parquet",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let f = ParquetFiles::find(&conv).unwrap();
        assert_eq!(f.train[0], PathBuf::from("x/train/0000.parquet"));
        assert!(ParquetFiles::find(&conv[..2]).is_none());
    }
}
