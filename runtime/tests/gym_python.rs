//! The Python client's example training loop against a real `mlgym serve`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gym_support;

use std::path::Path;
use std::process::Command;

use gym_support::*;

#[test]
fn the_python_example_loop_runs_episodes_concurrently_and_prints_final_scores() {
    if Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        eprintln!("SKIP: python3 is not installed (the client example needs it)");
        return;
    }
    let dir = tempdir();
    let mut s = ServerProc::start(dir.path(), &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/gym/example_loop.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([
            "--url",
            &format!("http://{}", s.addr),
            "--episodes",
            "4",
            "--task",
            "battleOfSexes",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "example_loop.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches("exit_status=submitted").count(),
        4,
        "{stdout}"
    );
    let finals = stdout
        .lines()
        .find_map(|l| l.strip_prefix("final scores: "))
        .unwrap_or_else(|| panic!("no final scores:\n{stdout}"));
    let scores: Vec<f64> = finals.split(", ").map(|x| x.parse().unwrap()).collect();
    assert_eq!(scores.len(), 4, "{stdout}");
    // Episodes 0 and 3 always play 0 (≈1.44); episode 1 always plays 1.
    assert!(
        (scores[0] - 1.44).abs() < 0.05 && scores[1] < scores[0],
        "{stdout}"
    );
    // The client closed every episode; nothing is left open.
    let (_, v) = s.call("GET", "/episodes", None);
    assert_eq!(v["open"], 0, "{v}");
    let (status, _) = s.terminate(std::time::Duration::from_secs(60));
    assert!(status.success());
    // Every episode was recorded completely.
    let dirs: Vec<_> = std::fs::read_dir(&s.out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 4);
    for d in dirs {
        assert_complete(&d, "submitted", 4);
    }
}
