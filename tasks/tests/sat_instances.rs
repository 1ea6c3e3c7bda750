//! The 3SATTime instance sets: pinned bytes, shape, and ground truth cross-checked by
//! independent solvers. Needs no Python and no sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use mlgym_tasks::rng::Rng;
use mlgym_tasks::sat::cnf::{brute_force, Cnf, Verdict};
use mlgym_tasks::sat::generate::random_ksat;
use mlgym_tasks::sat::instances::{
    self, InstanceSet, DEVELOPMENT, EVALUATION, GRID_RATIOS, GRID_VARS,
};
use mlgym_tasks::sat::{cdcl, dpll};

/// Pinned here as well as in the module: changing a set must be a deliberate, visible
/// edit of both (scores on different sets are not comparable).
const EVALUATION_SHA256: &str = "459fdfb02aa92c58834c0702e8244fd56b34ebf871ef110df1da2963054c8713";
const DEVELOPMENT_SHA256: &str = "2adce9b3868f2efe5dbe554e4c37ca76c230e523864a6f74d5a2c7649af7bcf3";

#[test]
fn sat_sets_are_byte_identical_to_the_pinned_checksums() {
    let eval = instances::build_pinned(&EVALUATION).unwrap();
    assert_eq!(eval.sha256(), EVALUATION_SHA256);
    let dev = instances::build_pinned(&DEVELOPMENT).unwrap();
    assert_eq!(dev.sha256(), DEVELOPMENT_SHA256);
    // The two sets share no formula (different seeds).
    for d in &dev.instances {
        assert!(
            eval.instances.iter().all(|e| e.cnf != d.cnf),
            "{} is also in the evaluation set",
            d.name
        );
    }
    // A second build is identical (no hidden state, thread count irrelevant).
    assert_eq!(
        instances::build(&EVALUATION).unwrap().jsonl(true),
        eval.jsonl(true)
    );
}

#[test]
fn sat_sets_span_the_grid_and_are_roughly_balanced() {
    for set in [
        instances::evaluation_set().unwrap(),
        instances::development_set().unwrap(),
    ] {
        let per_ratio: usize = GRID_VARS.iter().map(|(_, c)| c).sum();
        assert_eq!(set.instances.len(), per_ratio * GRID_RATIOS.len());
        let share = set.satisfiable() as f64 / set.instances.len() as f64;
        assert!((0.45..=0.55).contains(&share), "satisfiable share {share}");
        // Low ratios are mostly satisfiable, high ratios mostly not.
        let sat_at = |r: &str| {
            let cell: Vec<_> = set
                .instances
                .iter()
                .filter(|i| i.name.ends_with(r))
                .collect();
            cell.iter().filter(|i| i.sat).count() as f64 / cell.len() as f64
        };
        assert!(
            sat_at("r3.00") > 0.95 && sat_at("r6.00") < 0.05,
            "{} {}",
            sat_at("r3.00"),
            sat_at("r6.00")
        );
        let first = &set.instances[0];
        assert_eq!((first.cnf.num_vars, first.cnf.clauses.len()), (20, 60));
        assert!(set
            .instances
            .iter()
            .all(|i| i.cnf.is_well_formed() && i.cnf.clauses.iter().all(|c| c.len() == 3)));
    }
}

fn cross_check(set: &InstanceSet) {
    for inst in &set.instances {
        let cdcl_verdict = cdcl::solve(&inst.cnf);
        let dpll_verdict = dpll::solve(&inst.cnf);
        assert_eq!(cdcl_verdict.is_sat(), inst.sat, "{}", inst.name);
        assert_eq!(
            dpll_verdict.is_sat(),
            inst.sat,
            "{}: DPLL disagrees with CDCL",
            inst.name
        );
        for verdict in [cdcl_verdict, dpll_verdict] {
            if let Verdict::Sat(model) = verdict {
                assert!(
                    inst.cnf.satisfied_by(&model),
                    "{}: invalid model",
                    inst.name
                );
            }
        }
    }
}

#[test]
fn sat_ground_truth_agrees_with_an_independent_dpll() {
    cross_check(instances::evaluation_set().unwrap());
    cross_check(instances::development_set().unwrap());
}

