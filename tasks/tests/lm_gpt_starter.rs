//! The agent's Rust trainer for languageModelingFineWeb: one shared folder
//! (`tasks/starters/lm-gpt/`, the crate `gpt/`) whose model, optimiser, data and loss
//! files are links to the library's own `tasks/src/lm` files, plus recipe files
//! (`gpt/configs/*.toml`) that are the library's recipes. The registry gives the task the
//! whole folder; the crate builds offline from the local registry; what it trains with a
//! seed is bit for bit what the library trains; the evaluator scores its submission.
//!
//! After changing a `Recipe`, refresh the config files with
//! `LM_STARTER_BLESS=1 cargo test --release -p mlgym-tasks --test lm_gpt_starter`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lm_support;

use std::path::PathBuf;
use std::process::Command;

use candle_core::Device;
use lm_support::*;
use mlgym_tasks::datasets::fineweb;
use mlgym_tasks::lm::config::ModelConfig;
use mlgym_tasks::lm::scoring::evaluate_dir;
use mlgym_tasks::lm::train::{train, Recipe};
use mlgym_tasks::lm::{weights, CONFIG_FILE, MODEL_FILE};

const TASK: &str = "languageModelingFineWeb";
const RECIPES: [&str; 3] = ["cpu", "mlgym", "quick"];

mod starter_support;
use starter_support::{files_under, tasks_dir};

fn shared() -> PathBuf {
    starter_support::starter_dir("lm-gpt")
}

/// The text of `gpt/configs/<name>.toml`: the library's recipe `name`.
fn config_text(name: &str) -> String {
    let what = match name {
        "cpu" => "The CPU recipe (4 layers x 256, batch 4 x 1024, 500 steps): hours on a CPU",
        "mlgym" => {
            "MLGym's baseline recipe (12 layers x 768, batch 64 x 1024, 500 steps): sized for a GPU"
        }
        _ => "A pipeline check (2 layers x 64, batch 4 x 128, 20 steps): seconds",
    };
    format!(
        "# {what}.\n\
         # The hyper-parameters of `Recipe` (gpt/src/lm/train.rs), then the model as written to\n\
         # model_config.json ([model]; fields in docs of gpt/src/lm/config.rs).\n\
         # compute: \"auto\" (bf16 on a GPU, f32 on the CPU, where this crate trains), \"f32\" or \"bf16\".\n{}",
        Recipe::named(name).unwrap().to_toml()
    )
}

#[test]
fn each_config_file_is_the_librarys_recipe() {
    let bless = std::env::var_os("LM_STARTER_BLESS").is_some();
    for name in RECIPES {
        let path = shared().join(format!("gpt/configs/{name}.toml"));
        let want = config_text(name);
        let got = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want && bless {
            std::fs::write(&path, &want).unwrap();
        } else {
            assert_eq!(
                got,
                want,
                "{} is out of date (refresh with LM_STARTER_BLESS=1 cargo test --release -p \
                 mlgym-tasks --test lm_gpt_starter)",
                path.display()
            );
        }
        let back = Recipe::from_toml(&want, &path.display().to_string()).unwrap();
        assert_eq!(&back, &Recipe::named(name).unwrap(), "{name}");
    }
}

#[test]
fn a_bad_recipe_file_names_the_field() {
    let base = Recipe::quick().to_toml();
    let e = |text: &str| Recipe::from_toml(text, "my.toml").unwrap_err().to_string();
    assert!(e(&base.replace("batch = 4", "batch = 0")).contains("`batch`"));
    assert!(e(&base.replace("batch = 4", "batch = 4\ncolour = 1")).contains("colour"));
    assert!(e(&base.replace("n_head = 2", "n_head = 0")).contains("`n_head`"));
    assert!(e(&base.replace("muon_lr = 0.02", "muon_lr = -1.0")).contains("`muon_lr`"));
    assert!(e("batch = ").starts_with("my.toml: "));
    let bad = e(&base.replace("compute = \"auto\"", "compute = \"fp16\""));
    assert!(bad.contains("compute") && bad.contains("bf16"), "{bad}");
    // A file from before `compute` existed means `auto`.
    let old = base.replace("compute = \"auto\"\n", "");
    assert_ne!(old, base);
    assert_eq!(
        Recipe::from_toml(&old, "old.toml").unwrap(),
        Recipe::quick()
    );
}

