"""Starting point for the Titanic task: logistic regression on engineered features.

Reads data/train.csv, builds 15 features per passenger, fits an L2-regularised logistic
regression (lambda = 1, Newton's method) and writes submission.csv
(PassengerId,Survived) for data/test.csv. Needs only numpy.

Features: female; first and second class; age (missing -> training median) and an
age-missing flag; siblings/spouses; parents/children; log(1 + fare); embarked at
Cherbourg or Queenstown; title Master, Miss (Mlle, Ms), Mrs (Mme) or rare (not Mr); has a
known cabin. All are standardised with training statistics.

Usage: python train_and_predict.py
"""

import csv
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
LAMBDA = 1.0


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def number(value):
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def title_group(name):
    _, _, rest = name.partition(", ")
    title = rest.split(".", 1)[0].strip() if "." in rest else ""
    if title == "Mr":
        return "mr"
    if title == "Master":
        return "master"
    if title in ("Miss", "Mlle", "Ms"):
        return "miss"
    if title in ("Mrs", "Mme"):
        return "mrs"
    return "rare"


def raw_features(row, age_median, fare_median):
    pclass = number(row["Pclass"])
    age = number(row["Age"])
    fare = number(row["Fare"])
    fare = max(fare_median if fare is None else fare, 0.0)
    embarked = row["Embarked"] or "S"
    title = title_group(row["Name"])
    return [
        float(row["Sex"] == "female"),
        float(pclass == 1),
        float(pclass == 2),
        age_median if age is None else age,
        float(age is None),
        number(row["SibSp"]) or 0.0,
        number(row["Parch"]) or 0.0,
        math.log1p(fare),
        float(embarked == "C"),
        float(embarked == "Q"),
        float(title == "master"),
        float(title == "miss"),
        float(title == "mrs"),
        float(title == "rare"),
        float(bool(row["Cabin"])),
    ]


def fit_logistic(x, y, lam):
    """Newton's method on sum(log-loss) + lam/2 * |w|^2 (intercept not penalised)."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    theta = np.zeros(xb.shape[1])
    penalty = lam * np.eye(xb.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(xb @ theta)))
        grad = xb.T @ (p - y) + penalty @ theta
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-12:
            break
    return theta


def main():
    train = read_rows(os.path.join(DATA, "train.csv"))
    test = read_rows(os.path.join(DATA, "test.csv"))
    age_median = float(np.median([a for a in (number(r["Age"]) for r in train) if a is not None]))
    fare_median = float(np.median([f for f in (number(r["Fare"]) for r in train) if f is not None]))
    x_train = np.array([raw_features(r, age_median, fare_median) for r in train])
    x_test = np.array([raw_features(r, age_median, fare_median) for r in test])
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    y = np.array([float(r["Survived"]) for r in train])

    theta = fit_logistic(x_train, y, LAMBDA)

    def predict(x):
        return (theta[0] + x @ theta[1:] >= 0).astype(int)

    print(f"training accuracy: {(predict(x_train) == y).mean():.4f}")
    with open(os.path.join(HERE, "submission.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["PassengerId", "Survived"])
        for row, label in zip(test, predict(x_test)):
            w.writerow([row["PassengerId"], int(label)])
    print(f"wrote submission.csv ({len(test)} rows)")


if __name__ == "__main__":
    main()
