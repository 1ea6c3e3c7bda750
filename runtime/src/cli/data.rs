//! `mlgym data ...`: stage datasets under the data root (`$MLGYM_DATA`, else the user's
//! data directory) and report which are staged.
//!
//! Every dataset is one entry of [`DATASETS`]: its name, what it is, the tasks that need
//! it, and the operations it supports. A new kind of dataset (images, FineWeb shards)
//! adds an entry; a new operation (`fetch`, `verify`) adds a field of [`Dataset`] and a
//! variant of [`DataCommand`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use mlgym_tasks::tabular::dataset::{DatasetSpec, HOUSE_PRICE, TITANIC};
use mlgym_tasks::tabular::import::import;
use serde_json::{json, Value};

use super::output::{finish, print_json};

/// `mlgym data` subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Verify a downloaded dataset file, split it and stage it under the data root.
    Import(ImportArgs),
    /// List the datasets and whether each is staged.
    Status(StatusArgs),
}

/// `mlgym data import NAME PATH [--json]`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Dataset name: house-price (Kaggle House Prices train.csv) or titanic (Kaggle
    /// Titanic train.csv).
    pub name: String,
    /// The downloaded file.
    pub path: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `mlgym data status [--json]`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Whether a dataset is staged: `Ok(details)` (a JSON object) or `Err(why not)`.
type StatusFn = fn(&Path) -> Result<Value, String>;
/// Stages a dataset from a local file: `(source, data root)` → a JSON report.
type ImportFn = fn(&Path, &Path) -> anyhow::Result<Value>;

/// A dataset the CLI knows.
pub struct Dataset {
    /// Name on the command line and directory under the data root.
    pub name: &'static str,
    /// What it is and where to get it.
    pub about: &'static str,
    /// Tasks that need it.
    pub tasks: &'static [&'static str],
    /// How it is staged, for `status`.
    pub how: &'static str,
    /// `mlgym data import NAME PATH`, when the dataset is imported from a local file.
    pub import: Option<ImportFn>,
    /// Whether it is staged.
    pub status: StatusFn,
}

/// Every dataset, in the order `status` lists them.
pub const DATASETS: &[Dataset] = &[
    Dataset {
        name: "house-price",
        about: "Kaggle House Prices: train.csv (1460 rows) from the competition's data page",
        tasks: &["regressionKaggleHousePrice"],
        how: "mlgym data import house-price PATH/train.csv",
        import: Some(|src, root| import_tabular(&HOUSE_PRICE, src, root)),
        status: |root| tabular_status(&HOUSE_PRICE, root),
    },
    Dataset {
        name: "titanic",
        about:
            "Kaggle Titanic: train.csv (891 labelled passengers) from the competition's data page",
        tasks: &["titanicSurvival"],
        how: "mlgym data import titanic PATH/train.csv",
        import: Some(|src, root| import_tabular(&TITANIC, src, root)),
        status: |root| tabular_status(&TITANIC, root),
    },
];

fn find(name: &str) -> anyhow::Result<&'static Dataset> {
    DATASETS.iter().find(|d| d.name == name).ok_or_else(|| {
        let known: Vec<&str> = DATASETS
            .iter()
            .filter(|d| d.import.is_some())
            .map(|d| d.name)
            .collect();
        anyhow::anyhow!(
            "unknown dataset `{name}`; `mlgym data import` knows: {}",
            known.join(", ")
        )
    })
}

