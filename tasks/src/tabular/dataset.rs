//! The two tabular datasets, where they live under the data root, and their manifest.
//!
//! Layout of a staged dataset (`$MLGYM_DATA/<name>/`):
//!
//! ```text
//! manifest.json          what was imported (source checksum, files, rows, checksums)
//! public/train.csv       shown to the agent as data/ (features + target)
//! public/validation.csv  (House Price only)
//! public/test.csv        features only
//! private/answer.csv     id,target of the test rows: read by the evaluator only
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::evaluator::EvalError;
use crate::registry::TaskData;

/// A labelled Kaggle table and how it is split.
#[derive(Debug)]
pub struct DatasetSpec {
    /// Name under the data root and on the command line (`house-price`).
    pub name: &'static str,
    /// What the source file is, for messages.
    pub source: &'static str,
    /// SHA-256 of the known Kaggle file (hex).
    pub sha256: &'static str,
    /// Data rows of the known file.
    pub rows: usize,
    /// The id column.
    pub id_column: &'static str,
    /// The target column (withheld from `test.csv`).
    pub target_column: &'static str,
    /// Every column of the known file, in order.
    pub columns: &'static [&'static str],
    /// The split: lines `NAME id id ...` (`#` comments), in output order; the last split
    /// is the held-out test split.
    pub splits: &'static str,
}

/// Kaggle House Prices `train.csv`, split exactly as MLGym split it (1022/146/292).
pub static HOUSE_PRICE: DatasetSpec = DatasetSpec {
    name: "house-price",
    source: "Kaggle House Prices train.csv (1460 rows, 81 columns)",
    sha256: "1e18addf81e5e4d347cc17ee6075bbe4a42b7fa26b9e5b063e8f692a5f929d41",
    rows: 1460,
    id_column: "Id",
    target_column: "SalePrice",
    columns: &[
        "Id",
        "MSSubClass",
        "MSZoning",
        "LotFrontage",
        "LotArea",
        "Street",
        "Alley",
        "LotShape",
        "LandContour",
        "Utilities",
        "LotConfig",
        "LandSlope",
        "Neighborhood",
        "Condition1",
        "Condition2",
        "BldgType",
        "HouseStyle",
        "OverallQual",
        "OverallCond",
        "YearBuilt",
        "YearRemodAdd",
        "RoofStyle",
        "RoofMatl",
        "Exterior1st",
        "Exterior2nd",
        "MasVnrType",
        "MasVnrArea",
        "ExterQual",
        "ExterCond",
        "Foundation",
        "BsmtQual",
        "BsmtCond",
        "BsmtExposure",
        "BsmtFinType1",
        "BsmtFinSF1",
        "BsmtFinType2",
        "BsmtFinSF2",
        "BsmtUnfSF",
        "TotalBsmtSF",
        "Heating",
        "HeatingQC",
        "CentralAir",
        "Electrical",
        "1stFlrSF",
        "2ndFlrSF",
        "LowQualFinSF",
        "GrLivArea",
        "BsmtFullBath",
        "BsmtHalfBath",
        "FullBath",
        "HalfBath",
        "BedroomAbvGr",
        "KitchenAbvGr",
        "KitchenQual",
        "TotRmsAbvGrd",
        "Functional",
        "Fireplaces",
        "FireplaceQu",
        "GarageType",
        "GarageYrBlt",
        "GarageFinish",
        "GarageCars",
        "GarageArea",
        "GarageQual",
        "GarageCond",
        "PavedDrive",
        "WoodDeckSF",
        "OpenPorchSF",
        "EnclosedPorch",
        "3SsnPorch",
        "ScreenPorch",
        "PoolArea",
        "PoolQC",
        "Fence",
        "MiscFeature",
        "MiscVal",
        "MoSold",
        "YrSold",
        "SaleType",
        "SaleCondition",
        "SalePrice",
    ],
    splits: include_str!("splits/house-price.txt"),
};

/// Kaggle Titanic `train.csv` (the labelled passengers), split 712/179.
pub static TITANIC: DatasetSpec = DatasetSpec {
    name: "titanic",
    source: "Kaggle Titanic train.csv (891 rows, 12 columns)",
    sha256: "4a437fde05fe5264e1701a7387ac6fb75393772ba38bb2c9c566405af5af4bd7",
    rows: 891,
    id_column: "PassengerId",
    target_column: "Survived",
    columns: &[
        "PassengerId",
        "Survived",
        "Pclass",
        "Name",
        "Sex",
        "Age",
        "SibSp",
        "Parch",
        "Ticket",
        "Fare",
        "Cabin",
        "Embarked",
    ],
    splits: include_str!("splits/titanic.txt"),
};

/// Every tabular dataset.
pub fn datasets() -> [&'static DatasetSpec; 2] {
    [&HOUSE_PRICE, &TITANIC]
}

/// The dataset called `name`.
pub fn find(name: &str) -> Option<&'static DatasetSpec> {
    datasets().into_iter().find(|d| d.name == name)
}