#[test]
fn sat_cdcl_agrees_with_brute_force_near_the_threshold() {
    let mut rng = Rng::new(2024);
    let (mut sat, mut unsat) = (0, 0);
    for i in 0..300u32 {
        let n = 8 + i % 9; // 8..=16 variables
        let m = (n as usize * (350 + (i as usize * 7) % 150)).div_ceil(100);
        let f = random_ksat(&mut rng, n, m, 3);
        let truth = brute_force(&f).unwrap();
        let got = cdcl::solve(&f);
        assert_eq!(got.is_sat(), truth.is_sat(), "{}", f.to_dimacs());
        if let Verdict::Sat(model) = got {
            assert!(f.satisfied_by(&model));
            sat += 1;
        } else {
            unsat += 1;
        }
    }
    assert!(sat > 60 && unsat > 60, "sat {sat} unsat {unsat}");
}

#[test]
fn sat_cdcl_handles_a_hard_unsatisfiable_formula() {
    // Pigeonhole 6 -> 5: unsatisfiable and exponential for resolution, small enough here.
    let (p, h) = (6i32, 5i32);
    let var = |i: i32, j: i32| i * h + j + 1;
    let mut clauses: Vec<Vec<i32>> = (0..p)
        .map(|i| (0..h).map(|j| var(i, j)).collect())
        .collect();
    for j in 0..h {
        for a in 0..p {
            for b in a + 1..p {
                clauses.push(vec![-var(a, j), -var(b, j)]);
            }
        }
    }
    let f = Cnf {
        num_vars: (p * h) as u32,
        clauses,
    };
    let (verdict, stats) = cdcl::solve_with_stats(&f);
    assert_eq!(verdict, Verdict::Unsat);
    assert!(stats.conflicts > 10, "{stats:?}");
    assert_eq!(dpll::solve(&f), Verdict::Unsat);
}

#[test]
fn sat_development_set_is_staged_once_and_repaired() {
    let root = tempfile::tempdir().unwrap();
    let dir = instances::stage_public(root.path()).unwrap();
    let file = dir.join("dev.jsonl");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        bytes,
        instances::development_set().unwrap().jsonl(true).as_bytes()
    );
    assert!(std::fs::read_to_string(dir.join("README.txt"))
        .unwrap()
        .contains("num_vars"));
    let first = bytes.split(|b| *b == b'\n').next().unwrap();
    let line: serde_json::Value = serde_json::from_slice(first).unwrap();
    assert_eq!(line["name"], "d0000-n20-r3.00");
    assert_eq!(line["clauses"].as_array().unwrap().len(), 60);
    assert!(line["sat"].is_boolean());
    // A damaged copy is rewritten; an intact one is left alone.
    std::fs::write(&file, b"garbage").unwrap();
    instances::stage_public(root.path()).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    instances::stage_public(root.path()).unwrap();
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn sat_the_evaluation_set_is_never_written_to_the_public_data() {
    let root = tempfile::tempdir().unwrap();
    let dir = instances::stage_public(root.path()).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let text = std::fs::read_to_string(dir.join("dev.jsonl")).unwrap();
    assert!(!text.contains("\"e0000-"));
}

/// Cross-check against MiniSat when it is installed (`apt-get install minisat`).
#[test]
fn sat_ground_truth_agrees_with_minisat_when_installed() {
    let Some(minisat) = ["/usr/bin/minisat", "/usr/local/bin/minisat"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("SKIP: minisat is not installed (apt-get install minisat)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for set in [
        instances::evaluation_set().unwrap(),
        instances::development_set().unwrap(),
    ] {
        for inst in &set.instances {
            let cnf = dir.path().join("f.cnf");
            std::fs::write(&cnf, inst.cnf.to_dimacs()).unwrap();
            let out = std::process::Command::new(minisat)
                .arg("-verb=0")
                .arg(&cnf)
                .output()
                .unwrap();
            // MiniSat exits 10 for SATISFIABLE, 20 for UNSATISFIABLE.
            let sat = match out.status.code() {
                Some(10) => true,
                Some(20) => false,
                other => panic!("minisat exit {other:?} on {}", inst.name),
            };
            assert_eq!(sat, inst.sat, "{}: minisat disagrees", inst.name);
        }
    }
}

/// The task's sanity bound ("the set takes X s for a CDCL solver"). Run in release:
/// `scripts/bench/sat_native.sh`.
#[test]
#[ignore = "a measurement; run in release via scripts/bench/sat_native.sh"]
fn sat_native_solver_time() {
    let set = instances::evaluation_set().unwrap();
    let mut best = f64::INFINITY;
    let mut decisions = 0;
    for _ in 0..5 {
        let start = Instant::now();
        decisions = 0;
        for inst in &set.instances {
            decisions += cdcl::solve_with_stats(&inst.cnf).1.decisions;
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "native CDCL: {} instances in {best:.4} s (best of 5, one thread), {decisions} decisions",
        set.instances.len()
    );
}