/// The crate's model, optimiser, data and loss sources are links, not copies.
#[test]
fn shared_library_files_are_links_into_the_library() {
    let root = shared().join("gpt/src");
    let src = tasks_dir().join("src").canonicalize().unwrap();
    let kernels = tasks_dir().join("../kernels/src").canonicalize().unwrap();
    let mut links: Vec<(String, PathBuf)> = [
        "config", "error", "evaluate", "model", "muon", "ops", "shards", "train", "weights",
    ]
    .iter()
    .map(|f| (format!("lm/{f}.rs"), src.join(format!("lm/{f}.rs"))))
    .collect();
    links.push(("rng.rs".into(), src.join("rng.rs")));
    links.push(("cpu_op.rs".into(), kernels.join("cpu_op.rs")));
    for (l, want) in links {
        let p = root.join(&l);
        let meta = std::fs::symlink_metadata(&p).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "{} is not a link",
            p.display()
        );
        assert_eq!(
            p.canonicalize().unwrap(),
            want,
            "{} points elsewhere",
            p.display()
        );
    }
}

/// The task gets its Python files and every file of the shared folder, with the bytes of
/// the link targets.
#[test]
fn the_task_gets_the_whole_shared_starter() {
    let mut files = Vec::new();
    files_under(&shared(), &shared(), &mut files);
    files.sort();
    for f in [
        "gpt/src/lm/model.rs",
        "gpt/Cargo.lock",
        "gpt/configs/cpu.toml",
    ] {
        assert!(files.contains(&f.to_string()), "{f} missing: {files:?}");
    }
    let t = mlgym_tasks::registry::get(TASK).unwrap();
    let mut got: Vec<String> = t
        .starter
        .iter()
        .map(|f| f.path.to_string_lossy().into_owned())
        .collect();
    got.sort();
    let mut want = files.clone();
    want.extend(["baseline.py".to_string(), "lm_io.py".to_string()]);
    want.sort();
    assert_eq!(got, want);
    for f in &files {
        let on_disk = std::fs::read(shared().join(f)).unwrap();
        assert_eq!(t.starter_file(f).unwrap(), on_disk.as_slice(), "{f}");
    }
}

fn tiny_recipe() -> Recipe {
    Recipe {
        model: ModelConfig::small(500, 2, 2, 32),
        batch: 4,
        seq_len: 64,
        iterations: 6,
        warmdown_iters: 6,
        log_every: 2,
        ..Recipe::mlgym()
    }
}

/// Writes the starter as the registry gives it, builds it offline in release mode (a
/// target directory kept under `target/tmp`, so only the first run compiles candle),
/// trains a tiny recipe on synthetic shards, and checks the weights against the library's
/// trainer (same seed and data: bit for bit) and the submission against the evaluator.
#[test]
fn starter_crate_builds_offline_trains_the_librarys_weights_and_is_scored() {
    let work = tempfile::tempdir().unwrap();
    starter_support::write_starter(TASK, work.path());
    let root = work.path().join("staged");
    stage_synthetic(&root, 500, 4 * 1024 + 1, 2, 4 * 4 * 64 + 1);
    let recipe = tiny_recipe();
    std::fs::write(work.path().join("tiny.toml"), recipe.to_toml()).unwrap();

    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lm-gpt-starter");
    let Some(build) =
        starter_support::cargo_build_offline(work.path(), "gpt/Cargo.toml", &target, true)
    else {
        return;
    };
    assert!(
        build.status.success(),
        "offline build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = Command::new(target.join("release/train"))
        .args(["--config", "tiny.toml", "--out", "sub", "--seed", "11"])
        .args(["--val-tokens", "2048", "--data"])
        .arg(fineweb::shard_dir(&root))
        .current_dir(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("step 6/6 loss"), "{stdout}");
    let sub = work.path().join("sub");
    let cfg = ModelConfig::read(&sub.join(CONFIG_FILE)).unwrap();
    assert_eq!(cfg, recipe.model);
    let got = weights::load(&sub.join(MODEL_FILE), &cfg).unwrap();

    let shards = fineweb::train_shards(&root).unwrap();
    let (lib, _) = train(&recipe, &shards, 11, &Device::Cpu, &|_| {}).unwrap();
    let want = lib.weights();
    assert_eq!(got.len(), want.len());
    for (name, t) in &want {
        let a: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = got[name].flatten_all().unwrap().to_vec1().unwrap();
        let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(
            same && a.len() == b.len(),
            "`{name}` differs from the library's"
        );
    }

    // The evaluator scores the starter's submission; the starter's own validation loss
    // (the same windows) is the evaluator's number.
    let r = evaluate_dir(&sub, &root, 2048).unwrap();
    assert!(r.loss.is_finite() && r.loss < 500f64.ln(), "{}", r.loss);
    let line = format!(
        "val_loss {:.4} over the first 2048 validation tokens",
        r.loss
    );
    assert!(stdout.contains(&line), "want `{line}` in:\n{stdout}");
}
