//! End to end on the real Kaggle files in `../shared/data` (skipped, with a message, when
//! that folder is absent): import, the staged layout, the native baselines' exact scores,
//! the evaluator on them, and determinism.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::path::{Path, PathBuf};

use mlgym_tasks::evaluator::{AgentCodeConfig, BaselineContext, EvalContext, EvalError};
use mlgym_tasks::registry;
use mlgym_tasks::tabular::dataset::{DatasetSpec, Manifest, HOUSE_PRICE, TITANIC};
use mlgym_tasks::tabular::evaluate::{accuracy, load_answers, read_submission, Target};
use mlgym_tasks::tabular::import::{import, ImportError};
use mlgym_tasks::tabular::{csv, frame::Frame, house_price, titanic};

fn shared_file(rel: &str) -> Option<PathBuf> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let f = shared.join(rel);
    if f.is_file() {
        Some(f)
    } else {
        eprintln!(
            "skipping: {} is absent (no ../shared data beside the project)",
            f.display()
        );
        None
    }
}

/// A fresh data root with `spec` imported from the shared copy of its Kaggle file.
fn staged(spec: &'static DatasetSpec) -> Option<(tempfile::TempDir, PathBuf)> {
    let src = shared_file(&format!("data/{}/train.csv", spec.name))?;
    let root = tempfile::tempdir().unwrap();
    let report = import(spec, &src, root.path()).unwrap();
    assert!(report.changed);
    Some((root, src))
}

fn frame(path: &Path) -> Frame {
    Frame::from_table(&csv::parse(&std::fs::read(path).unwrap()).unwrap())
}

fn run_baseline(task_id: &str, root: &Path, out: &Path) {
    let task = registry::get(task_id).unwrap();
    let progress = |_: &str| {};
    let ctx = BaselineContext {
        task: &task.def,
        out_dir: out,
        data_root: root,
        seed: 0,
        quick: false,
        progress: &progress,
    };
    task.hooks.baseline.as_ref().unwrap().run(&ctx).unwrap();
}

fn evaluate(
    task_id: &str,
    root: &Path,
    submission_dir: &Path,
) -> Result<mlgym_tasks::Metrics, EvalError> {
    let task = registry::get(task_id).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let agent_code = AgentCodeConfig {
        mode: Default::default(),
        // The tabular evaluators run no agent code; the interpreter is never used.
        python: mlgym_tasks::python::PythonEnv {
            executable: "/usr/bin/python3".into(),
            read_only: vec![],
        },
    };
    let ctx = EvalContext {
        task: &task.def,
        submission_dir,
        scratch_dir: scratch.path(),
        data_root: root,
        seed: 7,
        agent_code: &agent_code,
    };
    task.hooks.evaluator.evaluate(&ctx)
}

