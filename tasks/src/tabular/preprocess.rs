//! The column transformer of MLGym's House Price baseline, with scikit-learn semantics:
//!
//! * numeric (int64/float64) columns: mean imputation (`SimpleImputer(strategy="mean")`,
//!   which drops a column with no observed value), then standardisation with the
//!   population standard deviation (`StandardScaler`; a constant column keeps scale 1);
//! * text (object) columns: missing values become the category `"missing"`
//!   (`SimpleImputer(strategy="constant")`), then one-hot encoding over the sorted
//!   categories seen in training; an unknown category encodes as all zeros
//!   (`OneHotEncoder(handle_unknown="ignore")`).
//!
//! Output columns: the numeric features in header order, then each categorical column's
//! categories in sorted order.

use super::frame::{Frame, Kind};
use super::linalg::Matrix;

/// The category that stands for a missing text value.
pub const MISSING: &str = "missing";

/// A fitted numeric column.
#[derive(Clone, Debug, PartialEq)]
pub struct NumericFeature {
    /// Column name.
    pub name: String,
    /// Value imputed for missing cells (the training mean).
    pub fill: f64,
    /// Mean subtracted by the scaler.
    pub mean: f64,
    /// Divisor of the scaler (population standard deviation, or 1 for a constant column).
    pub scale: f64,
}

/// A fitted categorical column.
#[derive(Clone, Debug, PartialEq)]
pub struct CategoricalFeature {
    /// Column name.
    pub name: String,
    /// Categories seen in training, sorted.
    pub categories: Vec<String>,
}

/// Why a frame cannot be transformed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PreprocessError {
    /// A fitted column is absent.
    #[error("column `{0}` is missing")]
    MissingColumn(String),
    /// A numeric column holds text or a non-finite number.
    #[error("line {line}, column `{column}`: `{value}` is not a finite number")]
    NotNumeric {
        /// File line of the row.
        line: usize,
        /// Column.
        column: String,
        /// The cell.
        value: String,
    },
}

/// A fitted transformer.
#[derive(Clone, Debug, PartialEq)]
pub struct Preprocessor {
    /// Numeric features, header order.
    pub numeric: Vec<NumericFeature>,
    /// Categorical features, header order.
    pub categorical: Vec<CategoricalFeature>,
    /// Numeric columns dropped because training had no value in them.
    pub dropped: Vec<String>,
}

impl Preprocessor {
    /// Fits on `train`, ignoring the columns in `exclude` (ids, the target).
    pub fn fit(train: &Frame, exclude: &[&str]) -> Result<Preprocessor, PreprocessError> {
        let mut numeric = Vec::new();
        let mut categorical = Vec::new();
        let mut dropped = Vec::new();
        for col in train
            .columns
            .iter()
            .filter(|c| !exclude.contains(&c.name.as_str()))
        {
            if col.kind == Kind::Text {
                let mut cats: Vec<String> = col
                    .cells
                    .iter()
                    .map(|c| c.as_deref().unwrap_or(MISSING).to_string())
                    .collect();
                cats.sort_unstable();
                cats.dedup();
                categorical.push(CategoricalFeature {
                    name: col.name.clone(),
                    categories: cats,
                });
                continue;
            }
            let values = numbers(train, &col.name)?;
            let observed: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            if observed.is_empty() {
                dropped.push(col.name.clone());
                continue;
            }
            let fill = observed.iter().sum::<f64>() / observed.len() as f64;
            let imputed: Vec<f64> = values
                .iter()
                .map(|&v| if v.is_nan() { fill } else { v })
                .collect();
            let n = imputed.len() as f64;
            let mean = imputed.iter().sum::<f64>() / n;
            let var = imputed.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            numeric.push(NumericFeature {
                name: col.name.clone(),
                fill,
                mean,
                scale: scale_of(var, mean, n),
            });
        }
        Ok(Preprocessor {
            numeric,
            categorical,
            dropped,
        })
    }

    /// Number of output features.
    pub fn n_features(&self) -> usize {
        self.numeric.len()
            + self
                .categorical
                .iter()
                .map(|c| c.categories.len())
                .sum::<usize>()
    }

    /// Output feature names (`col` for numeric, `col=category` for one-hot).
    pub fn feature_names(&self) -> Vec<String> {
        let num = self.numeric.iter().map(|f| f.name.clone());
        let cat = self
            .categorical
            .iter()
            .flat_map(|c| c.categories.iter().map(move |k| format!("{}={k}", c.name)));
        num.chain(cat).collect()
    }