/// Runs a `mlgym data` subcommand against the data root.
pub fn run(cmd: DataCommand) -> ExitCode {
    match cmd {
        DataCommand::Import(args) => finish(args.json, || {
            let root = mlgym_tasks::data::data_root();
            let report = import_json(&args.name, &args.path, &root)?;
            if args.json {
                print_json(&report);
            } else {
                print!("{}", import_text(&report));
            }
            Ok(ExitCode::SUCCESS)
        }),
        DataCommand::Status(args) => finish(args.json, || {
            let report = status_json(&mlgym_tasks::data::data_root());
            if args.json {
                print_json(&report);
            } else {
                print!("{}", status_text(&report));
            }
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// Imports dataset `name` from `path` into `root`.
pub fn import_json(name: &str, path: &Path, root: &Path) -> anyhow::Result<Value> {
    let d = find(name)?;
    let Some(import) = d.import else {
        anyhow::bail!(
            "dataset `{name}` is not imported from a file; stage it with `{}`",
            d.how
        );
    };
    import(path, root)
}

fn import_tabular(spec: &'static DatasetSpec, src: &Path, root: &Path) -> anyhow::Result<Value> {
    let r = import(spec, src, root).with_context(|| format!("importing {}", spec.name))?;
    Ok(json!({
        "dataset": r.dataset,
        "dir": r.dir.display().to_string(),
        "changed": r.changed,
        "source_sha256": r.manifest.source.sha256,
        "files": r.manifest.files.iter().map(|f| json!({
            "path": f.path, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256,
        })).collect::<Vec<_>>(),
    }))
}

fn tabular_status(spec: &'static DatasetSpec, root: &Path) -> Result<Value, String> {
    let m = spec.check_staged(root)?;
    Ok(json!({
        "source_sha256": m.source.sha256,
        "files": m.files.iter().map(|f| json!({"path": f.path, "rows": f.rows})).collect::<Vec<_>>(),
    }))
}

fn import_text(report: &Value) -> String {
    let mut out = String::new();
    let verb = if report["changed"].as_bool() == Some(true) {
        "staged"
    } else {
        "already staged (unchanged)"
    };
    let _ = writeln!(
        out,
        "{} {verb} in {}",
        report["dataset"].as_str().unwrap_or(""),
        report["dir"].as_str().unwrap_or("")
    );
    for f in report["files"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {:<22} {:>5} rows",
            f["path"].as_str().unwrap_or(""),
            f["rows"]
        );
    }
    out
}

/// `{"data_root", "datasets": [{"name", "staged", "dir", "tasks", "how", "detail" | "problem"}]}`.
pub fn status_json(root: &Path) -> Value {
    let datasets: Vec<Value> = DATASETS
        .iter()
        .map(|d| {
            let mut v = json!({
                "name": d.name,
                "about": d.about,
                "tasks": d.tasks,
                "dir": root.join(d.name).display().to_string(),
                "how": d.how,
            });
            match (d.status)(root) {
                Ok(detail) => {
                    v["staged"] = json!(true);
                    v["detail"] = detail;
                }
                Err(problem) => {
                    v["staged"] = json!(false);
                    v["problem"] = json!(problem);
                }
            }
            v
        })
        .collect();
    json!({ "data_root": root.display().to_string(), "datasets": datasets })
}

fn status_text(report: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "data root: {}",
        report["data_root"].as_str().unwrap_or("")
    );
    let _ = writeln!(
        out,
        "{:<12}  {:<7}  {:<28}  detail",
        "dataset", "staged", "tasks"
    );
    for d in report["datasets"].as_array().into_iter().flatten() {
        let tasks: Vec<&str> = d["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let staged = d["staged"].as_bool() == Some(true);
        let detail = if staged {
            let files: Vec<String> = d["detail"]["files"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| format!("{} {}", f["path"].as_str().unwrap_or(""), f["rows"]))
                .collect();
            files.join(", ")
        } else {
            format!("not staged: {}", d["how"].as_str().unwrap_or(""))
        };
        let _ = writeln!(
            out,
            "{:<12}  {:<7}  {:<28}  {detail}",
            d["name"].as_str().unwrap_or(""),
            if staged { "yes" } else { "no" },
            tasks.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_train(name: &str) -> Option<PathBuf> {
        let f = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../shared/data/{name}/train.csv"));
        if f.is_file() {
            Some(f)
        } else {
            eprintln!("skipping: {} is absent (no ../shared data)", f.display());
            None
        }
    }

    #[test]
    fn status_lists_every_dataset_as_not_staged_in_an_empty_root() {
        let root = tempfile::tempdir().unwrap();
        let v = status_json(root.path());
        let names: Vec<&str> = v["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["house-price", "titanic"]);
        assert!(v["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["staged"] == false));
        let text = status_text(&v);
        assert!(
            text.contains("not staged: mlgym data import titanic PATH/train.csv"),
            "{text}"
        );
    }

    #[test]
    fn import_then_status_then_reimport() {
        let Some(src) = shared_train("titanic") else {
            return;
        };
        let root = tempfile::tempdir().unwrap();
        let r = import_json("titanic", &src, root.path()).unwrap();
        assert_eq!(r["changed"], true);
        assert_eq!(r["files"][0]["path"], "public/train.csv");
        assert_eq!(r["files"][0]["rows"], 712);
        assert!(import_text(&r).contains("titanic staged in"));
        let v = status_json(root.path());
        assert_eq!(v["datasets"][1]["staged"], true);
        assert_eq!(v["datasets"][0]["staged"], false);
        assert!(status_text(&v).contains("public/test.csv 179"));
        let again = import_json("titanic", &src, root.path()).unwrap();
        assert_eq!(again["changed"], false);
        assert!(import_text(&again).contains("already staged"));
    }

    #[test]
    fn errors_are_one_line_and_name_the_problem() {
        let root = tempfile::tempdir().unwrap();
        let e = format!(
            "{:#}",
            import_json("cifar", Path::new("x"), root.path()).unwrap_err()
        );
        assert!(
            e.contains("unknown dataset `cifar`") && e.contains("house-price, titanic"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            import_json("titanic", &root.path().join("missing.csv"), root.path()).unwrap_err()
        );
        assert!(
            e.contains("importing titanic") && e.contains("missing.csv") && !e.contains('\n'),
            "{e}"
        );
        let Some(src) = shared_train("house-price") else {
            return;
        };
        let e = format!(
            "{:#}",
            import_json("titanic", &src, root.path()).unwrap_err()
        );
        assert!(
            e.contains("missing columns `PassengerId`, `Survived`"),
            "{e}"
        );
    }
}
