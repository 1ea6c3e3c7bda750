//! The baseline's word vocabulary: lower-cased words of the training captions seen at
//! least `min_count` times (MLGym: 5), after the specials `<pad>=0 <sos>=1 <eos>=2
//! <unk>=3`, in sorted order.
//!
//! Words are split as the starter `baseline.py` splits them (runs of `[a-z0-9']`, every
//! other non-space character alone) — a stand-in for NLTK's `word_tokenize` that needs
//! no model download; on COCO captions the two differ only on rare punctuation.

use std::collections::{BTreeMap, HashMap};

/// Padding (ignored by the loss).
pub const PAD: u32 = 0;
/// Start of a caption.
pub const SOS: u32 = 1;
/// End of a caption.
pub const EOS: u32 = 2;
/// A word outside the vocabulary.
pub const UNK: u32 = 3;
const SPECIALS: [&str; 4] = ["<pad>", "<sos>", "<eos>", "<unk>"];

/// The words of `text`, lower-cased.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '\'' {
            cur.push(ch);
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if !ch.is_whitespace() {
            out.push(ch.to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Index ↔ word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    itos: Vec<String>,
    stoi: HashMap<String, u32>,
}

impl Vocab {
    /// The vocabulary of `captions`: words seen at least `min_count` times.
    pub fn build<'a>(captions: impl IntoIterator<Item = &'a str>, min_count: usize) -> Vocab {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for c in captions {
            for w in words(c) {
                *counts.entry(w).or_default() += 1;
            }
        }
        let itos: Vec<String> = SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(
                counts
                    .into_iter()
                    .filter(|(_, n)| *n >= min_count)
                    .map(|(w, _)| w),
            )
            .collect();
        let stoi = itos
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Vocab { itos, stoi }
    }

    /// Number of entries, specials included.
    pub fn len(&self) -> usize {
        self.itos.len()
    }

    /// Whether only the specials are there.
    pub fn is_empty(&self) -> bool {
        self.itos.len() == SPECIALS.len()
    }

    /// `<sos>`, the ids of at most `max_words` words of `caption`, `<eos>`.
    pub fn encode(&self, caption: &str, max_words: usize) -> Vec<u32> {
        let mut ids = vec![SOS];
        ids.extend(
            words(caption)
                .iter()
                .take(max_words)
                .map(|w| self.stoi.get(w).copied().unwrap_or(UNK)),
        );
        ids.push(EOS);
        ids
    }

    /// The words of `ids` up to the first `<eos>`, specials and `<unk>` left out, joined
    /// by spaces (as the starter writes its captions).
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .take_while(|&&t| t != EOS)
            .filter(|&&t| t > UNK)
            .filter_map(|&t| self.itos.get(t as usize).map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_the_starter() {
        assert_eq!(
            words("A man's dog, running (fast)."),
            ["a", "man's", "dog", ",", "running", "(", "fast", ")", "."]
        );
    }

    #[test]
    fn vocabulary_keeps_frequent_words_and_round_trips() {
        let caps = ["a cat", "a cat", "a dog", "A cat", "a cat", "a cat"];
        let v = Vocab::build(caps, 5);
        assert_eq!(v.len(), 6); // specials, "a", "cat"
        let ids = v.encode("a dog cat sat", 3);
        assert_eq!(ids, [SOS, 4, UNK, 5, EOS]);
        assert_eq!(v.decode(&ids), "a cat");
        assert_eq!(v.decode(&[SOS, 5, EOS, 4]), "cat");
    }
}
