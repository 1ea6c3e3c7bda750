//! `mlgym report` end to end on small synthetic runs: JSON contract, filters, bad input
//! reported and skipped, and the files written by `--out` (tables, SVG and PNG plots that
//! decode and are not blank, a self-contained report.html).

// Test helpers outside #[test] functions may panic on setup failures too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod view_support;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use view_support::{assert_png_has_content, shared_reference};

fn write_run(root: &Path, name: &str, results: &str, run_json: Option<Value>) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("results.json"), results).unwrap();
    if let Some(r) = run_json {
        std::fs::write(dir.join("run.json"), r.to_string()).unwrap();
    }
}

fn results(metric: &str, values: &[f64], baseline: f64) -> String {
    let agent: Vec<Value> = values.iter().map(|v| json!({ metric: v })).collect();
    json!({"agent": agent, "baseline": {metric: baseline}}).to_string()
}

/// Synthetic runs: two tasks with scores, plus every kind of bad input.
fn fixture(root: &Path) {
    let bos = 1.0226699113845825;
    let cost = |c: f64, status: &str| {
        Some(json!({
            "task": "battleOfSexes", "agent": "default", "model": "model-a",
            "exit_status": status, "steps": 12, "scores": [],
            "model_stats": {"tokens_sent": 1000, "tokens_received": 50, "api_calls": 12, "total_cost": c, "task_cost": c},
            "seed": 0,
        }))
    };
    write_run(
        root,
        "model-a__battleOfSexes__default__seed-0__run_0",
        &results("Score", &[1.1, 1.3, 1.2], bos),
        cost(0.5, "submitted"),
    );
    write_run(
        root,
        "model-a__battleOfSexes__default__seed-1__run_1",
        &results("Score", &[1.4], bos),
        cost(1.5, "autosubmission (exit_context)"),
    );
    write_run(
        root,
        "model-b__battleOfSexes__x__run_0",
        &results("Score", &[0.9], bos),
        None,
    );
    write_run(
        root,
        "metagen-model-c__battleOfSexes__default__parallel_agents_run_0",
        &results("Score", &[1.2], bos),
        None,
    );
    write_run(
        root,
        "model-a__3SATTime__x__run_0",
        &results("Time", &[10.0], 16.158),
        None,
    );
    write_run(
        root,
        "model-b__3SATTime__x__run_0",
        &results("Time", &[12.0, 11.0], 16.158),
        None,
    );
    // Bad input.
    write_run(root, "model-b__blotto__x__run_0", "{\"agent\": [oops", None);
    write_run(
        root,
        "model-a__blotto__x__run_0",
        &results("Score", &[], -0.248),
        None,
    );
    write_run(
        root,
        "model-a__titanicSurvival__x__run_0",
        &results("accuracy", &[0.8], 0.76),
        None,
    );
    std::fs::create_dir_all(root.join("notes")).unwrap();
}

fn report(args: &[&str], paths: &[&Path]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlgym"))
        .arg("report")
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn skipped_reason(report: &Value, path_part: &str) -> String {
    report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"].as_str().unwrap().contains(path_part))
        .map(|s| s["reason"].as_str().unwrap().to_string())
        .unwrap_or_else(|| {
            panic!(
                "{path_part} is not listed as skipped: {}",
                report["skipped"]
            )
        })
}

#[test]
fn report_json_contract_and_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fixture(&runs);
    let (code, r, stderr) = report(&["--json"], &[&runs, &empty]);
    assert_eq!(code, 0, "{stderr}");

    // Scores: best over runs of best attempts, best over runs of last submissions.
    let bos = &r["scores"]["battleOfSexes"];
    assert_eq!(bos["model-a"], json!({"best": 1.4, "last": 1.4}));
    assert_eq!(bos["model-c"]["best"], 1.2, "metagen- prefix is dropped");
    assert_eq!(bos["baseline"]["best"], 1.0226699113845825);
    assert_eq!(
        r["scores"]["3SATTime"]["model-b"],
        json!({"best": 11.0, "last": 11.0})
    );
    assert!(r["scores"]["3SATTime"]["model-c"]["best"].is_null());
    assert!(r["scores"].get("titanicSurvival").is_none());
    // Blotto has runs but none usable: the task counts, only the baseline has a value.
    assert!(r["scores"]["blotto"]["model-a"]["best"].is_null());
    assert_eq!(r["scores"]["blotto"]["baseline"]["best"], -0.248);

    // model-a is best on both scored tasks and nobody is feasible on blotto: its profile
    // is 2/3 from τ = 0, so AUP = 2/3 · τ_max.
    let tau_max = r["tau_max"].as_f64().unwrap();
    let a = &r["aup"]["model-a"];
    assert!(
        (a["best"].as_f64().unwrap() - tau_max * 2.0 / 3.0).abs() < 1e-9,
        "{a}"
    );
    for (name, v) in r["aup"].as_object().unwrap() {
        for k in ["best", "last"] {
            let x = v[k].as_f64().unwrap();
            assert!((0.0..=tau_max + 1e-12).contains(&x), "{name} {k} {x}");
        }
    }
    assert!(r["aup"]["model-c"]["best"].as_f64() < a["best"].as_f64());
    assert!(r["aup"]["model-b"]["best"].as_f64() < a["best"].as_f64());
    assert_eq!(r["ranks"]["best"]["tasks"]["3SATTime"][0], "model-a");
    assert_eq!(r["ranks"]["best"]["borda"][0]["model"], "model-a");

    // Bad input is reported with a reason, never a crash.
    assert!(skipped_reason(&r, "model-b__blotto").contains("corrupt results.json"));
    assert!(skipped_reason(&r, "model-a__blotto").contains("no score"));
    assert!(skipped_reason(&r, "titanicSurvival").contains("unknown"));
    assert!(skipped_reason(&r, "empty").contains("no run directories"));

    // Diagnostics from run.json.
    let d = &r["diagnostics"]["models"]["model-a"];
    assert_eq!(d["runs"], 4);
    assert_eq!(d["failed"], 1);
    assert_eq!(d["incomplete"], 1);
    assert_eq!(d["mean_cost"], 1.0);
}

