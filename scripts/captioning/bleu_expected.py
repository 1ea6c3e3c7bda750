#!/usr/bin/env python3
"""Writes the expected BLEU values of tasks/tests/fixtures/bleu_cases.json.

Each case is a list of hypotheses and, per hypothesis, its references (any number).
`corpus` is sacrebleu's corpus BLEU with its defaults (13a, exp smoothing);
`char_sentence` is NLTK-style sentence BLEU over characters of (first reference,
hypothesis) per pair, computed here from its definition (NLTK is not needed).

Run:  pip install --target /tmp/sbpkg sacrebleu
      PYTHONPATH=/tmp/sbpkg python3 scripts/captioning/bleu_expected.py > tasks/tests/fixtures/bleu_cases.json
"""
import json
import math
from collections import Counter

import sacrebleu

CASES = [
    {
        "hyps": ["a man riding a wave on top of a surfboard.",
                 "a plate of food with broccoli and rice",
                 "two dogs playing in the snow"],
        "refs": [["A man riding a wave on top of a surfboard.",
                  "A surfer rides a large wave in the ocean.",
                  "a person on a surf board riding a wave"],
                 ["A plate with broccoli, rice and chicken.",
                  "Food on a white plate: rice & vegetables."],
                 ["Two dogs play together in the snow.",
                  "Two brown dogs are running through snow",
                  "dogs in the snow",
                  "A pair of dogs playing outside in winter."]],
    },
    {
        "hyps": ["The 3.5-ton truck (red) isn't moving, 1990-2000!",
                 "x &amp; y < z",
                 "",
                 "word"],
        "refs": [["The red truck isn't moving in 1990-2000!", "A 3.5-ton truck, red."],
                 ["x & y < z"],
                 ["something here"],
                 ["word", "a word"]],
    },
    {
        "hyps": ["completely unrelated caption text"],
        "refs": [["a cat sitting on a couch"]],
    },
    {
        "hyps": ["a dog on a red couch", "cat sitting couch on"],
        "refs": [["a cat sitting on a couch"], ["a cat sitting on a couch", "the cat"]],
    },
]


def char_bleu(ref, hyp):
    r, h = list(ref), list(hyp)
    logs = []
    for n in range(1, 5):
        hc = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
        rc = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
        num = sum(min(c, rc[g]) for g, c in hc.items())
        den = max(1, len(h) - n + 1)
        if num == 0:
            return 0.0
        logs.append(math.log(num / den))
    bp = 1.0 if len(h) >= len(r) else math.exp(1 - len(r) / len(h))
    return bp * math.exp(sum(logs) / 4)


out = []
for case in CASES:
    width = max(len(r) for r in case["refs"])
    streams = [[r[i] if i < len(r) else "" for r in case["refs"]] for i in range(width)]
    bleu = sacrebleu.corpus_bleu(case["hyps"], streams)
    out.append({
        "hyps": case["hyps"],
        "refs": case["refs"],
        "corpus": bleu.score,
        "sacrebleu_version": sacrebleu.__version__,
        "char_sentence": [char_bleu(r[0], h) for h, r in zip(case["hyps"], case["refs"])],
        "tokens_13a": [sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()(h) for h in case["hyps"]],
    })
print(json.dumps(out, indent=1))