    /// Transforms `frame` into the feature matrix.
    pub fn transform(&self, frame: &Frame) -> Result<Matrix, PreprocessError> {
        let mut x = Matrix::zeros(frame.len(), self.n_features());
        for (j, f) in self.numeric.iter().enumerate() {
            let values = numbers(frame, &f.name)?;
            for (i, v) in values.into_iter().enumerate() {
                let v = if v.is_nan() { f.fill } else { v };
                x.row_mut(i)[j] = (v - f.mean) / f.scale;
            }
        }
        let mut offset = self.numeric.len();
        for f in &self.categorical {
            let col = frame
                .column(&f.name)
                .ok_or_else(|| PreprocessError::MissingColumn(f.name.clone()))?;
            for (i, cell) in col.cells.iter().enumerate() {
                let value = cell.as_deref().unwrap_or(MISSING);
                if let Ok(k) = f.categories.binary_search_by(|c| c.as_str().cmp(value)) {
                    x.row_mut(i)[offset + k] = 1.0;
                }
            }
            offset += f.categories.len();
        }
        Ok(x)
    }
}

/// A column's cells as finite numbers (NaN where missing), or the first bad cell.
fn numbers(frame: &Frame, name: &str) -> Result<Vec<f64>, PreprocessError> {
    let col = frame
        .column(name)
        .ok_or_else(|| PreprocessError::MissingColumn(name.to_string()))?;
    let bad = |i: usize| PreprocessError::NotNumeric {
        line: frame.lines.get(i).copied().unwrap_or(0),
        column: name.to_string(),
        value: col.cells[i].clone().unwrap_or_default(),
    };
    let values = col.numbers().map_err(bad)?;
    match values.iter().position(|v| v.is_infinite()) {
        Some(i) => Err(bad(i)),
        None => Ok(values),
    }
}

/// scikit-learn's scale: the standard deviation, or 1 where the variance is zero up to
/// rounding (`_is_constant_feature`: `var <= n·eps·var + (n·mean·eps)²`).
fn scale_of(var: f64, mean: f64, n: f64) -> f64 {
    let eps = f64::EPSILON;
    let bound = n * eps * var + (n * mean * eps).powi(2);
    if var <= bound {
        1.0
    } else {
        var.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::csv;

    fn frame(text: &str) -> Frame {
        Frame::from_table(&csv::parse(text.as_bytes()).unwrap())
    }

    #[test]
    fn fits_and_transforms_like_sklearn() {
        let train = frame("Id,a,b,c,y\n1,1,x,NA,10\n2,NA,NA,NA,20\n3,3,y,NA,30\n4,4,x,NA,40\n");
        let p = Preprocessor::fit(&train, &["Id", "y"]).unwrap();
        assert_eq!(p.dropped, ["c"]);
        assert_eq!(p.feature_names(), ["a", "b=missing", "b=x", "b=y"]);
        let a = &p.numeric[0];
        // Observed mean 8/3; imputed column [1, 8/3, 3, 4]: same mean, population std.
        assert!((a.fill - 8.0 / 3.0).abs() < 1e-15);
        let var = [1.0, 8.0 / 3.0, 3.0, 4.0]
            .iter()
            .map(|v: &f64| (v - 8.0 / 3.0).powi(2))
            .sum::<f64>()
            / 4.0;
        assert!((a.scale - var.sqrt()).abs() < 1e-15);
        let test = frame(
            "Id,a,b,c\n9,NA,z,5\n10,8/3,x,NA\n"
                .replace("8/3", "2")
                .as_str(),
        );
        let x = p.transform(&test).unwrap();
        assert_eq!(x.row(0)[1..], [0.0, 0.0, 0.0]); // unknown category `z`
        assert!(x.row(0)[0].abs() < 1e-15); // imputed mean ⇒ 0
        assert_eq!(x.row(1)[1..], [0.0, 1.0, 0.0]);
    }

    #[test]
    fn constant_columns_keep_scale_one_and_bad_cells_are_named() {
        let train = frame("a,y\n5,1\n5,2\n");
        let p = Preprocessor::fit(&train, &["y"]).unwrap();
        assert_eq!(p.numeric[0].scale, 1.0);
        let e = p.transform(&frame("a\n5\nabc\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3, column `a`: `abc` is not a finite number"
        );
        let e = p.transform(&frame("b\n5\n")).unwrap_err();
        assert_eq!(e, PreprocessError::MissingColumn("a".into()));
    }
}
