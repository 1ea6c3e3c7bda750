//! `mlgym view` without a browser: the page is self-contained, escapes the trajectory,
//! and shows steps, scores and exit status for our run directories and MLGym's `.traj.gz`.

// Test helpers outside #[test] functions may panic on setup failures too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod view_support;

use mlgym_runtime::view::{format_score, load};
use view_support::{make_run_dir, shared_reference, view, HOSTILE};

#[test]
fn view_our_run_dir_is_rendered_and_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = make_run_dir(tmp.path());

    let data = load(&dir).unwrap();
    assert_eq!(data.steps.len(), 3);
    assert_eq!(data.task.as_deref(), Some("battleOfSexes"));
    assert_eq!(data.model.as_deref(), Some("test-model"));
    assert_eq!(data.exit_status.as_deref(), Some("submitted"));
    assert_eq!(data.final_score(), Some(1.25));
    assert_eq!(data.scores[0].step, Some(1));
    assert_eq!(data.scores[1].kind, "submit");
    assert_eq!(data.baseline.get("Score"), Some(&1.0226699113845825));

    let html = view(&dir, &tmp.path().join("run.html"));
    assert!(html.contains("<span id=\"step-count\">3</span>"));
    assert!(html.contains("<span id=\"final-score\">1.25</span>"));
    assert!(html.contains("<span id=\"exit-status\">submitted</span>"));
    assert!(html.contains("id=\"score-chart\""));
    assert!(
        html.contains("href=\"#step-3\""),
        "score points link to their step"
    );
    // Everything from the trajectory is escaped; the only script is ours.
    assert!(!html.contains(HOSTILE));
    assert!(html.contains(
        "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    ));
    assert!(html.contains("TASK DESCRIPTION: play Battle of the Sexes &lt;well&gt;"));
    assert_eq!(html.matches("<script>").count(), 1);
    // Self-contained: no external resources.
    for needle in ["src=\"http", "href=\"http", "<link ", "@import", "url("] {
        assert!(!html.contains(needle), "page references {needle}");
    }
}

#[test]
fn view_mlgym_traj_gz_is_rendered() {
    let Some(shared) = shared_reference() else {
        return;
    };
    let traj = shared.join(
        "trajectories/metagen-claude-35-sonnet-new__battleOfSexes__default__t-0.00__p-0.95__c-4.00__install-0__parallel_agents_run_0.traj.gz",
    );
    let data = load(&traj).unwrap();
    assert_eq!(data.steps.len(), 17);
    assert_eq!(data.model.as_deref(), Some("claude-35-sonnet-new"));
    assert_eq!(data.task.as_deref(), Some("battleOfSexes"));
    assert_eq!(data.scores.len(), 6);
    // 5 validations matched to their steps, then the submission on the last step.
    assert!(data.scores.iter().all(|s| s.step.is_some()));
    assert_eq!(data.scores[5].step, Some(17));
    assert!((data.baseline["Score"] - 1.0226699113845825).abs() < 1e-12);
    let tmp = tempfile::tempdir().unwrap();
    let html = view(&traj, &tmp.path().join("bos.html"));
    let final_score = format_score(data.final_score().unwrap());
    assert_eq!(final_score, "1.2636");
    assert!(html.contains(&format!("<span id=\"final-score\">{final_score}</span>")));
    assert!(html.contains("<span id=\"step-count\">17</span>"));
}

#[test]
fn view_every_shared_trajectory_loads() {
    let Some(shared) = shared_reference() else {
        return;
    };
    let mut n = 0;
    for entry in std::fs::read_dir(shared.join("trajectories")).unwrap() {
        let p = entry.unwrap().path();
        let data = load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let html = mlgym_runtime::view::render_html(&data);
        assert!(html.contains(&format!(
            "<span id=\"step-count\">{}</span>",
            data.steps.len()
        )));
        n += 1;
    }
    assert_eq!(n, 155);
}

#[test]
fn view_bad_inputs_are_errors_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let e = load(&tmp.path().join("missing")).unwrap_err().to_string();
    assert!(e.contains("does not exist"), "{e}");
    let e = load(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("no .traj"), "{e}");
    let bad = tmp.path().join("bad.traj");
    std::fs::write(&bad, "{not json").unwrap();
    let e = load(&bad).unwrap_err().to_string();
    assert!(e.contains("not a trajectory"), "{e}");
}
