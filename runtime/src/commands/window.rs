//! The file window every viewing and editing command prints, in MLGym's format:
//!
//! ```text
//! [File: /abs/path.py (120 lines total)]
//! (19 more lines above)
//! 20:first shown line
//! ...
//! (81 more lines below)
//! ```
//!
//! The window arithmetic is MLGym's (`_constrain_line` and `_print`): a window of `W`
//! lines around a centre line `C` shows lines `C - ceil(W/2) + 1 ..= C + floor(W/2)`.
//! Unlike MLGym, a window never exceeds [`MAX_WINDOW_CHARS`]: a longer one is shortened
//! around the line of interest (and says so), and single lines are cut at
//! [`MAX_LINE_CHARS`].

use std::fmt::Write as _;
use std::path::Path;

use super::text::TextFile;

/// Most characters of numbered lines one window prints (MLGym's `open` limit).
pub const MAX_WINDOW_CHARS: usize = 20_000;
/// Longest line shown in full; longer lines are cut with a note.
pub const MAX_LINE_CHARS: usize = 2_000;
/// Lines kept above the line of interest when a window is shortened.
const CONTEXT_ABOVE: usize = 5;

/// MLGym's `_constrain_line`: keeps the centre line where a full window fits.
pub(crate) fn constrain(current: i64, window: usize, total: usize) -> usize {
    let half = (window / 2) as i64;
    let c = current.min(total as i64 - half);
    c.max(half).max(0) as usize
}

/// MLGym's centring for `open <file> <n>` and `goto <n>`.
pub(crate) fn centre_on(line: usize, window: usize) -> i64 {
    (line as i64 + (window / 2) as i64 - (window / 6) as i64).max(1)
}

/// Which part of an over-long window to keep (lines outside the window are clamped in).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Anchor {
    /// Keep this line, a few lines of context above it, and what follows.
    Focus(usize),
    /// Start at this line and keep what follows.
    Start(usize),
    /// End at this line and keep what precedes it.
    End(usize),
}

/// A printed window.
pub(crate) struct Shown {
    pub text: String,
    pub first: usize,
    pub last: usize,
    pub shortened: bool,
}

/// One numbered line as printed (`N:text`, cut if very long).
pub(crate) fn numbered(n: usize, text: &str) -> String {
    match text.char_indices().nth(MAX_LINE_CHARS) {
        None => format!("{n}:{text}"),
        Some((cut, _)) => format!(
            "{n}:{} [... line cut: {} characters in total]",
            &text[..cut],
            text.chars().count()
        ),
    }
}

/// Prints the window of `window` lines centred (MLGym-style) on `current`, which must
/// already be constrained.
pub(crate) fn render(
    path: &Path,
    file: &TextFile,
    current: usize,
    window: usize,
    anchor: Anchor,
) -> Shown {
    let total = file.len();
    let window = window.max(1);
    let last = (current + window / 2).min(total);
    let first = (last + 1).saturating_sub(window).max(1);
    let lines: Vec<String> = (first..=last)
        .map(|n| numbered(n, file.display(n)))
        .collect();
    let size: usize = lines.iter().map(|l| l.len() + 1).sum();
    let (lo, hi) = if size <= MAX_WINDOW_CHARS || lines.is_empty() {
        (first, last)
    } else {
        shorten(&lines, first, anchor)
    };
    let shortened = (lo, hi) != (first, last);
    let mut text = format!("[File: {} ({total} lines total)]", path.display());
    if lo > 1 {
        let _ = write!(text, "\n({} more lines above)", lo - 1);
    }
    if hi >= lo {
        for line in &lines[lo - first..=hi - first] {
            text.push('\n');
            text.push_str(line);
        }
    }
    if total > hi {
        let _ = write!(text, "\n({} more lines below)", total - hi);
    }
    if shortened {
        let _ = write!(
            text,
            "\n(window shortened to {} lines to stay under {MAX_WINDOW_CHARS} characters; use goto <line_number>, scroll_up or scroll_down to see the rest)",
            hi + 1 - lo
        );
    }
    Shown {
        text,
        first: lo,
        last: hi,
        shortened,
    }
}

