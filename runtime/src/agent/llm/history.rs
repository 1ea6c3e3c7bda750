//! History processors applied to the conversation before it is sent (MLGym's
//! `history_processors`). The runner keeps the full history; only the request is trimmed.

use crate::agent::{HistoryItem, Role};

/// MLGym's `LastNObservations(n)` (the default agent uses n = 5): system, assistant and
/// demonstration messages are kept; among the other user messages the first (the task)
/// and the last `n` are kept, and every other one is replaced by
/// `Old output omitted (<lines> lines)`. `n = 0` keeps everything.
pub fn last_n_observations(history: &[HistoryItem], n: usize) -> Vec<HistoryItem> {
    if n == 0 {
        return history.to_vec();
    }
    let is_obs = |h: &HistoryItem| h.role == Role::User && h.is_demo != Some(true);
    let total = history.iter().filter(|h| is_obs(h)).count();
    let mut idx = 0;
    history
        .iter()
        .map(|h| {
            if !is_obs(h) {
                return h.clone();
            }
            idx += 1;
            if idx == 1 || idx + n > total {
                h.clone()
            } else {
                let mut old = h.clone();
                old.content = format!("Old output omitted ({} lines)", h.content.lines().count());
                old
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_task_and_last_n_observations() {
        let mut h = vec![
            HistoryItem::new(Role::System, "sys"),
            HistoryItem::new(Role::User, "task\nline"),
        ];
        for i in 0..8 {
            h.push(HistoryItem::assistant(format!("a{i}"), "t", "ls"));
            h.push(HistoryItem::new(Role::User, format!("obs {i}\nx\ny")));
        }
        let out = last_n_observations(&h, 5);
        assert_eq!(out.len(), h.len());
        assert_eq!(out[0].content, "sys");
        assert_eq!(out[1].content, "task\nline");
        let users: Vec<&str> = out
            .iter()
            .filter(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .collect();
        assert_eq!(users[1..4], ["Old output omitted (3 lines)"; 3]);
        assert_eq!(users[4], "obs 3\nx\ny");
        assert_eq!(users[8], "obs 7\nx\ny");
        assert!(out
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .all(|m| m.content.starts_with('a')));
        assert_eq!(last_n_observations(&h, 0), h);
    }
}
