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
use mlgym_tasks::datasets::fetch::{FetchOptions, Progress};
use mlgym_tasks::datasets::fineweb;
use mlgym_tasks::datasets::registry::{self as images, Format};
use mlgym_tasks::tabular::dataset::{DatasetSpec, HOUSE_PRICE, TITANIC};
use mlgym_tasks::tabular::import::import;
use mlgym_tasks::text::{ModelAsset, ALL_MINILM_L6_V2};
use serde_json::{json, Value};

use super::output::{finish, print_json};

/// `mlgym data` subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Verify a downloaded dataset file, split it and stage it under the data root.
    Import(ImportArgs),
    /// List the datasets and whether each is staged.
    Status(StatusArgs),
    /// Download a dataset from its canonical source (or a mirror), verify and stage it.
    Fetch(FetchArgs),
    /// Re-check a staged dataset's decoded content against its manifest.
    Verify(VerifyArgs),
}

/// `mlgym data fetch NAME [--format F] [--mirror URL] [--retries N] [--json]`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Dataset name: fashion-mnist, cifar10 or fineweb.
    pub name: String,
    /// Which distribution: idx (Fashion-MNIST), cifar-binary (CIFAR-10) or hf-parquet
    /// (both); default: the dataset's canonical one.
    #[arg(long)]
    pub format: Option<String>,
    /// Base URL of a mirror holding the same files under the same relative paths.
    #[arg(long)]
    pub mirror: Option<String>,
    /// How often an interrupted download is resumed before giving up.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// fineweb only: training shards to download (1 to 103, 100M tokens and 200 MB each;
    /// default 24, what MLGym's baseline can read).
    #[arg(long)]
    pub train_shards: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `mlgym data verify NAME [--json]`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Dataset name.
    pub name: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `mlgym data import NAME PATH [--json]`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Dataset name: house-price (Kaggle House Prices train.csv) or titanic (Kaggle
    /// Titanic train.csv); all-minilm-l6-v2 (the memory's embedding model: a directory);
    /// fashion-mnist, cifar10; fineweb (a directory of token shards).
    pub name: String,
    /// The downloaded file (or directory).
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
/// Downloads and stages a dataset: `(data root, args)` → a JSON report.
type FetchFn = fn(&Path, &FetchArgs) -> anyhow::Result<Value>;
/// Re-checks a staged dataset: data root → a JSON report.
type VerifyFn = fn(&Path) -> anyhow::Result<Value>;

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
    /// `mlgym data fetch NAME`, when the dataset can be downloaded.
    pub fetch: Option<FetchFn>,
    /// `mlgym data verify NAME`, when supported.
    pub verify: Option<VerifyFn>,
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
        fetch: None,
        verify: None,
    },
    Dataset {
        name: "titanic",
        about:
            "Kaggle Titanic: train.csv (891 labelled passengers) from the competition's data page",
        tasks: &["titanicSurvival"],
        how: "mlgym data import titanic PATH/train.csv",
        import: Some(|src, root| import_tabular(&TITANIC, src, root)),
        status: |root| tabular_status(&TITANIC, root),
        fetch: None,
        verify: None,
    },
    Dataset {
        name: "fashion-mnist",
        about: "Fashion-MNIST: Zalando's 4 IDX files (train-images-idx3-ubyte.gz, ...) or the Hugging Face parquet export",
        tasks: &["imageClassificationFMnist"],
        how: "mlgym data fetch fashion-mnist, or mlgym data import fashion-mnist DIR",
        import: Some(|src, root| import_images(&images::FASHION_MNIST, src, root)),
        status: |root| images_status(&images::FASHION_MNIST, root),
        fetch: Some(|root, args| fetch_images(&images::FASHION_MNIST, root, args)),
        verify: Some(|root| verify_images(&images::FASHION_MNIST, root)),
    },
    Dataset {
        name: "cifar10",
        about: "CIFAR-10: cifar-10-binary.tar.gz (or its extracted .bin batches) or the Hugging Face parquet export",
        tasks: &["imageClassificationCifar10"],
        how: "mlgym data fetch cifar10, or mlgym data import cifar10 PATH",
        import: Some(|src, root| import_images(&images::CIFAR10, src, root)),
        status: |root| images_status(&images::CIFAR10, root),
        fetch: Some(|root, args| fetch_images(&images::CIFAR10, root, args)),
        verify: Some(|root| verify_images(&images::CIFAR10, root)),
    },
    Dataset {
        name: "fineweb",
        about: "FineWeb-10B GPT-2 token shards (kjj0/fineweb10B-gpt2): fineweb_val_000000.bin and fineweb_train_*.bin",
        tasks: &["languageModelingFineWeb"],
        how: "mlgym data fetch fineweb [--train-shards N], or mlgym data import fineweb DIR",
        import: Some(|src, root| {
            Ok(fineweb_report(
                &fineweb::import(src, root).context("importing fineweb")?,
            ))
        }),
        status: fineweb_status,
        fetch: Some(fetch_fineweb),
        verify: Some(|root| {
            let r = fineweb::verify(root).context("verifying fineweb")?;
            Ok(json!({ "dataset": fineweb::NAME, "checks": r.checks }))
        }),
    },
    Dataset {
        name: "mnli",
        about: "MultiNLI (multi_nli): train and validation_matched, Hugging Face parquet or JSON lines",
        tasks: &["naturalLanguageInferenceMNLI"],
        how: "mlgym data import mnli DIR",
        import: Some(super::data_pretrained::import_mnli),
        status: super::data_pretrained::mnli_status,
        fetch: None,
        verify: Some(super::data_pretrained::verify_mnli),
    },
    Dataset {
        name: "bert-base-uncased",
        about: "bert-base-uncased (the model MNLI fine-tunes): a directory with config.json, model.safetensors, tokenizer.json or vocab.txt",
        tasks: &["naturalLanguageInferenceMNLI"],
        how: "mlgym data import bert-base-uncased DIR",
        import: Some(super::data_pretrained::import_bert),
        status: super::data_pretrained::bert_status,
        fetch: None,
        verify: Some(super::data_pretrained::verify_bert),
    },
    Dataset {
        name: "coco",
        about: "MLGym's MS-COCO captions: {train,val,test}_images.parquet and the train/, val/, test/ image folders",
        tasks: &["imageCaptioningCOCO"],
        how: "mlgym data import coco DIR",
        import: Some(super::data_pretrained::import_coco),
        status: super::data_pretrained::coco_status,
        fetch: None,
        verify: Some(super::data_pretrained::verify_coco),
    },
    Dataset {
        name: "resnet50",
        about: "torchvision's ImageNet ResNet-50 state dict as safetensors (the COCO baseline's frozen encoder)",
        tasks: &["imageCaptioningCOCO"],
        how: "mlgym data import resnet50 FILE",
        import: Some(super::data_pretrained::import_resnet),
        status: super::data_pretrained::resnet_status,
        fetch: None,
        verify: Some(super::data_pretrained::verify_resnet),
    },
    Dataset {
        name: "all-minilm-l6-v2",
        about: "sentence-transformers all-MiniLM-L6-v2 (embeddings of `mlgym run --memory`): a directory with config.json, model.safetensors, tokenizer.json",
        tasks: &[],
        how: "mlgym data import all-minilm-l6-v2 DIR",
        import: Some(|src, root| import_model(&ALL_MINILM_L6_V2, src, root)),
        status: |root| model_status(&ALL_MINILM_L6_V2, root),
        fetch: None,
        verify: None,
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
            print_import(args.json, &import_json(&args.name, &args.path, &root)?);
            Ok(ExitCode::SUCCESS)
        }),
        DataCommand::Fetch(args) => finish(args.json, || {
            let root = mlgym_tasks::data::data_root();
            let d = find(&args.name)?;
            let Some(fetch) = d.fetch else {
                anyhow::bail!(
                    "dataset `{}` cannot be downloaded; stage it with `{}`",
                    d.name,
                    d.how
                );
            };
            print_import(args.json, &fetch(&root, &args)?);
            Ok(ExitCode::SUCCESS)
        }),
        DataCommand::Verify(args) => finish(args.json, || {
            let root = mlgym_tasks::data::data_root();
            let report = verify_json(&args.name, &root)?;
            if args.json {
                print_json(&report);
            } else {
                for c in report["checks"].as_array().into_iter().flatten() {
                    println!("ok  {}", c.as_str().unwrap_or(""));
                }
                println!("{} verified", args.name);
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

/// Prints what an import or a fetch staged: the JSON report, or its summary.
fn print_import(json: bool, report: &Value) {
    if json {
        print_json(report);
    } else {
        print!("{}", import_text(report));
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

/// Verifies staged dataset `name` under `root`.
pub fn verify_json(name: &str, root: &Path) -> anyhow::Result<Value> {
    let d = find(name)?;
    let Some(verify) = d.verify else {
        anyhow::bail!("dataset `{name}` has no verify step; `mlgym data status` checks it");
    };
    verify(root)
}

fn image_report(r: &mlgym_tasks::datasets::ImportReport) -> Value {
    json!({
        "dataset": r.manifest.dataset,
        "dir": r.dir.display().to_string(),
        "changed": r.changed,
        "source_format": r.manifest.source_format.as_str(),
        "source_files": r.manifest.source_files,
        "files": r.manifest.arrays.iter().map(|a| json!({
            "path": a.path, "rows": a.shape.first().copied().unwrap_or(0), "shape": a.shape,
            "bytes": a.bytes, "sha256": a.sha256, "data_sha256": a.data_sha256,
        })).collect::<Vec<_>>(),
    })
}

fn import_images(
    spec: &'static images::DatasetSpec,
    src: &Path,
    root: &Path,
) -> anyhow::Result<Value> {
    let r = mlgym_tasks::datasets::import(spec, src, root)
        .with_context(|| format!("importing {}", spec.name))?;
    Ok(image_report(&r))
}

/// A progress bar on stderr per downloaded file.
#[derive(Default)]
struct Bars {
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

impl Progress for Bars {
    fn start(&self, name: &str, total: Option<u64>, done: u64) {
        let bar = match total {
            Some(t) => indicatif::ProgressBar::new(t),
            None => indicatif::ProgressBar::new_spinner(),
        };
        let style = indicatif::ProgressStyle::with_template(
            "{msg:32} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(name.to_string());
        bar.set_position(done);
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
        }
    }

    fn advance(&self, bytes: u64) {
        if let Ok(b) = self.bar.lock() {
            if let Some(bar) = b.as_ref() {
                bar.inc(bytes);
            }
        }
    }

    fn finish(&self, name: &str, note: &str) {
        if let Ok(mut b) = self.bar.lock() {
            match b.take() {
                Some(bar) => bar.finish_with_message(format!("{name}: {note}")),
                None => eprintln!("{name}: {note}"),
            }
        }
    }
}

fn fetch_images(
    spec: &'static images::DatasetSpec,
    root: &Path,
    args: &FetchArgs,
) -> anyhow::Result<Value> {
    let format = match args.format.as_deref() {
        Some(f) => Some(Format::parse(f).ok_or_else(|| {
            anyhow::anyhow!("unknown format `{f}`; use idx, cifar-binary or hf-parquet")
        })?),
        None => None,
    };
    let bars = Bars::default();
    let opts = FetchOptions {
        format,
        mirror: args.mirror.as_deref(),
        retries: args.retries,
        progress: &bars,
    };
    let r = mlgym_tasks::datasets::fetch::fetch(spec, root, &opts)
        .with_context(|| format!("fetching {}", spec.name))?;
    Ok(image_report(&r))
}

fn verify_images(spec: &'static images::DatasetSpec, root: &Path) -> anyhow::Result<Value> {
    let r = mlgym_tasks::datasets::verify(spec, root)
        .with_context(|| format!("verifying {}", spec.name))?;
    Ok(json!({ "dataset": spec.name, "checks": r.checks }))
}

fn images_status(spec: &'static images::DatasetSpec, root: &Path) -> Result<Value, String> {
    let m = mlgym_tasks::datasets::check_staged(spec, root)?;
    Ok(json!({
        "source_format": m.source_format.as_str(),
        "files": m.arrays.iter().map(|a| json!({"path": a.path, "rows": a.shape.first().copied().unwrap_or(0)})).collect::<Vec<_>>(),
    }))
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

fn fineweb_report(r: &fineweb::FinewebReport) -> Value {
    json!({
        "dataset": r.manifest.dataset,
        "dir": r.dir.display().to_string(),
        "changed": r.changed,
        "files": r.manifest.shards.iter().map(|s| json!({
            "path": s.name, "tokens": s.tokens, "bytes": s.bytes, "sha256": s.sha256,
        })).collect::<Vec<_>>(),
    })
}

fn fetch_fineweb(root: &Path, args: &FetchArgs) -> anyhow::Result<Value> {
    if args.format.is_some() {
        anyhow::bail!("fineweb has one format (token shards); drop --format");
    }
    let bars = Bars::default();
    let opts = FetchOptions {
        format: None,
        mirror: args.mirror.as_deref(),
        retries: args.retries,
        progress: &bars,
    };
    let n = args.train_shards.unwrap_or(fineweb::DEFAULT_TRAIN_SHARDS);
    let r = fineweb::fetch(root, &opts, n).context("fetching fineweb")?;
    Ok(fineweb_report(&r))
}

fn fineweb_status(root: &Path) -> Result<Value, String> {
    let m = fineweb::check_staged(root)?;
    Ok(json!({
        "train_tokens": m.train_tokens(),
        "files": [
            json!({"path": fineweb::VAL_FILE, "bytes": m.shards.first().map_or(0, |s| s.bytes)}),
            json!({"path": format!("{} training shard(s)", m.train().count()), "bytes": m.train().map(|s| s.bytes).sum::<u64>()}),
        ],
    }))
}

fn import_model(asset: &'static ModelAsset, src: &Path, root: &Path) -> anyhow::Result<Value> {
    let r = asset
        .import(src, root)
        .with_context(|| format!("importing {}", asset.name))?;
    Ok(json!({
        "dataset": asset.name,
        "dir": r.dir.display().to_string(),
        "changed": r.changed,
        "source": r.manifest.source,
        "files": r.manifest.files.iter().map(|f| json!({
            "path": f.name, "bytes": f.bytes, "sha256": f.sha256,
        })).collect::<Vec<_>>(),
    }))
}

fn model_status(asset: &'static ModelAsset, root: &Path) -> Result<Value, String> {
    let dir = asset.check_staged(root).map_err(|e| e.to_string())?;
    let m: mlgym_tasks::text::asset::Manifest = serde_json::from_slice(
        &std::fs::read(dir.join("manifest.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    Ok(json!({
        "files": m.files.iter().map(|f| json!({"path": f.name, "bytes": f.bytes})).collect::<Vec<_>>(),
    }))
}

/// `N rows` for a data file, `N bytes` for a model file.
fn size_text(f: &Value) -> String {
    match f.get("rows") {
        Some(rows) => format!("{rows} rows"),
        None => format!("{} bytes", f["bytes"]),
    }
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
        let path = f["path"].as_str().unwrap_or("");
        let _ = match f.get("rows") {
            Some(rows) => writeln!(out, "  {path:<22} {rows:>5} rows"),
            None => writeln!(out, "  {path:<22} {} bytes", f["bytes"]),
        };
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
        "{:<13}  {:<7}  {:<28}  detail",
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
                .map(|f| format!("{} {}", f["path"].as_str().unwrap_or(""), size_text(f)))
                .collect();
            files.join(", ")
        } else {
            format!("not staged: {}", d["how"].as_str().unwrap_or(""))
        };
        let _ = writeln!(
            out,
            "{:<13}  {:<7}  {:<28}  {detail}",
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
        assert_eq!(
            names,
            [
                "house-price",
                "titanic",
                "fashion-mnist",
                "cifar10",
                "fineweb",
                "mnli",
                "bert-base-uncased",
                "coco",
                "resnet50",
                "all-minilm-l6-v2"
            ]
        );
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
