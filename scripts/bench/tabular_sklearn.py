"""The House Price pipeline end to end in pandas + scikit-learn, for scripts/bench/tabular.sh.

Does what `mlgym data import house-price` + `mlgym baseline --task
regressionKaggleHousePrice` do: verify the Kaggle file's SHA-256, split it by the Id lists
in tasks/src/tabular/splits/house-price.txt, write train/validation/test and the answers,
read them back, fit mean-impute + scale / "missing"-impute + one-hot + Ridge(alpha=0.1)
on train, predict test, write submission.csv, and score it joined on Id.

Usage: python tabular_sklearn.py TRAIN_CSV SPLIT_TXT WORK_DIR
Prints one JSON line: rmse, r2, seconds spent importing the libraries, seconds for the work.
"""

import sys
import time

t0 = time.perf_counter()
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.metrics import mean_squared_error, r2_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

SHA256 = "1e18addf81e5e4d347cc17ee6075bbe4a42b7fa26b9e5b063e8f692a5f929d41"


def main():
    src, split_txt, work = sys.argv[1:4]
    t1 = time.perf_counter()
    # Import: verify, split, write.
    raw = open(src, "rb").read()
    if hashlib.sha256(raw).hexdigest() != SHA256:
        sys.exit(f"{src}: checksum mismatch")
    splits = {}
    for line in open(split_txt):
        if line.strip() and not line.startswith("#"):
            name, *ids = line.split()
            splits[name] = [int(i) for i in ids]
    full = pd.read_csv(src).set_index("Id")
    os.makedirs(os.path.join(work, "public"), exist_ok=True)
    os.makedirs(os.path.join(work, "private"), exist_ok=True)
    for name in ("train", "validation"):
        full.loc[splits[name]].reset_index().to_csv(os.path.join(work, f"public/{name}.csv"), index=False)
    test = full.loc[splits["test"]].reset_index()
    test.drop(columns=["SalePrice"]).to_csv(os.path.join(work, "public/test.csv"), index=False)
    test[["Id", "SalePrice"]].to_csv(os.path.join(work, "private/answer.csv"), index=False)

    # Baseline: fit on train, predict test.
    train = pd.read_csv(os.path.join(work, "public/train.csv"))
    test = pd.read_csv(os.path.join(work, "public/test.csv"))
    x = train.drop(columns=["Id", "SalePrice"])
    numeric = x.select_dtypes(include="number").columns
    categorical = x.columns.difference(numeric, sort=False)
    x[categorical] = x[categorical].astype(object)
    x_test = test.drop(columns=["Id"])
    x_test[categorical] = x_test[categorical].astype(object)
    prep = ColumnTransformer([
        ("num", Pipeline([("i", SimpleImputer(strategy="mean")), ("s", StandardScaler())]), list(numeric)),
        ("cat", Pipeline([("i", SimpleImputer(strategy="constant", fill_value="missing")),
                          ("o", OneHotEncoder(handle_unknown="ignore"))]), list(categorical)),
    ], sparse_threshold=0)
    model = Pipeline([("p", prep), ("r", Ridge(alpha=0.1))]).fit(x, train["SalePrice"])
    pd.DataFrame({"Id": test["Id"], "SalePrice": model.predict(x_test)}).to_csv(
        os.path.join(work, "submission.csv"), index=False)

    # Evaluation: join on Id.
    sub = pd.read_csv(os.path.join(work, "submission.csv"))
    ans = pd.read_csv(os.path.join(work, "private/answer.csv"))
    if sub["Id"].duplicated().any() or not np.isfinite(sub["SalePrice"]).all():
        sys.exit("bad submission")
    merged = ans.merge(sub, on="Id", suffixes=("_true", "_pred"), validate="one_to_one")
    if len(merged) != len(ans):
        sys.exit("missing ids")
    y, p = merged["SalePrice_true"], merged["SalePrice_pred"]
    t2 = time.perf_counter()
    print(json.dumps({
        "rmse": float(np.sqrt(mean_squared_error(y, p))),
        "r2": float(r2_score(y, p)),
        "import_libraries_s": t1 - t0,
        "work_s": t2 - t1,
    }))


if __name__ == "__main__":
    main()
