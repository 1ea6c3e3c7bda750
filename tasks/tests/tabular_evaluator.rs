//! The tabular evaluator without any staged data: metrics against scikit-learn's values,
//! row-order invariance, and one test per kind of bad submission, asserting its message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use mlgym_tasks::evaluator::EvalError;
use mlgym_tasks::tabular::dataset::{DatasetSpec, HOUSE_PRICE, TITANIC};
use mlgym_tasks::tabular::evaluate::{read_submission, score, Answers, TabularEvaluator, Target};

/// Writes `bytes` as `submission.csv` in a fresh directory.
fn submission(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("submission.csv");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn houses() -> Answers {
    Answers {
        ids: vec![1, 2, 3],
        targets: vec![100.0, 200.0, 400.0],
    }
}

/// The `Format` message for a House Price submission with content `text`.
fn house_error(text: &str) -> String {
    let (_d, path) = submission(text.as_bytes());
    match read_submission(&path, &HOUSE_PRICE, Target::Real, &houses()) {
        Err(EvalError::Format(m)) => m,
        other => panic!("expected a format error for {text:?}, got {other:?}"),
    }
}

fn metrics_of(
    spec: &DatasetSpec,
    target: Target,
    answers: &Answers,
    text: &str,
) -> mlgym_tasks::Metrics {
    let (_d, path) = submission(text.as_bytes());
    let preds = read_submission(&path, spec, target, answers).unwrap();
    score(answers, &preds, target)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

#[test]
fn rmse_and_r2_equal_scikit_learn() {
    // (y, predictions, sklearn sqrt(mean_squared_error), sklearn r2_score). The last three
    // are also easy by hand: SSres 8, SStot 2 ⇒ r2 −3; predicting the mean ⇒ r2 0;
    // SSres 1.25, SStot 42/9.
    let cases: [(&[f64], &[f64], f64, f64); 4] = [
        (
            &[208500.0, 181500.0, 223500.0, 140000.0, 250000.0],
            &[200000.5, 190000.0, 215000.25, 150000.0, 260000.0],
            9129.482464110439,
            0.9410079908395028,
        ),
        (
            &[1.0, 2.0, 3.0],
            &[3.0, 2.0, 1.0],
            (8.0f64 / 3.0).sqrt(),
            -3.0,
        ),
        (
            &[100.0, 200.0, 300.0, 400.0],
            &[250.0; 4],
            12500f64.sqrt(),
            0.0,
        ),
        (
            &[1e6, 1e6 + 1.0, 1e6 + 3.0],
            &[1e6 + 0.5, 1e6 + 1.0, 1e6 + 2.0],
            (1.25f64 / 3.0).sqrt(),
            1.0 - 1.25 / (42.0 / 9.0),
        ),
    ];
    for (y, p, want_rmse, want_r2) in cases {
        let answers = Answers {
            ids: (1..=y.len() as i64).collect(),
            targets: y.to_vec(),
        };
        let mut text = String::from("Id,SalePrice\n");
        for (i, v) in p.iter().enumerate() {
            text.push_str(&format!("{},{v}\n", i + 1));
        }
        let m = metrics_of(&HOUSE_PRICE, Target::Real, &answers, &text);
        assert!(
            rel(m["rmse"], want_rmse) < 1e-9,
            "rmse {} vs {want_rmse}",
            m["rmse"]
        );
        if want_r2 == 0.0 {
            assert!(m["r2"].abs() < 1e-12, "r2 {}", m["r2"]);
        } else {
            assert!(rel(m["r2"], want_r2) < 1e-9, "r2 {} vs {want_r2}", m["r2"]);
        }
        assert_eq!(m.len(), 2);
    }
    // A constant target: 1 for exact predictions, 0 otherwise (scikit-learn's convention).
    let flat = Answers {
        ids: vec![1, 2],
        targets: vec![5.0, 5.0],
    };
    assert_eq!(
        metrics_of(
            &HOUSE_PRICE,
            Target::Real,
            &flat,
            "Id,SalePrice\n1,5\n2,5\n"
        )["r2"],
        1.0
    );
    assert_eq!(
        metrics_of(
            &HOUSE_PRICE,
            Target::Real,
            &flat,
            "Id,SalePrice\n1,5\n2,6\n"
        )["r2"],
        0.0
    );
}

#[test]
fn accuracy_is_the_fraction_of_matches() {
    let answers = Answers {
        ids: vec![10, 11, 12, 13],
        targets: vec![0.0, 1.0, 1.0, 0.0],
    };
    let m = metrics_of(
        &TITANIC,
        Target::Binary,
        &answers,
        "PassengerId,Survived\n13,0\n12,0\n11,1.0\n10,True\n",
    );
    assert_eq!(m["accuracy"], 0.5);
    assert_eq!(m.len(), 1);
}

#[test]
fn a_shuffled_submission_scores_bit_for_bit_the_same() {
    // 60 answers and predictions from a fixed LCG.
    let mut s = 12345u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = 60;
    let ids: Vec<i64> = (0..n).map(|i| 1461 + 3 * i).collect();
    let answers = Answers {
        ids: ids.clone(),
        targets: (0..n).map(|_| 50000.0 + 400000.0 * next()).collect(),
    };
    let preds: Vec<f64> = answers
        .targets
        .iter()
        .map(|t| t * (0.8 + 0.4 * next()))
        .collect();
    let ordered: String = std::iter::once("Id,SalePrice\n".to_string())
        .chain(ids.iter().zip(&preds).map(|(i, p)| format!("{i},{p}\n")))
        .collect();
    // Reversed, interleaved, CRLF line ends, quoted fields, an extra column first.
    let mut order: Vec<usize> = (0..n as usize).rev().collect();
    order.rotate_left(17);
    let shuffled: String = std::iter::once("note,SalePrice,Id\r\n".to_string())
        .chain(
            order
                .iter()
                .map(|&k| format!("\"x, {k}\",\"{}\",{}\r\n", preds[k], ids[k])),
        )
        .collect();
    let a = metrics_of(&HOUSE_PRICE, Target::Real, &answers, &ordered);
    let b = metrics_of(&HOUSE_PRICE, Target::Real, &answers, &shuffled);
    assert_eq!(a["rmse"].to_bits(), b["rmse"].to_bits());
    assert_eq!(a["r2"].to_bits(), b["r2"].to_bits());
    assert!(a["r2"] > 0.0 && a["r2"] < 1.0);
}

#[test]
fn a_missing_file_is_submission_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_submission(
        &dir.path().join("submission.csv"),
        &HOUSE_PRICE,
        Target::Real,
        &houses(),
    )
    .unwrap_err();
    assert!(matches!(e, EvalError::SubmissionNotFound(_)), "{e:?}");
    assert!(e.to_string().contains("submission.csv"), "{e}");
}

#[test]
fn an_empty_file() {
    assert_eq!(
        house_error(""),
        "submission.csv: the file is empty: write the header `Id,SalePrice` and one row per Id of data/test.csv (3 rows)"
    );
    assert!(house_error("\n\n").contains("the file is empty"));
}

#[test]
fn a_header_only_file() {
    assert_eq!(
        house_error("Id,SalePrice\n"),
        "submission.csv: the file has a header but no rows: write one row per Id of data/test.csv (3 rows)"
    );
}

#[test]
fn a_file_that_is_not_utf8() {
    let (_d, path) = submission(b"Id,SalePrice\n1,100\n2,\xe9\xff\n3,5\n");
    let e = read_submission(&path, &HOUSE_PRICE, Target::Real, &houses())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "submission.csv: line 3: the file is not UTF-8 text (invalid byte 0xe9); save it as UTF-8"
    );
}

