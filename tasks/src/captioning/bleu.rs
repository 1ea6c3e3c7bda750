//! BLEU as the captioning evaluator reports it.
//!
//! * [`corpus_bleu`]: corpus BLEU-4 exactly as sacrebleu 2.x computes it with its
//!   defaults (the `13a` tokeniser of [`tokenize_13a`], case-sensitive, `exp`
//!   smoothing, n-gram orders 1–4, any number of references per hypothesis), on sacrebleu's
//!   0–100 scale. The standard, comparable caption metric.
//! * [`char_sentence_bleu`]: NLTK's `sentence_bleu` with its defaults applied to two
//!   *plain strings*, i.e. over characters: what MLGym's baseline computes per image
//!   (see `mlgym-spec.md` §2.5.4), for an "MLGym-compatible" figure.

use std::collections::HashMap;

/// Highest n-gram order.
const MAX_ORDER: usize = 4;

/// Applies one fixed two-character rewrite left to right without overlaps, as Python's
/// `re.sub` does for a pattern matching exactly two characters.
fn rewrite_pairs(
    chars: &[char],
    matches: impl Fn(char, char) -> bool,
    emit: impl Fn(char, char, &mut Vec<char>),
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && matches(chars[i], chars[i + 1]) {
            emit(chars[i], chars[i + 1], &mut out);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Punctuation and symbols that the `13a` tokeniser always splits off: the ASCII ranges
/// `{-~`, `[-\``, ` -&`, `(-+`, `:-@` and `/` (not `'`, `-`, `.` or `,`).
fn is_split_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// sacrebleu's `13a` tokenisation (mteval-v13a): the caption's tokens.
pub fn tokenize_13a(line: &str) -> Vec<String> {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut chars: Vec<char> = Vec::with_capacity(line.len() * 2);
    for c in format!(" {line} ").chars() {
        if is_split_symbol(c) {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    let digit = |c: char| c.is_ascii_digit();
    let dot = |c: char| c == '.' || c == ',';
    // Period and comma unless preceded by a digit.
    let chars = rewrite_pairs(
        &chars,
        |a, b| !digit(a) && dot(b),
        |a, b, o| o.extend([a, ' ', b, ' ']),
    );
    // Period and comma unless followed by a digit.
    let chars = rewrite_pairs(
        &chars,
        |a, b| dot(a) && !digit(b),
        |a, b, o| o.extend([' ', a, ' ', b]),
    );
    // A dash after a digit.
    let chars = rewrite_pairs(
        &chars,
        |a, b| digit(a) && b == '-',
        |a, b, o| o.extend([a, ' ', b, ' ']),
    );
    let text: String = chars.into_iter().collect();
    text.split_whitespace().map(str::to_string).collect()
}

/// Counts of every n-gram of orders 1..=`max` in `tokens`.
fn ngram_counts<T: std::hash::Hash + Eq + Clone>(
    tokens: &[T],
    max: usize,
) -> HashMap<Vec<T>, usize> {
    let mut counts = HashMap::new();
    for n in 1..=max {
        for w in tokens.windows(n) {
            *counts.entry(w.to_vec()).or_insert(0) += 1;
        }
    }
    counts
}

/// The reference length closest to `hyp_len` (the shorter one on a tie).
fn closest_ref_len(hyp_len: usize, ref_lens: impl Iterator<Item = usize>) -> usize {
    ref_lens
        .min_by_key(|&r| (r.abs_diff(hyp_len), r))
        .unwrap_or(0)
}

/// Sufficient statistics of BLEU over a corpus.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BleuStats {
    /// Hypothesis tokens.
    pub sys_len: usize,
    /// Effective reference tokens (closest length per hypothesis).
    pub ref_len: usize,
    /// Clipped n-gram matches per order.
    pub correct: [usize; MAX_ORDER],
    /// Hypothesis n-grams per order.
    pub total: [usize; MAX_ORDER],
}

impl BleuStats {
    /// Adds one hypothesis (tokens) against its references (tokens each).
    fn add<T: std::hash::Hash + Eq + Clone>(&mut self, hyp: &[T], refs: &[Vec<T>]) {
        self.sys_len += hyp.len();
        self.ref_len += closest_ref_len(hyp.len(), refs.iter().map(Vec::len));
        let mut max_ref: HashMap<Vec<T>, usize> = HashMap::new();
        for r in refs {
            for (g, c) in ngram_counts(r, MAX_ORDER) {
                let e = max_ref.entry(g).or_insert(0);
                *e = (*e).max(c);
            }
        }
        for (g, c) in ngram_counts(hyp, MAX_ORDER) {
            let m = max_ref.get(&g).copied().unwrap_or(0);
            self.correct[g.len() - 1] += c.min(m);
        }
        for n in 1..=MAX_ORDER {
            self.total[n - 1] += (hyp.len() + 1).saturating_sub(n);
        }
    }

    /// sacrebleu's score (0–100) with `exp` smoothing.
    pub fn score(&self) -> f64 {
        // sacrebleu stops early (score 0) when nothing at all matches.
        if self.sys_len == 0 || self.correct.iter().all(|&c| c == 0) {
            return 0.0;
        }
        let mut precisions = [0.0f64; MAX_ORDER];
        let mut smooth = 1.0f64;
        for ((p, &correct), &total) in precisions.iter_mut().zip(&self.correct).zip(&self.total) {
            if total == 0 {
                break;
            }
            *p = if correct == 0 {
                smooth *= 2.0;
                100.0 / (smooth * total as f64)
            } else {
                100.0 * correct as f64 / total as f64
            };
        }
        // sacrebleu's `my_log`: log(0) is a huge negative number, so the score is 0.
        if precisions.contains(&0.0) {
            return 0.0;
        }
        let bp = if self.sys_len < self.ref_len {
            (1.0 - self.ref_len as f64 / self.sys_len as f64).exp()
        } else {
            1.0
        };
        let mean_log = precisions.iter().map(|p| p.ln()).sum::<f64>() / MAX_ORDER as f64;
        bp * mean_log.exp()
    }
}

/// Corpus BLEU-4 (0–100) of `hyps` against `refs` (one list of references per
/// hypothesis, any number each; empty references are ignored, as sacrebleu does).
/// Same number as `sacrebleu.corpus_bleu(hyps, ref_streams).score`.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> BleuStats {
    let mut stats = BleuStats::default();
    for (h, rs) in hyps.iter().zip(refs) {
        // sacrebleu strips trailing whitespace before tokenising.
        let hyp = tokenize_13a(h.as_ref().trim_end());
        let refs: Vec<Vec<String>> = rs
            .iter()
            .map(AsRef::as_ref)
            .filter(|r| !r.is_empty())
            .map(|r| tokenize_13a(r.trim_end()))
            .collect();
        stats.add(&hyp, &refs);
    }
    stats
}

/// NLTK's `sentence_bleu(reference, hypothesis)` with its defaults (uniform weights over
/// orders 1–4, no smoothing) when both are plain strings: n-grams of characters. 0–1.
pub fn char_sentence_bleu(reference: &str, hypothesis: &str) -> f64 {
    let r: Vec<char> = reference.chars().collect();
    let h: Vec<char> = hypothesis.chars().collect();
    let mut s = BleuStats::default();
    s.add(&h, std::slice::from_ref(&r));
    // NLTK returns 0 when any order has no match (including orders with no n-grams).
    if s.correct.contains(&0) {
        return 0.0;
    }
    let bp = if s.sys_len < s.ref_len {
        (1.0 - s.ref_len as f64 / s.sys_len as f64).exp()
    } else {
        1.0
    };
    let mean_log = (0..MAX_ORDER)
        .map(|n| (s.correct[n] as f64 / s.total[n] as f64).ln())
        .sum::<f64>()
        / MAX_ORDER as f64;
    bp * mean_log.exp()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn tokenises_like_13a() {
        assert_eq!(
            tokenize_13a("A man's bike, 3.5 km-long (red)!"),
            ["A", "man's", "bike", ",", "3.5", "km-long", "(", "red", ")", "!"]
        );
        assert_eq!(
            tokenize_13a("1990-2000 a.b"),
            ["1990", "-", "2000", "a", ".", "b"]
        );
        assert_eq!(tokenize_13a("x &amp; y"), ["x", "&", "y"]);
    }

    #[test]
    fn hand_computed_corpus_bleu() {
        // Identical → 100.
        let s = corpus_bleu(
            &["the cat sat on the mat"],
            &[vec!["the cat sat on the mat"]],
        );
        assert!((s.score() - 100.0).abs() < 1e-9);
        // hyp "the cat sat on a mat" vs ref "the cat sat on the mat": 6 tokens each;
        // matches 5/6, 3/5, 2/4, 1/3; bp 1.
        let s = corpus_bleu(&["the cat sat on a mat"], &[vec!["the cat sat on the mat"]]);
        assert_eq!(s.correct, [5, 3, 2, 1]);
        assert_eq!(s.total, [6, 5, 4, 3]);
        let want = 100.0 * (5.0 / 6.0 * 3.0 / 5.0 * 2.0 / 4.0 * 1.0 / 3.0f64).powf(0.25);
        assert!((s.score() - want).abs() < 1e-9, "{} vs {want}", s.score());
        // No 4-gram match: exp smoothing gives 100 / (2 · total).
        let s = corpus_bleu(&["a b c d"], &[vec!["a b c x"]]);
        assert_eq!(s.correct, [3, 2, 1, 0]);
        let want = 100.0 * (0.75f64 * 2.0 / 3.0 * 0.5 * 0.5).powf(0.25);
        assert!((s.score() - want).abs() < 1e-9);
    }

    #[test]
    fn char_bleu_matches_nltk_semantics() {
        assert!((char_sentence_bleu("a cat", "a cat") - 1.0).abs() < 1e-12);
        assert_eq!(char_sentence_bleu("abc", "xyz"), 0.0);
        // Shorter than 4 characters: no 4-grams, NLTK scores 0.
        assert_eq!(char_sentence_bleu("abc", "abc"), 0.0);
    }
}