/// One named split and its ids, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// `train`, `validation` or `test`.
    pub name: String,
    /// Ids in split order.
    pub ids: Vec<i64>,
}

impl DatasetSpec {
    /// The embedded splits, in order (the last is the test split).
    pub fn split_ids(&self) -> Vec<Split> {
        self.splits
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let name = words.next()?.to_string();
                Some(Split {
                    name,
                    ids: words.filter_map(|w| w.parse().ok()).collect(),
                })
            })
            .collect()
    }

    /// `<root>/<name>`.
    pub fn dir(&self, data_root: &Path) -> PathBuf {
        data_root.join(self.name)
    }

    /// The directory shown to the agent as `data/`.
    pub fn public_dir(&self, data_root: &Path) -> PathBuf {
        self.dir(data_root).join("public")
    }

    /// The hidden answers of the test split.
    pub fn answer_path(&self, data_root: &Path) -> PathBuf {
        self.dir(data_root).join("private/answer.csv")
    }

    /// The manifest.
    pub fn manifest_path(&self, data_root: &Path) -> PathBuf {
        self.dir(data_root).join("manifest.json")
    }

    /// The command that stages this dataset.
    pub fn how_to_stage(&self) -> String {
        format!(
            "run `mlgym data import {} PATH/train.csv` with {}",
            self.name, self.source
        )
    }

    /// Whether the dataset is staged and intact (manifest present, every file there with
    /// its recorded size); `Err` says what is wrong.
    pub fn check_staged(&self, data_root: &Path) -> Result<Manifest, String> {
        let path = self.manifest_path(data_root);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let m: Manifest =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if m.format != MANIFEST_FORMAT || m.dataset != self.name || m.source.sha256 != self.sha256 {
            return Err(format!(
                "{} is from another version or dataset",
                path.display()
            ));
        }
        for f in &m.files {
            let p = self.dir(data_root).join(&f.path);
            match std::fs::metadata(&p) {
                Ok(md) if md.len() == f.bytes => {}
                Ok(md) => {
                    return Err(format!(
                        "{} has {} bytes, the manifest says {}",
                        p.display(),
                        md.len(),
                        f.bytes
                    ))
                }
                Err(e) => return Err(format!("{}: {e}", p.display())),
            }
        }
        Ok(m)
    }
}

/// Version of the manifest layout.
pub const MANIFEST_FORMAT: u32 = 1;

/// `manifest.json`: what an import produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// Dataset name.
    pub dataset: String,
    /// The imported file.
    pub source: SourceInfo,
    /// Id column.
    pub id_column: String,
    /// Target column.
    pub target_column: String,
    /// Files written, relative to the dataset directory.
    pub files: Vec<FileInfo>,
}

/// The imported source file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// SHA-256 (hex) of the file's content with `\n` line ends.
    pub sha256: String,
    /// Data rows.
    pub rows: usize,
}

/// One staged file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Path relative to the dataset directory (`public/train.csv`).
    pub path: String,
    /// Data rows (header excluded).
    pub rows: usize,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// [`TaskData`] for a tabular task: its dataset's `public/` directory is the agent's `data/`.
#[derive(Debug)]
pub struct TabularData {
    /// The dataset.
    pub spec: &'static DatasetSpec,
}

impl TaskData for TabularData {
    fn ready(&self, data_root: &Path) -> bool {
        self.spec.check_staged(data_root).is_ok()
    }

    fn public_dir(&self, data_root: &Path) -> Result<PathBuf, EvalError> {
        self.spec
            .check_staged(data_root)
            .map(|_| self.spec.public_dir(data_root))
            .map_err(|why| EvalError::DataMissing(format!("{why}; {}", self.spec.how_to_stage())))
    }

    fn how_to_stage(&self) -> String {
        self.spec.how_to_stage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_splits_have_the_documented_sizes_and_are_disjoint() {
        for (spec, sizes) in [
            (&HOUSE_PRICE, vec![1022, 146, 292]),
            (&TITANIC, vec![712, 179]),
        ] {
            let splits = spec.split_ids();
            assert_eq!(
                splits.iter().map(|s| s.ids.len()).collect::<Vec<_>>(),
                sizes,
                "{}",
                spec.name
            );
            assert_eq!(splits.last().map(|s| s.name.as_str()), Some("test"));
            let mut all: Vec<i64> = splits.iter().flat_map(|s| s.ids.clone()).collect();
            all.sort_unstable();
            assert_eq!(
                all,
                (1..=spec.rows as i64).collect::<Vec<_>>(),
                "{}",
                spec.name
            );
        }
        assert_eq!(HOUSE_PRICE.split_ids()[0].ids[..3], [1084, 1012, 1115]);
        assert_eq!(HOUSE_PRICE.columns.len(), 81);
        assert_eq!(find("titanic").map(|d| d.rows), Some(891));
        assert!(find("cifar10").is_none());
    }

    #[test]
    fn sha256_of_known_strings() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