#[test]
fn house_price_import_lays_out_public_files_without_answers() {
    let Some((root, _)) = staged(&HOUSE_PRICE) else {
        return;
    };
    let dir = root.path().join("house-price");
    let m: Manifest =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let rows: Vec<(&str, usize)> = m.files.iter().map(|f| (f.path.as_str(), f.rows)).collect();
    assert_eq!(
        rows,
        [
            ("public/train.csv", 1022),
            ("public/validation.csv", 146),
            ("public/test.csv", 292),
            ("private/answer.csv", 292)
        ]
    );
    let test = csv::parse(&std::fs::read(dir.join("public/test.csv")).unwrap()).unwrap();
    assert!(
        !test.header.iter().any(|h| h == "SalePrice"),
        "test.csv must not hold the target"
    );
    assert_eq!(test.header.len(), 80);
    let train = csv::parse(&std::fs::read(dir.join("public/train.csv")).unwrap()).unwrap();
    assert_eq!(train.header.len(), 81);
    assert_eq!(train.records[0].fields[0], "1084");
    let public: Vec<String> = std::fs::read_dir(dir.join("public"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!public.iter().any(|n| n.contains("answer")), "{public:?}");
    let task = registry::get("regressionKaggleHousePrice").unwrap();
    assert!(task.data_ready(root.path()));
    let data = task.hooks.data.as_ref().unwrap();
    assert_eq!(data.public_dir(root.path()).unwrap(), dir.join("public"));
    assert!(data
        .how_to_stage()
        .contains("mlgym data import house-price"));
    let answers = load_answers(&HOUSE_PRICE, root.path()).unwrap();
    assert_eq!(answers.ids.len(), 292);
}

#[test]
fn house_price_baseline_reproduces_mlgym_exactly() {
    let Some((root, _)) = staged(&HOUSE_PRICE) else {
        return;
    };
    let fit = house_price::fit_and_predict(root.path()).unwrap();
    assert_eq!(fit.preprocessor.numeric.len(), 36);
    assert_eq!(fit.preprocessor.categorical.len(), 43);
    assert_eq!(fit.preprocessor.n_features(), 299);
    let out = tempfile::tempdir().unwrap();
    run_baseline("regressionKaggleHousePrice", root.path(), out.path());
    let m = evaluate("regressionKaggleHousePrice", root.path(), out.path()).unwrap();
    let (rmse, r2) = (m["rmse"], m["r2"]);
    eprintln!("house-price baseline: rmse {rmse:?} r2 {r2:?}");
    assert!((rmse - 30340.111853413255).abs() < 0.5, "rmse {rmse}");
    assert!((r2 - 0.8799891474739243).abs() < 1e-5, "r2 {r2}");
    // Tighter than the contract: the f64 solve agrees with scikit-learn to ~1e-13.
    assert!(
        (rmse - 30340.111853413255).abs() / 30340.0 < 1e-11,
        "rmse {rmse}"
    );
    assert!((r2 - 0.8799891474739243).abs() < 1e-11, "r2 {r2}");
    // task.toml records what we measure.
    let ours = &registry::get("regressionKaggleHousePrice")
        .unwrap()
        .def
        .baseline
        .ours;
    assert!(
        (ours["rmse"] - rmse).abs() < 1e-6 && (ours["r2"] - r2).abs() < 1e-12,
        "{ours:?}"
    );
    // Same inputs ⇒ the same bytes.
    let again = tempfile::tempdir().unwrap();
    run_baseline("regressionKaggleHousePrice", root.path(), again.path());
    assert_eq!(
        std::fs::read(out.path().join("submission.csv")).unwrap(),
        std::fs::read(again.path().join("submission.csv")).unwrap()
    );
}

#[test]
fn titanic_baseline_and_gender_rule() {
    let Some((root, _)) = staged(&TITANIC) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    run_baseline("titanicSurvival", root.path(), out.path());
    let m = evaluate("titanicSurvival", root.path(), out.path()).unwrap();
    let acc = m["accuracy"];
    // The gender rule on the same 179 held-out passengers.
    let public = root.path().join("titanic/public");
    let test = frame(&public.join("test.csv"));
    let answers = load_answers(&TITANIC, root.path()).unwrap();
    let rule: Vec<f64> = titanic::gender_rule(&test)
        .into_iter()
        .map(f64::from)
        .collect();
    let rule_acc = accuracy(&answers.targets, &rule);
    let fit = titanic::fit_and_predict(root.path()).unwrap();
    eprintln!(
        "titanic: logistic accuracy {acc:.6} (train {:.6}, {} Newton steps); gender rule {rule_acc:.6}",
        fit.train_accuracy, fit.model.iterations
    );
    assert_eq!(answers.ids, fit.test_ids);
    assert_eq!(test.len(), 179);
    assert!(
        (rule_acc - 140.0 / 179.0).abs() < 1e-12,
        "gender rule {rule_acc}"
    );
    assert!((acc - 147.0 / 179.0).abs() < 1e-12, "baseline {acc}");
    assert!(acc > rule_acc);
    let ours = &registry::get("titanicSurvival").unwrap().def.baseline.ours;
    assert_eq!(ours["accuracy"], acc);
    // The submission is read back exactly as written.
    let preds = read_submission(
        &out.path().join("submission.csv"),
        &TITANIC,
        Target::Binary,
        &answers,
    )
    .unwrap();
    assert_eq!(preds.len(), 179);
}

#[test]
fn importing_twice_is_idempotent_and_status_sees_it() {
    let Some((root, src)) = staged(&TITANIC) else {
        return;
    };
    let dir = root.path().join("titanic");
    let before: Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> = [
        "manifest.json",
        "public/train.csv",
        "public/test.csv",
        "private/answer.csv",
    ]
    .iter()
    .map(|p| {
        let f = dir.join(p);
        (
            f.clone(),
            std::fs::read(&f).unwrap(),
            std::fs::metadata(&f).unwrap().modified().unwrap(),
        )
    })
    .collect();
    let again = import(&TITANIC, &src, root.path()).unwrap();
    assert!(!again.changed);
    for (f, bytes, mtime) in &before {
        assert_eq!(&std::fs::read(f).unwrap(), bytes);
        assert_eq!(
            &std::fs::metadata(f).unwrap().modified().unwrap(),
            mtime,
            "{} was rewritten",
            f.display()
        );
    }
    // A damaged staged file is repaired by importing again.
    std::fs::write(dir.join("public/test.csv"), "PassengerId\n1\n").unwrap();
    assert!(TITANIC.check_staged(root.path()).is_err());
    assert!(import(&TITANIC, &src, root.path()).unwrap().changed);
    assert_eq!(std::fs::read(&before[2].0).unwrap(), before[2].1);
    assert!(TITANIC.check_staged(root.path()).is_ok());
    // No temporary files are left behind.
    for sub in ["", "public", "private"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with('.'), "left over: {name}");
        }
    }
}

