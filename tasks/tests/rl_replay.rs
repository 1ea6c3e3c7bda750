//! Replays the gymnax reference trajectories (`shared/reference/gymnax/*/random.jsonl.gz`)
//! and the checker's own error handling.

// Test helpers outside #[test] functions panic on purpose too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use mlgym_tasks::rl::replay::{replay_file, Follow, ReplayError, ReplayOptions};
use mlgym_tasks::rl::EnvId;

/// `shared/` beside the repository, or `None` (with the reason printed) when absent.
fn shared_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if dir.join("reference/gymnax").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: {} has no reference/gymnax (the shared reference data is not here)",
            dir.display()
        );
        None
    }
}

fn reference(id: EnvId) -> Option<PathBuf> {
    Some(shared_dir()?.join(format!("reference/gymnax/{}/random.jsonl.gz", id.name())))
}

#[test]
fn all_three_reference_files_replay_with_zero_mismatches() {
    let expected_steps = [
        (EnvId::MetaMaze, 4000, 20),
        (EnvId::MountainCarContinuous, 6000, 20),
        (EnvId::Breakout, 940, 100),
    ];
    for (id, steps, episodes) in expected_steps {
        let Some(path) = reference(id) else { return };
        let report = replay_file(id, &path, &ReplayOptions::default()).unwrap();
        for m in &report.first_mismatches {
            eprintln!("{id}: {m}");
        }
        assert_eq!(report.mismatches, 0, "{id}");
        assert_eq!(report.steps, steps, "{id}");
        assert_eq!(report.episodes, episodes, "{id}");
    }
}

#[test]
fn reference_files_also_match_when_following_our_own_state() {
    // No cascade correction: our state carries over the whole episode, bit for bit.
    for id in EnvId::ALL {
        let Some(path) = reference(id) else { return };
        let opts = ReplayOptions {
            follow: Follow::Own,
            ..ReplayOptions::default()
        };
        let report = replay_file(id, &path, &opts).unwrap();
        assert_eq!(report.mismatches, 0, "{id}: {:?}", report.first_mismatches);
    }
}

#[test]
fn autoresets_are_checked_on_every_done_step() {
    let Some(path) = reference(EnvId::MetaMaze) else {
        return;
    };
    let report = replay_file(EnvId::MetaMaze, &path, &ReplayOptions::default()).unwrap();
    // Every MetaMaze episode of the file is truncated at t=200.
    assert_eq!(report.autoresets, 20);
    let Some(path) = reference(EnvId::Breakout) else {
        return;
    };
    let report = replay_file(EnvId::Breakout, &path, &ReplayOptions::default()).unwrap();
    assert_eq!(report.autoresets, 100);
}

fn write_temp(lines: &[String]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f
}

/// The first `n` lines of a reference file, decompressed.
fn head(id: EnvId, n: usize) -> Option<Vec<String>> {
    use std::io::BufRead;
    let path = reference(id)?;
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    Some(
        std::io::BufReader::new(gz)
            .lines()
            .take(n)
            .map(Result::unwrap)
            .collect(),
    )
}

#[test]
fn a_tampered_line_is_counted_and_described() {
    let Some(mut lines) = head(EnvId::MountainCarContinuous, 12) else {
        return;
    };
    // Flip one bit of a recorded velocity: exactly that line must mismatch.
    let mut v: serde_json::Value = serde_json::from_str(&lines[5]).unwrap();
    let bits = v["state"]["velocity_bits"].as_str().unwrap();
    let flipped = format!("{:08x}", u32::from_str_radix(bits, 16).unwrap() ^ 1);
    v["state"]["velocity_bits"] = serde_json::Value::String(flipped);
    lines[5] = v.to_string();
    let f = write_temp(&lines);
    let report = replay_file(
        EnvId::MountainCarContinuous,
        f.path(),
        &ReplayOptions::default(),
    )
    .unwrap();
    assert_eq!(report.mismatches, 1);
    assert_eq!(report.steps, 10);
    let m = &report.first_mismatches[0];
    assert_eq!(m.line, 6);
    assert!(m.what.contains("velocity"), "{}", m.what);
    // Plain (not gzip) files are read too, which this test just did.
}

#[test]
fn wrong_env_and_malformed_lines_are_errors_naming_file_and_line() {
    let Some(mut lines) = head(EnvId::Breakout, 4) else {
        return;
    };
    let f = write_temp(&lines);
    let err = replay_file(EnvId::MetaMaze, f.path(), &ReplayOptions::default()).unwrap_err();
    assert!(
        matches!(err, ReplayError::WrongEnv { line: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--env Breakout-MinAtar"));

    lines[2] = "{not json".into();
    let f = write_temp(&lines);
    let err = replay_file(EnvId::Breakout, f.path(), &ReplayOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&format!("{}:3:", f.path().display())), "{msg}");

    let Some(mut lines) = head(EnvId::Breakout, 4) else {
        return;
    };
    let mut v: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
    v["state"].as_object_mut().unwrap().remove("ball_dir");
    lines[2] = v.to_string();
    let f = write_temp(&lines);
    let err = replay_file(EnvId::Breakout, f.path(), &ReplayOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(":3: field `state.ball_dir` is missing"),
        "{msg}"
    );

    let err = replay_file(
        EnvId::Breakout,
        Path::new("/nonexistent/x.jsonl.gz"),
        &ReplayOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/x.jsonl.gz"));
}

#[test]
fn steps_out_of_order_are_schema_errors() {
    let Some(lines) = head(EnvId::MetaMaze, 5) else {
        return;
    };
    let skipped = vec![
        lines[0].clone(),
        lines[1].clone(),
        lines[2].clone(),
        lines[4].clone(),
    ];
    let f = write_temp(&skipped);
    let err = replay_file(EnvId::MetaMaze, f.path(), &ReplayOptions::default()).unwrap_err();
    assert!(matches!(err, ReplayError::Schema { line: 4, .. }), "{err}");
    let f = write_temp(&[lines[0].clone(), lines[2].clone()]);
    let err = replay_file(EnvId::MetaMaze, f.path(), &ReplayOptions::default()).unwrap_err();
    assert!(err.to_string().contains("before any `reset`"), "{err}");
}
