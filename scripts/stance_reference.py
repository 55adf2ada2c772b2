"""Fine-tuning recipes for the stance model, tried in PyTorch.

A research aid, not part of detente: PyTorch trains several times faster
here than candle's differentiable path, so recipes are compared with this
script first and the winner is built into `detente train`. Each run prints
macro-F1 on every --eval file after every epoch.

Uses the virtualenv `scripts/bench-peer` installs (sentence-transformers
brings torch and transformers) and the encoder `scripts/fetch-model` puts in
the Hugging Face cache:

  .venv-bench/bin/python scripts/stance_reference.py \
      --eval ns2=models/eval/news-style-2.jsonl [--extra more.jsonl] \
      [--lora 8 --lr 5e-4] [--linear-only] [--no-dropout]
"""
import argparse
import glob
import json
import os
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

LABELS = ["optimistic", "threatening", "conciliatory", "neutral"]
CACHE = os.path.expanduser(os.environ.get("HF_HOME", "~/.cache/huggingface"))
SNAPSHOTS = os.path.join(CACHE, "hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/*")

p = argparse.ArgumentParser()
p.add_argument("--train", nargs="+", default=sorted(glob.glob("models/data/*.jsonl")))
p.add_argument("--extra", nargs="*", default=[], help="more training files")
p.add_argument("--eval", nargs="*", default=[], help="NAME=FILE.jsonl, never trained on")
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--lr", type=float, default=3e-5, help="encoder (or adapter) learning rate")
p.add_argument("--head-lr", type=float, default=1e-3)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--lora", type=int, default=0, help="rank of adapters instead of full fine-tuning")
p.add_argument("--linear-only", action="store_true", help="train only the blocks' linear weights")
p.add_argument("--no-dropout", action="store_true")
p.add_argument("--constant-lr", action="store_true", help="no warm-up and decay")
args = p.parse_args()
torch.manual_seed(args.seed)
random.seed(args.seed)
torch.set_num_threads(os.cpu_count() or 1)


def load(files):
    rows = []
    for f in files:
        for line in open(f):
            if line.strip():
                r = json.loads(line)
                rows.append((r["text"], LABELS.index(r["label"])))
    return rows


train = load(args.train) + load(args.extra)
evals = {name: load([f]) for name, f in (e.split("=", 1) for e in args.eval)}
snap = sorted(glob.glob(SNAPSHOTS))[0]
tok = AutoTokenizer.from_pretrained(snap)
no_drop = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
enc = AutoModel.from_pretrained(snap, **(no_drop if args.no_dropout else {}))
head = nn.Sequential(nn.Linear(384, 256), nn.ReLU(), nn.Linear(256, 4))


class Lora(nn.Module):
    def __init__(self, base, rank):
        super().__init__()
        self.base, self.scale = base, 2.0
        self.a = nn.Parameter(torch.randn(rank, base.in_features) / base.in_features**0.5)
        self.b = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x):
        return self.base(x) + (x @ self.a.t() @ self.b.t()) * self.scale


if args.lora or args.linear_only:
    for name, q in enc.named_parameters():
        linear = name.startswith("encoder.layer") and name.endswith(".weight") and q.dim() == 2
        q.requires_grad = args.linear_only and not args.lora and linear
if args.lora:
    for layer in enc.encoder.layer:
        att = layer.attention
        for name in ("query", "key", "value"):
            setattr(att.self, name, Lora(getattr(att.self, name), args.lora))
        att.output.dense = Lora(att.output.dense, args.lora)
        layer.intermediate.dense = Lora(layer.intermediate.dense, args.lora)
        layer.output.dense = Lora(layer.output.dense, args.lora)


def embed(texts):
    b = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    h = enc(**b).last_hidden_state
    m = b["attention_mask"].unsqueeze(-1).float()
    return F.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)


def batches(rows, size, shuffle):
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    if shuffle:
        random.shuffle(chunks)
    return chunks


def macro_f1(gold, pred):
    f1 = []
    for c in range(4):
        tp = sum(g == c and q == c for g, q in zip(gold, pred))
        fp = sum(g != c and q == c for g, q in zip(gold, pred))
        fn = sum(g == c and q != c for g, q in zip(gold, pred))
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        f1.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    return sum(f1) / 4


def score(rows):
    enc.eval(), head.eval()
    pred = [0] * len(rows)
    with torch.no_grad():
        for chunk in batches(rows, 64, False):
            for i, y in zip(chunk, head(embed([rows[i][0] for i in chunk])).argmax(-1).tolist()):
                pred[i] = y
    enc.train(), head.train()
    return round(macro_f1([y for _, y in rows], pred), 4)


counts = torch.bincount(torch.tensor([y for _, y in train]), minlength=4).float()
weights = counts.sum() / (4 * counts)
trainable = [q for q in enc.parameters() if q.requires_grad]
opt = torch.optim.AdamW(
    [{"params": trainable, "lr": args.lr}, {"params": head.parameters(), "lr": args.head_lr}],
    weight_decay=0.01,
)
total = args.epochs * len(batches(train, args.batch, False))
warm = 0.06 * total
sched = torch.optim.lr_scheduler.LambdaLR(
    opt,
    (lambda s: 1.0)
    if args.constant_lr
    else (lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / total)),
)
print(f"train {len(train)} statements, {sum(q.numel() for q in trainable)} encoder weights trained", flush=True)
start = time.time()
for epoch in range(args.epochs):
    for chunk in batches(train, args.batch, True):
        x = embed([train[i][0] for i in chunk])
        y = torch.tensor([train[i][1] for i in chunk])
        loss = F.cross_entropy(head(x), y, weight=weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    scores = {name: score(rows) for name, rows in evals.items()}
    print(f"epoch {epoch + 1} {time.time() - start:.0f}s {json.dumps(scores)}", flush=True)
