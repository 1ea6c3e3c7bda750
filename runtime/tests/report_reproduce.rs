//! `mlgym report` on MLGym's 676 published `results.json` files must reproduce MLGym's
//! published aggregate tables: best/last scores and AUP to ±0.001 after MLGym's rounding,
//! per-task ranks exactly up to ties. Skips (with a printed reason) when `../shared` is
//! absent, as in a fresh clone.

// Test helpers outside #[test] functions may panic on setup failures too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use mlgym_runtime::report::ranks::{borda, mean_rank};
use mlgym_runtime::report::tables::round3_for;
use mlgym_runtime::report::tasks::MLGYM_TASKS;
use serde_json::Value;

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/mlgym-reference");
    if p.join("runs").is_dir() && p.join("tables").is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the shared MLGym reference data lives beside the project root)",
            p.display()
        );
        None
    }
}

/// Rows of a published CSV (no quoted cells in these files).
fn csv(path: &PathBuf) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|c| c.trim().to_string()).collect())
        .collect()
}

fn task_id(display: &str) -> &'static str {
    MLGYM_TASKS
        .iter()
        .find(|t| t.display == display)
        .unwrap_or_else(|| panic!("unknown task row {display}"))
        .id
}

fn run_report(runs: &PathBuf) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mlgym"))
        .args(["report", "--json", "--exclude-models", "gemini-20-pro"])
        .arg(runs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mlgym report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Published value vs ours after MLGym's rounding (of `solver`'s column); returns the
/// absolute deviation, which must be within ±0.001.
fn deviation(published: &str, ours: &Value, solver: &str, what: &str) -> f64 {
    match (published.is_empty(), ours.as_f64()) {
        (true, None) => 0.0,
        (false, Some(v)) => {
            let p: f64 = published.parse().unwrap();
            let r = round3_for(solver, v);
            let d = (r - p).abs();
            let tol = 1e-3 + 1e-12 * p.abs();
            assert!(d <= tol, "{what}: published {p}, ours {v} (rounded {r})");
            d
        }
        _ => panic!("{what}: published {published:?}, ours {ours}"),
    }
}

#[test]
fn report_reproduces_published_score_and_aup_tables() {
    let Some(shared) = shared() else { return };
    let report = run_report(&shared.join("runs"));
    let tables = shared.join("tables");

    for kind in ["best", "last"] {
        let rows = csv(&tables.join(format!("{kind}_scores_aggregate_results.csv")));
        let header = &rows[0];
        let mut max_dev: f64 = 0.0;
        let mut cells = 0;
        for row in &rows[1..] {
            let id = task_id(&row[0]);
            for (model, cell) in header.iter().zip(row).skip(1) {
                let ours = &report["scores"][id][model.as_str()][kind];
                max_dev = max_dev.max(deviation(
                    cell,
                    ours,
                    model,
                    &format!("{kind} {id} {model}"),
                ));
                cells += 1;
            }
        }
        assert_eq!(cells, 13 * 13);
        println!("{kind}_scores_aggregate_results.csv: {cells} cells, max abs deviation {max_dev}");
    }

    let rows = csv(&tables.join("aup_scores_aggregate_results.csv"));
    let mut max_dev: f64 = 0.0;
    for row in &rows[1..] {
        let a = &report["aup"][row[0].as_str()];
        max_dev = max_dev.max(deviation(
            &row[1],
            &a["best"],
            "",
            &format!("best AUP {}", row[0]),
        ));
        max_dev = max_dev.max(deviation(
            &row[2],
            &a["last"],
            "",
            &format!("last AUP {}", row[0]),
        ));
    }
    assert_eq!(rows.len() - 1, 13);
    assert!(report["aup"].get("baseline").is_some());
    assert!(report["aup"].get("gemini-20-pro").is_none());
    println!("aup_scores_aggregate_results.csv: max abs deviation {max_dev}");
}

/// Scores used to decide ties in a task ranking: (task id, model) → raw score.
fn score_of(report: &Value, kind: &str, id: &str, model: &str) -> Option<f64> {
    report["scores"][id][model][kind].as_f64()
}

#[test]
fn report_reproduces_published_ranks_up_to_ties() {
    let Some(shared) = shared() else { return };
    let report = run_report(&shared.join("runs"));
    for kind in ["best", "last"] {
        let rows = csv(&shared.join(format!("tables/{kind}_ranks_aggregate_results.csv")));
        let task_rows: Vec<&Vec<String>> = rows[1..]
            .iter()
            .filter(|r| MLGYM_TASKS.iter().any(|t| t.display == r[0]))
            .collect();
        assert_eq!(task_rows.len(), 13);
        let mut ties = 0;
        for row in &task_rows {
            let id = task_id(&row[0]);
            let ours: Vec<&str> = report["ranks"][kind]["tasks"][id]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(ours.len(), row.len() - 1, "{kind} {id}");
            for (pos, (p, o)) in row[1..].iter().zip(&ours).enumerate() {
                if p == o {
                    continue;
                }
                let (sp, so) = (
                    score_of(&report, kind, id, p),
                    score_of(&report, kind, id, o),
                );
                assert_eq!(
                    sp,
                    so,
                    "{kind} ranks, {id}, position {}: published {p} ({sp:?}), ours {o} ({so:?})",
                    pos + 1
                );
                ties += 1;
            }
        }
        println!("{kind} per-task ranks: equal up to {ties} positions swapped among ties");

        // The aggregate rows depend on where tied (scoreless) models were placed, which in
        // MLGym was Python set order. Applying our aggregation to the published per-task
        // rows must reproduce the published aggregate rows up to equal values.
        let solvers: Vec<String> = task_rows[0][1..].to_vec();
        let index: BTreeMap<&str, usize> = solvers
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let orders: Vec<Vec<usize>> = task_rows
            .iter()
            .map(|r| r[1..].iter().map(|m| index[m.as_str()]).collect())
            .collect();
        let n = solvers.len();
        let agg_rows: Vec<&Vec<String>> = rows[1..]
            .iter()
            .filter(|r| r[0] == "Plackett-Luce" || r[0] == "BORDA")
            .collect();
        assert_eq!(agg_rows.len(), 2);
        for row in agg_rows {
            let ours = if row[0] == "BORDA" {
                borda(&orders, n)
            } else {
                mean_rank(&orders, n)
            };
            let value: BTreeMap<usize, f64> = ours.iter().map(|e| (e.solver, e.value)).collect();
            for (pos, (p, o)) in row[1..].iter().zip(&ours).enumerate() {
                let pi = index[p.as_str()];
                assert!(
                    pi == o.solver || value[&pi] == o.value,
                    "{kind} {} position {}: published {p}, ours {}",
                    row[0],
                    pos + 1,
                    solvers[o.solver]
                );
            }
        }
    }
}