/// Picks the sub-range of `lines` (numbered from `first`) to print within the budget.
fn shorten(lines: &[String], first: usize, anchor: Anchor) -> (usize, usize) {
    let last = first + lines.len() - 1;
    let cost = |n: usize| lines[n - first].len() + 1;
    let (focus, context, downward_first) = match anchor {
        Anchor::Focus(n) => (n.clamp(first, last), CONTEXT_ABOVE, true),
        Anchor::Start(n) => (n.clamp(first, last), 0, true),
        Anchor::End(n) => (n.clamp(first, last), 0, false),
    };
    let (mut lo, mut hi) = (focus, focus);
    let mut used = cost(focus);
    let grow_up = |lo: &mut usize, used: &mut usize, limit: usize| {
        let mut added = 0;
        while *lo > first && added < limit && *used + cost(*lo - 1) <= MAX_WINDOW_CHARS {
            *lo -= 1;
            *used += cost(*lo);
            added += 1;
        }
    };
    if downward_first {
        grow_up(&mut lo, &mut used, context);
    }
    while hi < last && used + cost(hi + 1) <= MAX_WINDOW_CHARS {
        hi += 1;
        used += cost(hi);
    }
    grow_up(&mut lo, &mut used, usize::MAX);
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: usize) -> TextFile {
        let text: String = (1..=n).map(|i| format!("line {i}\n")).collect();
        TextFile::from_text(&text)
    }

    #[test]
    fn constrain_matches_mlgym() {
        // A window larger than the file centres on half the window.
        assert_eq!(constrain(500, 1000, 26), 500);
        assert_eq!(constrain(1834, 1000, 3000), 1834);
        assert_eq!(constrain(5000, 1000, 3000), 2500);
        assert_eq!(constrain(-996, 1000, 3000), 500);
        // The would-be window of a failed edit (from a real MLGym trajectory).
        assert_eq!(constrain(308, 15, 37), 30);
        assert_eq!(constrain(308, 13, 32), 26);
    }

    #[test]
    fn window_counts_match_mlgym() {
        let f = file(37);
        let shown = render(Path::new("/w/t.py"), &f, 30, 15, Anchor::Focus(307));
        let lines: Vec<&str> = shown.text.lines().collect();
        assert_eq!(lines[0], "[File: /w/t.py (37 lines total)]");
        assert_eq!(lines[1], "(22 more lines above)");
        assert_eq!(lines[2], "23:line 23");
        assert_eq!(*lines.last().unwrap(), "37:line 37");
        let f = file(32);
        let shown = render(Path::new("/w/t.py"), &f, 26, 13, Anchor::Start(1));
        assert!(shown.text.contains("(19 more lines above)\n20:line 20"));
        assert!(shown.text.ends_with("32:line 32"));
    }

    #[test]
    fn long_windows_are_shortened_around_the_focus() {
        let text: String = (1..=400)
            .map(|i| format!("{i:>5}{}\n", "x".repeat(95)))
            .collect();
        let f = TextFile::from_text(&text);
        let shown = render(Path::new("/w/big.txt"), &f, 500, 1000, Anchor::Focus(200));
        assert!(shown.shortened);
        assert!(shown.text.len() < MAX_WINDOW_CHARS + 500);
        assert_eq!(shown.first, 195);
        assert!(shown.text.contains("\n200:"));
        assert!(shown.text.contains("(194 more lines above)"));
        assert!(shown.text.contains("window shortened to"));
    }

    #[test]
    fn very_long_lines_are_cut() {
        let line = "y".repeat(50_000);
        let out = numbered(1, &line);
        assert!(out.len() < 2_100);
        assert!(out.ends_with("[... line cut: 50000 characters in total]"));
    }
}
