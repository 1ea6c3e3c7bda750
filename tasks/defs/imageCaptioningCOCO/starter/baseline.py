"""Starter baseline: ResNet-50 encoder + LSTM decoder; writes submission.csv.

Needs PyTorch, torchvision, pandas, pyarrow and Pillow. The ResNet-50 is frozen and
uses ImageNet weights from data/resnet50.safetensors when that file exists (torchvision's
state dict in safetensors), else random weights (much worse captions). Vocabulary: lower-
cased words seen at least 5 times. Image feature -> linear 256 -> batch norm -> first
LSTM input; LSTM 512; greedy decoding up to 30 tokens.
"""

import csv
import os
import random
import re
from collections import Counter

import pandas as pd
import torch
import torch.nn as nn
import torchvision
from PIL import Image
from torch.nn.utils.rnn import pack_padded_sequence
from torchvision import transforms

SEED = 42
EPOCHS = 2
BATCH = 128
MAX_LEN = 30
random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"
PAD, SOS, EOS, UNK = 0, 1, 2, 3


def words(text):
    return re.findall(r"[a-z0-9']+|[^\sa-z0-9']", text.lower())


def captions_of(anns):
    return [a["caption"] if isinstance(a, dict) else str(a) for a in anns]


train = pd.read_parquet("data/train_images.parquet")
counts = Counter(w for anns in train["anns"] for c in captions_of(anns) for w in words(c))
itos = ["<pad>", "<sos>", "<eos>", "<unk>"] + sorted(w for w, n in counts.items() if n >= 5)
stoi = {w: i for i, w in enumerate(itos)}

tf = transforms.Compose([
    transforms.Resize((224, 224)),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])


class Captions(torch.utils.data.Dataset):
    def __init__(self, frame, folder):
        self.rows = [(r.file_name, captions_of(r.anns)) for r in frame.itertuples()]
        self.folder = folder

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        name, caps = self.rows[i]
        img = tf(Image.open(os.path.join(self.folder, name)).convert("RGB"))
        ids = [SOS] + [stoi.get(w, UNK) for w in words(random.choice(caps))][:MAX_LEN] + [EOS]
        return img, torch.tensor(ids)


def collate(batch):
    batch.sort(key=lambda b: len(b[1]), reverse=True)
    imgs = torch.stack([b[0] for b in batch])
    lens = [len(b[1]) for b in batch]
    caps = torch.full((len(batch), max(lens)), PAD)
    for i, b in enumerate(batch):
        caps[i, : len(b[1])] = b[1]
    return imgs, caps, lens


resnet = torchvision.models.resnet50()
if os.path.exists("data/resnet50.safetensors"):
    from safetensors.torch import load_file
    resnet.load_state_dict(load_file("data/resnet50.safetensors"))
else:
    print("data/resnet50.safetensors not found: the encoder has random weights")
encoder_cnn = nn.Sequential(*list(resnet.children())[:-1]).to(device).eval()
for p in encoder_cnn.parameters():
    p.requires_grad = False


class Captioner(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.proj = nn.Linear(2048, 256)
        self.bn = nn.BatchNorm1d(256, momentum=0.01)
        self.embed = nn.Embedding(vocab, 256)
        self.lstm = nn.LSTM(256, 512, batch_first=True)
        self.out = nn.Linear(512, vocab)

    def features(self, imgs):
        with torch.no_grad():
            f = encoder_cnn(imgs).flatten(1)
        return self.bn(self.proj(f))

    def forward(self, imgs, caps, lens):
        x = torch.cat([self.features(imgs).unsqueeze(1), self.embed(caps[:, :-1])], 1)
        packed = pack_padded_sequence(x, lens, batch_first=True)
        h, _ = self.lstm(packed)
        return self.out(h.data), pack_padded_sequence(caps, lens, batch_first=True).data

    def generate(self, imgs):
        x, state, out = self.features(imgs).unsqueeze(1), None, []
        for _ in range(MAX_LEN):
            h, state = self.lstm(x, state)
            tok = self.out(h[:, -1]).argmax(-1)
            out.append(tok)
            x = self.embed(tok).unsqueeze(1)
        return torch.stack(out, 1).tolist()


model = Captioner(len(itos)).to(device)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
loader = torch.utils.data.DataLoader(Captions(train, "data/train"), batch_size=BATCH,
                                     shuffle=True, collate_fn=collate, num_workers=2)
for epoch in range(EPOCHS):
    model.train()
    for step, (imgs, caps, lens) in enumerate(loader):
        logits, targets = model(imgs.to(device), caps.to(device), lens)
        loss = loss_fn(logits, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.3f}", flush=True)

model.eval()
test_names = list(pd.read_csv("data/test_images.csv")["file_name"])
rows = []
with torch.no_grad():
    for i in range(0, len(test_names), BATCH):
        names = test_names[i:i + BATCH]
        imgs = torch.stack([tf(Image.open(os.path.join("data/test", n)).convert("RGB")) for n in names])
        for name, ids in zip(names, model.generate(imgs.to(device))):
            toks = []
            for t in ids:
                if t == EOS:
                    break
                if t not in (PAD, SOS, UNK):
                    toks.append(itos[t])
            rows.append((name, " ".join(toks)))
with open("submission.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["file_name", "caption"])
    w.writerows(rows)
print(f"wrote submission.csv ({len(rows)} captions)")