#[test]
fn a_missing_column() {
    assert_eq!(
        house_error("Id,Price\n1,1\n2,2\n3,3\n"),
        "submission.csv: missing column `SalePrice` (header: `Id,Price`); the header must be `Id,SalePrice`"
    );
    assert!(house_error("SalePrice\n1\n").contains("missing column `Id` (header: `SalePrice`)"));
    let e = house_error("x,y\n1,2\n");
    assert!(e.contains("missing column `Id` and `SalePrice`"), "{e}");
}

#[test]
fn nan_and_infinite_predictions() {
    assert_eq!(
        house_error("Id,SalePrice\n1,100\n2,NaN\n3,1\n"),
        "submission.csv: line 3 (Id 2): SalePrice `NaN` is not a finite number"
    );
    assert_eq!(
        house_error("Id,SalePrice\n1,inf\n2,1\n3,-infinity\n"),
        "submission.csv: line 2 (Id 1): SalePrice `inf` is not a finite number; \
         line 4 (Id 3): SalePrice `-infinity` is not a finite number"
    );
}

#[test]
fn non_numeric_and_empty_predictions() {
    assert_eq!(
        house_error("Id,SalePrice\n1,100\n2,$200\n3,1\n"),
        "submission.csv: line 3 (Id 2): SalePrice `$200` is not a number"
    );
    assert_eq!(
        house_error("Id,SalePrice\n1,\n2,2\n3,1\n"),
        "submission.csv: line 2 (Id 1): SalePrice is empty; every row needs a prediction"
    );
}

#[test]
fn ids_that_are_not_integers() {
    assert_eq!(
        house_error("Id,SalePrice\n1,1\nabc,2\n3,1\n"),
        "submission.csv: line 3: Id `abc` is not an integer"
    );
    assert!(house_error("Id,SalePrice\n1.5,1\n2,2\n3,1\n")
        .contains("line 2: Id `1.5` is not an integer"));
}

#[test]
fn duplicate_ids() {
    assert_eq!(
        house_error("Id,SalePrice\n1,1\n2,2\n1,3\n3,3\n"),
        "submission.csv: line 4: Id 1 appears twice (first on line 2)"
    );
}

