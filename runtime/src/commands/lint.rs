//! Which Python problems an edit introduced: the checker's findings after the edit minus
//! those already present before it (re-numbered for the lines the edit added or removed),
//! as MLGym's flake8 step does. Problems that were inside the replaced lines are not
//! matched (their new position is unknown), so they count as new.
//!
//! One refinement over MLGym: when the file did not compile before the edit, the "before"
//! list holds only that syntax error, so other problems revealed by fixing it are only
//! reported when they are in the lines the edit wrote.

use super::python_check::Diagnostic;

/// The lines an edit replaced: old lines `first..=last` (an empty range when
/// `last == first - 1`, as for `insert`) became `added` new lines.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Replaced {
    pub first: usize,
    pub last: usize,
    pub added: usize,
}

/// The problems in `after` that were not already in `before`.
pub(crate) fn introduced(
    before: &[Diagnostic],
    after: &[Diagnostic],
    edit: Replaced,
) -> Vec<Diagnostic> {
    let removed = (edit.last + 1).saturating_sub(edit.first) as i64;
    let shift = edit.added as i64 - removed;
    let previous: Vec<Diagnostic> = before
        .iter()
        .filter_map(|d| {
            if d.line < edit.first {
                Some(d.clone())
            } else if d.line <= edit.last {
                None
            } else {
                let line = (d.line as i64 + shift).max(0) as usize;
                Some(Diagnostic { line, ..d.clone() })
            }
        })
        .collect();
    let syntax = |d: &Diagnostic| d.code == "E999" || d.code == "E902";
    let complete = !before.iter().any(syntax);
    let written = edit.first..edit.first + edit.added;
    after
        .iter()
        .filter(|d| !previous.contains(d))
        .filter(|d| complete || syntax(d) || written.contains(&d.line))
        .cloned()
        .collect()
}

/// The error list as MLGym prints it: `- CODE message`, one per line.
pub(crate) fn format(problems: &[Diagnostic]) -> String {
    problems
        .iter()
        .map(|d| format!("- {} {}", d.code, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(line: usize, code: &str) -> Diagnostic {
        Diagnostic {
            line,
            column: 1,
            code: code.into(),
            message: format!("m{code}"),
        }
    }

    #[test]
    fn shifted_old_problems_are_not_new() {
        let before = vec![d(2, "F821"), d(10, "F821"), d(5, "E111")];
        // Lines 4..=6 replaced by 1 line: line 10 moves to 8; the problem at 5 was inside.
        let after = vec![d(2, "F821"), d(8, "F821"), d(4, "E111"), d(9, "E999")];
        let new = introduced(
            &before,
            &after,
            Replaced {
                first: 4,
                last: 6,
                added: 1,
            },
        );
        assert_eq!(new, vec![d(4, "E111"), d(9, "E999")]);
    }

    #[test]
    fn insertions_shift_everything_below() {
        let before = vec![d(3, "F821"), d(7, "F821")];
        let after = vec![d(3, "F821"), d(9, "F821")];
        let new = introduced(
            &before,
            &after,
            Replaced {
                first: 4,
                last: 3,
                added: 2,
            },
        );
        assert!(new.is_empty());
        assert_eq!(format(&[d(1, "E999")]), "- E999 mE999");
    }

    #[test]
    fn fixing_a_syntax_error_does_not_surface_old_problems() {
        let before = vec![d(7, "E999")];
        let after = vec![d(4, "F821"), d(7, "F821")];
        let new = introduced(
            &before,
            &after,
            Replaced {
                first: 7,
                last: 7,
                added: 1,
            },
        );
        assert_eq!(
            new,
            vec![d(7, "F821")],
            "only problems in the written lines count"
        );
    }
}
