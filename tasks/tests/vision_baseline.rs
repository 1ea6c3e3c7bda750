//! The image tasks end to end on synthetic staged data: the registry wiring, the
//! evaluator's errors, and the candle baseline in `--quick` mode (> 95% test accuracy on
//! a learnable synthetic set, identical output for the same seed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod datasets_support;

use datasets_support::*;
use mlgym_tasks::datasets::import;
use mlgym_tasks::evaluator::{Baseline, BaselineContext, EvalError};
use mlgym_tasks::vision::evaluate::ImageEvaluator;
use mlgym_tasks::vision::train::CnnBaseline;

fn write(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("submission.csv");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn tasks_are_registered_with_their_data() {
    for (id, ds) in [
        ("imageClassificationFMnist", "fashion-mnist"),
        ("imageClassificationCifar10", "cifar10"),
    ] {
        let t = mlgym_tasks::registry::get(id).unwrap();
        assert_eq!(t.def.datasets, [ds]);
        let empty = tempfile::tempdir().unwrap();
        assert!(!t.data_ready(empty.path()));
        let e = t
            .hooks
            .data
            .as_ref()
            .unwrap()
            .public_dir(empty.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("mlgym data import {ds}")), "{e}");
        assert!(t.starter_file("baseline.py").is_some());
    }
}

#[test]
fn evaluator_scores_and_rejects_bad_submissions() {
    let spec = fmnist_like(10, 5);
    let d = synthetic(spec, 21, false);
    let src = tempfile::tempdir().unwrap();
    write_idx(spec, &d, src.path(), true);
    let root = tempfile::tempdir().unwrap();
    import(spec, src.path(), root.path()).unwrap();
    let ev = ImageEvaluator { spec };
    let dir = tempfile::tempdir().unwrap();
    let truth: Vec<String> = d.test.labels.iter().map(|l| l.to_string()).collect();
    let perfect = format!("label\n{}\n", truth.join("\n"));
    assert_eq!(
        ev.evaluate_file(&write(dir.path(), &perfect), root.path())
            .unwrap()["accuracy"],
        1.0
    );
    let mut one_wrong = d.test.labels.clone();
    one_wrong[0] = (one_wrong[0] + 1) % 10;
    let text = format!(
        "id,label\n{}",
        one_wrong
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{i},{l}.0\n"))
            .collect::<String>()
    );
    assert_eq!(
        ev.evaluate_file(&write(dir.path(), &text), root.path())
            .unwrap()["accuracy"],
        0.8
    );

    let err = |text: &str| {
        ev.evaluate_file(&write(dir.path(), text), root.path())
            .unwrap_err()
            .to_string()
    };
    let e = err("label\n1\n2\n");
    assert!(e.contains("2 rows") && e.contains("5 images"), "{e}");
    let e = err("label\n1\n2\n10\n3\n4\n");
    assert!(e.contains("line 4: label 10 is not a class id"), "{e}");
    let e = err("label\n1\ncat\n2.5\n3\n4\n");
    assert!(
        e.contains("line 3: label `cat` is not an integer") && e.contains("line 4"),
        "{e}"
    );
    let e = err("1\n2\n3\n4\n5\n6\n");
    assert!(
        e.contains("no `label` column") && e.contains("add the header line"),
        "{e}"
    );
    assert!(err("").contains("empty"));
    std::fs::remove_file(dir.path().join("submission.csv")).unwrap();
    let e = ev
        .evaluate_file(&dir.path().join("submission.csv"), root.path())
        .unwrap_err();
    assert!(matches!(e, EvalError::SubmissionNotFound(_)), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = ev
        .evaluate_file(&write(dir.path(), &perfect), empty.path())
        .unwrap_err();
    assert!(matches!(e, EvalError::DataMissing(_)), "{e}");
}

#[test]
fn quick_baseline_learns_a_synthetic_dataset_deterministically() {
    let spec = fmnist_like(1200, 200);
    let d = synthetic(spec, 22, true);
    let src = tempfile::tempdir().unwrap();
    write_idx(spec, &d, src.path(), true);
    let root = tempfile::tempdir().unwrap();
    import(spec, src.path(), root.path()).unwrap();
    let def = mlgym_tasks::registry::get("imageClassificationFMnist")
        .unwrap()
        .def
        .clone();
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
    let run = || {
        let out = tempfile::tempdir().unwrap();
        let ctx = BaselineContext {
            task: &def,
            out_dir: out.path(),
            data_root: root.path(),
            seed: 7,
            quick: true,
            progress: &progress,
        };
        CnnBaseline { spec }.run(&ctx).unwrap();
        let acc = ImageEvaluator { spec }
            .evaluate_file(&out.path().join("submission.csv"), root.path())
            .unwrap()["accuracy"];
        (
            acc,
            std::fs::read(out.path().join("submission.csv")).unwrap(),
        )
    };
    let (acc, first) = run();
    assert!(
        acc > 0.95,
        "accuracy {acc}; log: {:?}",
        lines.lock().unwrap()
    );
    assert!(lines.lock().unwrap().iter().any(|l| l.contains("steps/s")));
    let (_, second) = run();
    assert!(first == second, "same seed, same submission");
}