#[test]
fn extra_ids() {
    assert_eq!(
        house_error("Id,SalePrice\n1,1\n2,2\n3,3\n99,4\n"),
        "submission.csv: line 5: Id 99 is not in the test set (data/test.csv)"
    );
}

#[test]
fn missing_ids_and_wrong_row_count() {
    assert_eq!(
        house_error("Id,SalePrice\n1,1\n3,3\n"),
        "submission.csv: 2 rows, but the test set has 3: no prediction for Id 2"
    );
    // Many missing ids are summarised.
    let answers = Answers {
        ids: (1..=20).collect(),
        targets: vec![1.0; 20],
    };
    let (_d, path) = submission(b"Id,SalePrice\n5,1\n");
    let e = read_submission(&path, &HOUSE_PRICE, Target::Real, &answers)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "submission.csv: 1 rows, but the test set has 20: no prediction for Id 1, 2, 3, 4, 6, 7, 8, 9, 10, 11 and 9 more"
    );
}

#[test]
fn malformed_csv_names_the_line() {
    assert_eq!(
        house_error("Id,SalePrice\n1,1\n2\n3,3\n"),
        "submission.csv: line 3: 1 fields, but the header has 2"
    );
    assert_eq!(
        house_error("Id,SalePrice\n1,1\n2,\"2\n3,3\n"),
        "submission.csv: line 3: a quoted field is never closed (missing `\"`)"
    );
    assert!(house_error("Id,SalePrice,Id\n1,1,1\n").contains("line 1: column `Id` appears twice"));
}

#[test]
fn many_problems_are_listed_up_to_five() {
    let e = house_error("Id,SalePrice\n1,a\n2,b\n3,c\n4,d\n5,e\n6,f\n7,g\n");
    assert!(
        e.starts_with("submission.csv: line 2 (Id 1): SalePrice `a` is not a number; "),
        "{e}"
    );
    assert!(e.contains("line 6 (Id 5)") && !e.contains("line 7"), "{e}");
    assert!(e.ends_with("; and 2 more problems"), "{e}");
}

#[test]
fn titanic_predictions_must_be_zero_or_one() {
    let answers = Answers {
        ids: vec![1, 2],
        targets: vec![0.0, 1.0],
    };
    let (_d, path) = submission(b"PassengerId,Survived\n1,0.7\n2,1\n");
    let e = read_submission(&path, &TITANIC, Target::Binary, &answers)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "submission.csv: line 2 (PassengerId 1): Survived `0.7` must be 0 or 1"
    );
    let (_d, path) = submission(b"PassengerId,Survived\n1,0\n2,yes\n");
    let e = read_submission(&path, &TITANIC, Target::Binary, &answers)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "submission.csv: line 3 (PassengerId 2): Survived `yes` is not a number"
    );
    let (_d, path) = submission(b"PassengerId,Prediction\n1,0\n2,1\n");
    let e = read_submission(&path, &TITANIC, Target::Binary, &answers)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing column `Survived`") && e.contains("`PassengerId,Survived`"),
        "{e}"
    );
}

#[test]
fn unstaged_data_is_reported_with_the_import_command() {
    let root = tempfile::tempdir().unwrap();
    let (_d, path) = submission(b"Id,SalePrice\n1,1\n");
    let ev = TabularEvaluator {
        spec: &HOUSE_PRICE,
        target: Target::Real,
    };
    let e = ev.evaluate_file(&path, root.path()).unwrap_err();
    assert!(matches!(e, EvalError::DataMissing(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("mlgym data import house-price PATH/train.csv"),
        "{e}"
    );
}

#[test]
fn both_tasks_are_registered_with_their_data_and_starter_files() {
    for (id, dataset, starter) in [
        (
            "regressionKaggleHousePrice",
            "house-price",
            ["baseline.py", "README.md"],
        ),
        (
            "titanicSurvival",
            "titanic",
            ["train_and_predict.py", "README.md"],
        ),
    ] {
        let t = mlgym_tasks::registry::get(id).unwrap();
        assert_eq!(t.def.datasets, [dataset]);
        assert_eq!(t.def.submission, ["submission.csv"]);
        assert!(t.hooks.baseline.is_some());
        let root = tempfile::tempdir().unwrap();
        assert!(!t.data_ready(root.path()));
        for f in starter {
            assert!(
                t.starter_file(f).is_some_and(|b| !b.is_empty()),
                "{id}: {f}"
            );
        }
    }
    let t = mlgym_tasks::registry::get("titanicSurvival").unwrap();
    assert_eq!(t.def.primary_metric().name, "accuracy");
    assert_eq!(t.def.baseline.mlgym["Accuracy"], 0.76555);
    let h = mlgym_tasks::registry::get("regressionKaggleHousePrice").unwrap();
    assert_eq!(h.def.primary_metric().name, "r2");
    assert_eq!(h.def.baseline.mlgym["rmse"], 30340.111853413255);
}
