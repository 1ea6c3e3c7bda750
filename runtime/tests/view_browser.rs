//! `mlgym view` pages in headless Chromium: the DOM after scripts ran shows the step count,
//! the final score and the step filter's counter, and a screenshot renders. Chromium is
//! installed with apt-get when missing; the tests skip with a printed reason when it cannot
//! be installed or started.

// Test helpers outside #[test] functions may panic on setup failures too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod view_support;

use std::path::Path;

use view_support::{
    assert_png_has_content, chromium, make_run_dir, run_chromium, shared_reference, view,
};

/// Loads `page` in Chromium, checks the DOM for `expected` and writes a screenshot.
fn check_in_browser(page: &Path, expected: &[String]) {
    let Some(browser) = chromium() else { return };
    let Some(dom) = run_chromium(&browser, page, &["--dump-dom".to_string()]) else {
        return;
    };
    for e in expected {
        assert!(dom.contains(e.as_str()), "the rendered DOM lacks {e:?}");
    }
    let shot = page.with_extension("png");
    let args = [
        "--window-size=1280,1600".to_string(),
        "--hide-scrollbars".to_string(),
        format!("--screenshot={}", shot.display()),
    ];
    if run_chromium(&browser, page, &args).is_none() {
        return;
    }
    assert_png_has_content(&shot, 1280, 1600);
    let keep = std::env::temp_dir().join(shot.file_name().unwrap());
    std::fs::copy(&shot, &keep).unwrap();
    println!("screenshot: {}", keep.display());
}

#[test]
fn view_mlgym_trajectory_in_chromium() {
    let Some(shared) = shared_reference() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("mlgym-view-bos.html");
    view(
        &shared.join("trajectories/metagen-claude-35-sonnet-new__battleOfSexes__default__t-0.00__p-0.95__c-4.00__install-0__parallel_agents_run_0.traj.gz"),
        &page,
    );
    check_in_browser(
        &page,
        &[
            "<span id=\"step-count\">17</span>".into(),
            "<span id=\"final-score\">1.2636</span>".into(),
            "<span id=\"exit-status\">submitted</span>".into(),
            // Written by the page's script: proves it ran without errors.
            "17 of 17 steps shown".into(),
        ],
    );
}

#[test]
fn view_our_run_dir_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = make_run_dir(tmp.path());
    let page = tmp.path().join("mlgym-view-ours.html");
    view(&dir, &page);
    check_in_browser(
        &page,
        &[
            "<span id=\"step-count\">3</span>".into(),
            "<span id=\"final-score\">1.25</span>".into(),
            "3 of 3 steps shown".into(),
            // The hostile observation is text, not markup, after parsing.
            "&lt;script&gt;alert('pwned')&lt;/script&gt;".into(),
        ],
    );
}
