//! A record's key words, as MLGym's `memory_write` picks them: among the text's word
//! 3-grams, the one whose embedding is most cosine-similar to the whole text's.
//!
//! Words are the whitespace-separated pieces of the text with punctuation trimmed from
//! both ends, lowercased (the model is uncased). A text of fewer than three words is its
//! own candidate.

use mlgym_tasks::text::{cosine, SentenceEmbedder, TextError};

/// Most candidates embedded for one record (a very long text is sampled evenly).
pub const MAX_CANDIDATES: usize = 256;

/// The text's words.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The candidate tags: distinct word 3-grams in order of appearance (at most
/// [`MAX_CANDIDATES`], evenly spread over the text), or the words themselves when
/// there are fewer than three.
pub fn candidates(text: &str) -> Vec<String> {
    let w = words(text);
    if w.len() < 3 {
        let all = w.join(" ");
        return if all.is_empty() {
            Vec::new()
        } else {
            vec![all]
        };
    }
    let mut grams: Vec<String> = Vec::new();
    for g in w.windows(3).map(|g| g.join(" ")) {
        if !grams.contains(&g) {
            grams.push(g);
        }
    }
    if grams.len() > MAX_CANDIDATES {
        let step = grams.len() as f64 / MAX_CANDIDATES as f64;
        grams = (0..MAX_CANDIDATES)
            .map(|i| grams[(i as f64 * step) as usize].clone())
            .collect();
    }
    grams
}

/// The candidate most similar to `embedding` (the text's own), or an empty tag for a
/// text without words.
pub fn best_tag(
    embedder: &SentenceEmbedder,
    text: &str,
    embedding: &[f32],
) -> Result<String, TextError> {
    let cands = candidates(text);
    if cands.len() <= 1 {
        return Ok(cands.into_iter().next().unwrap_or_default());
    }
    let refs: Vec<&str> = cands.iter().map(String::as_str).collect();
    let embs = embedder.embed(&refs)?;
    let mut best = (f32::NEG_INFINITY, 0);
    for (i, e) in embs.iter().enumerate() {
        let c = cosine(e, embedding);
        if c > best.0 {
            best = (c, i);
        }
    }
    Ok(cands[best.1].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_trimmed_and_lowercased() {
        assert_eq!(
            words("  Ridge (alpha=10) gave R2 0.88!  "),
            ["ridge", "alpha=10", "gave", "r2", "0.88"]
        );
        assert!(words(" -- !! ").is_empty());
    }

    #[test]
    fn candidates_are_distinct_trigrams_or_the_short_text() {
        assert_eq!(candidates("a b c a b c"), ["a b c", "b c a", "c a b"]);
        assert_eq!(candidates("two words"), ["two words"]);
        assert!(candidates("...").is_empty());
        let long: String = (0..1000).map(|i| format!("w{i} ")).collect();
        let c = candidates(&long);
        assert_eq!(c.len(), MAX_CANDIDATES);
        assert_eq!(c[0], "w0 w1 w2");
    }
}
