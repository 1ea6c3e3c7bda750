"""Reference solution for the House Price task: ridge regression on simple features.

Pipeline (fitted on data/train.csv only):
  * numeric columns: fill missing values with the training mean, then standardise
    (subtract the mean, divide by the population standard deviation);
  * text columns: fill missing values with the category "missing", then one-hot encode
    (a category never seen in training encodes as all zeros);
  * ridge regression (alpha = 0.1) with an unpenalised intercept.

It prints RMSE and R2 on the training and validation sets and writes submission.csv
(Id,SalePrice) for data/test.csv. It uses scikit-learn and pandas when both are
installed and plain numpy otherwise; both paths compute the same model.

Usage: python baseline.py
"""

import csv
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
ID, TARGET = "Id", "SalePrice"
ALPHA = 0.1
# Strings pandas reads as missing values by default.
NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
      "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}


def rmse_r2(y, p):
    y, p = np.asarray(y, float), np.asarray(p, float)
    ss_res = float(((y - p) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return math.sqrt(ss_res / len(y)), 1.0 - ss_res / ss_tot


# ---------------------------------------------------------------- numpy only

def read_table(path):
    """Columns as lists of strings (None where missing)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    return {name: [None if r[j] in NA else r[j] for r in body] for j, name in enumerate(header)}


def is_numeric(values):
    for v in values:
        if v is None:
            continue
        try:
            float(v)
        except ValueError:
            return False
    return True


class Features:
    """Mean imputation + standardisation, and missing-as-category + one-hot."""

    def fit(self, table):
        self.numeric, self.categorical = [], []
        for name, values in table.items():
            if name in (ID, TARGET):
                continue
            if is_numeric(values):
                x = np.array([np.nan if v is None else float(v) for v in values])
                if np.isnan(x).all():
                    continue  # nothing to learn from
                fill = np.nanmean(x)
                x = np.where(np.isnan(x), fill, x)
                std = x.std()
                self.numeric.append((name, fill, x.mean(), std if std > 0 else 1.0))
            else:
                cats = sorted({"missing" if v is None else v for v in values})
                self.categorical.append((name, {c: k for k, c in enumerate(cats)}))
        return self

    def transform(self, table):
        n = len(next(iter(table.values())))
        blocks = []
        for name, fill, mean, scale in self.numeric:
            x = np.array([fill if v is None else float(v) for v in table[name]])
            blocks.append(((x - mean) / scale)[:, None])
        for name, index in self.categorical:
            onehot = np.zeros((n, len(index)))
            for i, v in enumerate(table[name]):
                k = index.get("missing" if v is None else v)
                if k is not None:
                    onehot[i, k] = 1.0
            blocks.append(onehot)
        return np.hstack(blocks)


class Ridge:
    def fit(self, x, y):
        self.x_mean, self.y_mean = x.mean(axis=0), y.mean()
        xc, yc = x - self.x_mean, y - self.y_mean
        gram = xc.T @ xc + ALPHA * np.eye(x.shape[1])
        self.coef = np.linalg.solve(gram, xc.T @ yc)
        self.intercept = self.y_mean - self.x_mean @ self.coef
        return self

    def predict(self, x):
        return x @ self.coef + self.intercept


def run_numpy():
    train = read_table(os.path.join(DATA, "train.csv"))
    val = read_table(os.path.join(DATA, "validation.csv"))
    test = read_table(os.path.join(DATA, "test.csv"))
    features = Features().fit(train)
    y_train = np.array([float(v) for v in train[TARGET]])
    y_val = np.array([float(v) for v in val[TARGET]])
    model = Ridge().fit(features.transform(train), y_train)
    fitted = {
        "train": (y_train, model.predict(features.transform(train))),
        "validation": (y_val, model.predict(features.transform(val))),
    }
    return fitted, test[ID], model.predict(features.transform(test))


# ------------------------------------------------------ scikit-learn + pandas

def run_sklearn():
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge as SkRidge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = pd.read_csv(os.path.join(DATA, "train.csv"))
    val = pd.read_csv(os.path.join(DATA, "validation.csv"))
    test = pd.read_csv(os.path.join(DATA, "test.csv"))
    x_train = train.drop(columns=[ID, TARGET])
    numeric = x_train.select_dtypes(include="number").columns
    categorical = x_train.columns.difference(numeric, sort=False)
    x_train[categorical] = x_train[categorical].astype(object)
    prep = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="mean")),
                          ("scale", StandardScaler())]), list(numeric)),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), list(categorical)),
    ], sparse_threshold=0)  # dense output: Ridge then solves exactly (Cholesky)
    model = Pipeline([("prep", prep), ("ridge", SkRidge(alpha=ALPHA))])
    model.fit(x_train, train[TARGET])

    def predict(frame):
        x = frame.drop(columns=[c for c in (ID, TARGET) if c in frame.columns])
        x[categorical] = x[categorical].astype(object)
        return model.predict(x)

    fitted = {
        "train": (train[TARGET].to_numpy(), predict(train)),
        "validation": (val[TARGET].to_numpy(), predict(val)),
    }
    return fitted, test[ID].tolist(), predict(test)


def main():
    try:
        import pandas  # noqa: F401
        import sklearn  # noqa: F401
        run, using = run_sklearn, "scikit-learn"
    except ImportError:
        run, using = run_numpy, "numpy"
    fitted, ids, predictions = run()
    print(f"model: ridge regression (alpha={ALPHA}) via {using}")
    for split, (y, p) in fitted.items():
        rmse, r2 = rmse_r2(y, p)
        print(f"{split:>10}: rmse {rmse:12.2f}  r2 {r2:.6f}")
    with open(os.path.join(HERE, "submission.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([ID, TARGET])
        for i, p in zip(ids, predictions):
            w.writerow([i, repr(float(p))])
    print(f"wrote submission.csv ({len(ids)} rows)")


if __name__ == "__main__":
    main()
