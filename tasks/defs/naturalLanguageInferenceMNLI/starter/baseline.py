"""Starter baseline: fine-tune bert-base-uncased on data/train.jsonl, save bert_mnli_model/.

Needs PyTorch and transformers. Holds out 2% of the training pairs for validation and
prints the accuracy on them after each epoch. The recipe is deliberately simple: AdamW,
a constant learning rate, one epoch, batch 32, sequences of at most 128 tokens.
"""

import json
import random

import torch
from transformers import BertForSequenceClassification, BertTokenizerFast

SEED = 42
MODEL_DIR = "data/bert-base-uncased"
OUT_DIR = "bert_mnli_model"
MAX_LENGTH = 128
BATCH = 32
EPOCHS = 1
LR = 2e-5

random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

with open("data/train.jsonl") as f:
    pairs = [json.loads(line) for line in f if line.strip()]
random.shuffle(pairs)
n_val = max(1, len(pairs) // 50)
val, train = pairs[:n_val], pairs[n_val:]

tokenizer = BertTokenizerFast.from_pretrained(MODEL_DIR)
model = BertForSequenceClassification.from_pretrained(MODEL_DIR, num_labels=3).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=LR)


def batches(rows, size):
    for i in range(0, len(rows), size):
        chunk = rows[i:i + size]
        enc = tokenizer([r["premise"] for r in chunk], [r["hypothesis"] for r in chunk],
                        truncation=True, max_length=MAX_LENGTH, padding=True,
                        return_tensors="pt").to(device)
        labels = torch.tensor([r["label"] for r in chunk], device=device)
        yield enc, labels


def accuracy(rows):
    model.eval()
    correct = 0
    with torch.no_grad():
        for enc, labels in batches(rows, 128):
            correct += (model(**enc).logits.argmax(-1) == labels).sum().item()
    model.train()
    return 100.0 * correct / len(rows)


model.train()
for epoch in range(EPOCHS):
    random.shuffle(train)
    for step, (enc, labels) in enumerate(batches(train, BATCH)):
        loss = model(**enc, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % 500 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}", flush=True)
    print(f"epoch {epoch}: validation accuracy {accuracy(val):.2f}%", flush=True)

model.save_pretrained(OUT_DIR)
print(f"saved {OUT_DIR}/")
