//! Turning raw shell output into the observation text.
//!
//! Like MLGym: carriage-return overwrites are resolved (a progress bar leaves its last
//! state), tqdm-style progress lines are dropped. Unlike MLGym, blank lines inside the
//! output are kept (MLGym removes them all, which distorts `cat` of a source file).

/// Whether `line` looks like a tqdm progress bar (`12%|███ | 3/25 [00:01<00:08, ...]`).
fn is_progress(line: &str) -> bool {
    let Some(pct) = line.find("%|") else {
        return false;
    };
    let before = &line[..pct];
    let digits = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    digits > 0
        && line[pct + 2..].contains('|')
        && line.contains('[')
        && line.trim_end().ends_with(']')
}

/// Cleans raw output.
pub fn clean(raw: &str) -> String {
    let text = raw.replace("\r\n", "\n");
    let mut lines = Vec::new();
    for line in text.split('\n') {
        // What a terminal would finally show: the text after the last carriage return.
        let shown = line.rsplit('\r').find(|s| !s.is_empty()).unwrap_or("");
        if is_progress(shown) {
            continue;
        }
        lines.push(shown);
    }
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_progress_bars_and_keeps_blank_lines() {
        let raw = "epoch 1\r\n 50%|█████     | 5/10 [00:01<00:01, 4.00it/s]\rdone 100%|██████████| 10/10 [00:02<00:00, 4.00it/s]\nline a\n\nline b\n\n";
        assert_eq!(clean(raw), "epoch 1\nline a\n\nline b");
    }

    #[test]
    fn carriage_returns_keep_the_last_state() {
        assert_eq!(clean("step 1\rstep 2\rstep 3\nend"), "step 3\nend");
    }
}
