"""``attack senn|protodl|saliency`` and ``lipschitz`` commands (registered by ``__main__``).

Each prints one JSON object with ``--json`` and writes the images with ``--save PATH.npz``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

PARSERS: list[Callable] = []
HANDLERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {}


def _progress(desc: str):
    from tqdm import tqdm

    bar = tqdm(desc=desc, file=sys.stderr, disable=None)

    def on_step(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, on_step


def save_npz(path: str | Path, **arrays: torch.Tensor) -> None:
    """Write tensors as a plain NumPy .npz (readable by any tool; no pickles)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{k: v.detach().cpu().numpy() for k, v in arrays.items()})


def _register_attack(sub, common) -> None:
    p = sub.add_parser("attack", help="run an explanation attack on test digits")
    kinds = p.add_subparsers(dest="attack_kind", required=True)

    s = kinds.add_parser("senn", help="targeted concept attack on SENN (paper 000, eq. 1; Fig. 2 protocol)")
    s.add_argument("--n", type=int, default=20, help="natural digits")
    s.add_argument("--targets", type=int, default=10, help="random other-class targets per digit (paper: 100)")
    s.add_argument("--eps", type=float, default=0.3)
    s.add_argument("--steps", type=int, default=100)
    s.add_argument("--lam", type=float, default=1.0, help="weight of the label-keeping cross-entropy")
    s.add_argument("--save", default=None, help="write x, x_adv, x_target, y, pred_before, pred_after, label_kept")
    common(s)

    s = kinds.add_parser("protodl", help="untargeted prototype attack on PrototypeDL (paper 000, eq. 3)")
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--eps", type=float, default=0.3)
    s.add_argument("--steps", type=int, default=100)
    s.add_argument("--lam", type=float, default=1.0, help="weight of R(x, y)")
    s.add_argument("--xi", type=float, default=0.3, help="weight of the label-keeping cross-entropy")
    s.add_argument("--alpha", type=float, default=0.0, help="weight of ||h(x*)||^2")
    s.add_argument("--save", default=None)
    common(s)

    for register in SALIENCY_PARSERS:
        register(kinds, common)


SALIENCY_PARSERS: list[Callable] = []
PARSERS.append(_register_attack)


def _data_for(model_name: str, device):
    from .api import load_model_with_card
    from .data import load_split

    model, card = load_model_with_card(model_name, device)
    x, y, src = load_split("test", card["data"]["source"])
    return model, card, x, y, src


def run_attack(args: argparse.Namespace) -> dict[str, Any]:
    return HANDLERS[args.attack_kind](args)


def _senn(args: argparse.Namespace) -> dict[str, Any]:
    from .experiments import senn_distances

    model, card, x, y, src = _data_for("senn", args.device)
    bar, on_step = _progress("attack senn (pairs)")
    res = senn_distances(model, x, y, n=args.n, targets=args.targets, eps=args.eps, steps=args.steps,
                         lam=args.lam, seed=args.seed, on_step=on_step)
    bar.close()
    if args.save:
        best_t = res.target_idx[torch.arange(len(res.idx)), res.best_target]
        model_dev = next(model.parameters()).device
        with torch.no_grad():
            pred_after = model(res.x_adv_best.to(model_dev)).argmax(1).cpu()
            pred_before = model(x[res.idx].to(model_dev)).argmax(1).cpu()
        save_npz(args.save, x=x[res.idx], x_adv=res.x_adv_best, x_target=x[best_t], y=y[res.idx],
                 pred_before=pred_before, pred_after=pred_after, label_kept=pred_after == pred_before)
    return {"model": "senn", "data_source": src, **res.summary(), "config": res.config}


def _protodl(args: argparse.Namespace) -> dict[str, Any]:
    from .experiments import protodl_distances

    model, card, x, y, src = _data_for("protodl", args.device)
    bar, on_step = _progress("attack protodl (steps)")
    res = protodl_distances(model, x, y, n=args.n, eps=args.eps, steps=args.steps, lam=args.lam, xi=args.xi,
                            alpha=args.alpha, seed=args.seed, on_step=on_step)
    bar.close()
    a = res.attack
    if args.save:
        save_npz(args.save, x=a.x, x_adv=a.x_adv, y=y[res.idx], pred_before=a.pred_before,
                 pred_after=a.pred_after, label_kept=a.label_kept)
    return {"model": "protodl", "data_source": src, **res.summary(), "config": res.config}


HANDLERS.update({"senn": _senn, "protodl": _protodl})