#[test]
fn report_model_filters() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(tmp.path());
    let (_, r, _) = report(&["--json", "--models", "model-a,model-c"], &[tmp.path()]);
    let names: Vec<&String> = r["aup"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["baseline", "model-a", "model-c"]);
    let (_, r, _) = report(
        &["--json", "--exclude-models", "model-b,baseline"],
        &[tmp.path()],
    );
    let names: Vec<&String> = r["aup"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["model-a", "model-c"]);
    let (_, r, _) = report(&["--json", "--models", "nobody"], &[tmp.path()]);
    assert!(r["warnings"].to_string().contains("nobody"));
}

#[test]
fn report_nothing_usable_exits_1_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, r, stderr) = report(&["--json"], &[tmp.path(), &tmp.path().join("nope")]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no run had a usable score"), "{stderr}");
    assert_eq!(r["skipped"].as_array().unwrap().len(), 2);
    let (code, _, _) = report(&[], &[tmp.path()]);
    assert_eq!(code, 1);
}

#[test]
fn report_markdown_and_csv_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_mlgym"))
        .arg("report")
        .arg(tmp.path())
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("### AUP"), "{md}");
    assert!(md.contains("| Battle of Sexes | 1.023 |"), "{md}");
    assert!(md.contains("### Skipped"));
    let out = Command::new(env!("CARGO_BIN_EXE_mlgym"))
        .args(["report", "--format", "csv"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        csv.contains("Task,baseline,model-a,model-b,model-c\n"),
        "{csv}"
    );
}

fn check_out_dir(out: &Path) {
    for f in [
        "report.json",
        "report.md",
        "report.html",
        "best_scores.csv",
        "last_scores.csv",
        "aup_scores.csv",
        "best_ranks.csv",
        "last_ranks.csv",
        "diagnostics.csv",
        "runs.csv",
        "skipped.csv",
    ] {
        assert!(out.join(f).is_file(), "{f} was not written");
    }
    for stem in [
        "profile_best",
        "profile_last",
        "aup_vs_cost",
        "scores_per_task",
    ] {
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("<text"),
            "{stem}.svg has no text"
        );
        assert_png_has_content(&out.join(format!("{stem}.png")), 600, 250);
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("href=\"best_scores.csv\""));
    assert!(html.contains("href=\"profile_best.png\""));
    assert_eq!(html.matches("<svg").count(), 4, "plots are inlined");
    assert!(!html.contains("src=\"http") && !html.contains("<link "));
}

#[test]
fn report_out_dir_has_tables_plots_and_html() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    fixture(&runs);
    let out = tmp.path().join("out");
    let (code, _, stderr) = report(&["--out", out.to_str().unwrap()], &[&runs]);
    assert_eq!(code, 0, "{stderr}");
    check_out_dir(&out);
    let aup = std::fs::read_to_string(out.join("aup_scores.csv")).unwrap();
    assert!(aup.starts_with("Model,Best AUP,Last AUP\n"));
}

#[test]
fn report_out_dir_on_mlgym_runs() {
    let Some(shared) = shared_reference() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, stderr) = report(
        &[
            "--out",
            out.to_str().unwrap(),
            "--exclude-models",
            "gemini-20-pro",
            "--traj-dir",
            shared.join("trajectories").to_str().unwrap(),
        ],
        &[&shared.join("runs")],
    );
    assert_eq!(code, 0, "{stderr}");
    check_out_dir(&out);
    let d = std::fs::read_to_string(out.join("diagnostics.csv")).unwrap();
    assert!(d.contains("gpt-o1,52,50,2,"), "{d}");
}