#[test]
fn a_tampered_answer_file_is_refused() {
    let Some((root, _)) = staged(&TITANIC) else {
        return;
    };
    let answer = root.path().join("titanic/private/answer.csv");
    let text = std::fs::read_to_string(&answer).unwrap();
    let flipped = text.replacen(",0\n", ",1\n", 1);
    assert_eq!(flipped.len(), text.len());
    std::fs::write(&answer, flipped).unwrap();
    let e = load_answers(&TITANIC, root.path()).unwrap_err();
    assert!(matches!(e, EvalError::DataMissing(_)));
    assert!(e.to_string().contains("does not match its manifest"), "{e}");
}

#[test]
fn wrong_files_are_rejected_with_the_reason() {
    let Some(src) = shared_file("data/house-price/train.csv") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // The House Price file given as Titanic: a column problem.
    let e = import(&TITANIC, &src, root.path()).unwrap_err();
    assert!(matches!(e, ImportError::Columns { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("missing columns `PassengerId`, `Survived`"),
        "{msg}"
    );
    assert!(msg.contains("unexpected columns `Id`"), "{msg}");
    // One value changed: right columns, checksum mismatch.
    let text = std::fs::read_to_string(&src).unwrap();
    let edited = root.path().join("train.csv");
    std::fs::write(&edited, text.replacen(",208500\n", ",208501\n", 1)).unwrap();
    let e = import(&HOUSE_PRICE, &edited, root.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("checksum mismatch") && e.contains(HOUSE_PRICE.sha256),
        "{e}"
    );
    assert!(e.contains(&edited.display().to_string()), "{e}");
    // Kaggle's test.csv (no target column).
    let no_target: String = text
        .lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string() + "\n")
        .collect();
    std::fs::write(&edited, no_target).unwrap();
    let e = import(&HOUSE_PRICE, &edited, root.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing columns `SalePrice`") && e.contains("test.csv"),
        "{e}"
    );
    // Windows line ends are the same file.
    std::fs::write(&edited, text.replace('\n', "\r\n")).unwrap();
    assert!(import(&HOUSE_PRICE, &edited, root.path()).is_ok());
    // A missing file names the path.
    let e = import(&HOUSE_PRICE, &root.path().join("nope.csv"), root.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.csv"), "{e}");
    // Nothing staged for the failed datasets.
    assert!(TITANIC.check_staged(root.path()).is_err());
}

/// Runs a starter script in a workspace whose `data/` is the staged public directory.
/// `None` (with a message) when no python3 with numpy is available.
fn run_starter(
    task_id: &str,
    spec: &DatasetSpec,
    root: &Path,
    script: &str,
) -> Option<tempfile::TempDir> {
    let python = std::env::var("MLGYM_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let has_numpy = std::process::Command::new(&python)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_numpy {
        eprintln!("skipping: {python} with numpy is not available to run {script}");
        return None;
    }
    let ws = tempfile::tempdir().unwrap();
    let task = registry::get(task_id).unwrap();
    for f in &task.starter {
        std::fs::write(ws.path().join(&f.path), f.bytes).unwrap();
    }
    std::os::unix::fs::symlink(spec.public_dir(root), ws.path().join("data")).unwrap();
    let out = std::process::Command::new(&python)
        .arg(script)
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(ws)
}

#[test]
fn the_python_starter_scripts_match_the_native_baselines() {
    let Some((hp_root, _)) = staged(&HOUSE_PRICE) else {
        return;
    };
    let Some(ws) = run_starter(
        "regressionKaggleHousePrice",
        &HOUSE_PRICE,
        hp_root.path(),
        "baseline.py",
    ) else {
        return;
    };
    let m = evaluate("regressionKaggleHousePrice", hp_root.path(), ws.path()).unwrap();
    assert!((m["rmse"] - 30340.111853413255).abs() < 1e-3, "{m:?}");
    assert!((m["r2"] - 0.8799891474739243).abs() < 1e-9, "{m:?}");
    let Some((ti_root, _)) = staged(&TITANIC) else {
        return;
    };
    let Some(ws) = run_starter(
        "titanicSurvival",
        &TITANIC,
        ti_root.path(),
        "train_and_predict.py",
    ) else {
        return;
    };
    let native = tempfile::tempdir().unwrap();
    run_baseline("titanicSurvival", ti_root.path(), native.path());
    assert_eq!(
        std::fs::read_to_string(ws.path().join("submission.csv")).unwrap(),
        std::fs::read_to_string(native.path().join("submission.csv")).unwrap()
    );
}
