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


def _register_saliency(kinds, common) -> None:
    s = kinds.add_parser("saliency", help="attack a saliency map (paper 003, Algorithm 1)")
    s.add_argument("--model", default="cnn", choices=["cnn", "senn"])
    s.add_argument("--method", default="saliency", choices=["saliency", "gradxinput", "ig", "deeplift"])
    s.add_argument("--kind", default="topk", choices=["topk", "center", "region", "random"])
    s.add_argument("--eps", type=float, default=0.1)
    s.add_argument("--steps", type=int, default=50)
    s.add_argument("--n", type=int, default=20)
    s.add_argument("--k", type=int, default=50, help="top-k size in pixels")
    s.add_argument("--beta", type=float, default=10.0, help="softplus sharpness of the surrogate")
    s.add_argument("--region", default="0,0,10,10", help="region attack: row0,col0,row1,col1 (pixels, end exclusive)")
    s.add_argument("--save", default=None)
    common(s)


SALIENCY_PARSERS.append(_register_saliency)


def region_mask(spec: str) -> torch.Tensor:
    """'r0,c0,r1,c1' -> a [1,1,28,28] mask of that box."""
    from .errors import AttackError

    try:
        r0, c0, r1, c1 = (int(v) for v in spec.split(","))
    except ValueError:
        raise AttackError(f"--region must be four integers r0,c0,r1,c1, got '{spec}'") from None
    if not (0 <= r0 < r1 <= 28 and 0 <= c0 < c1 <= 28):
        raise AttackError(f"--region must satisfy 0 <= r0 < r1 <= 28 and 0 <= c0 < c1 <= 28, got '{spec}'")
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., r0:r1, c0:c1] = 1
    return mask


def _saliency(args: argparse.Namespace) -> dict[str, Any]:
    import time

    from .attacks import saliency_attack
    from .experiments.sampling import pick_digits

    model, card, x, y, src = _data_for(args.model, args.device)
    idx = pick_digits(y, args.n, args.seed)
    attack = saliency_attack(model, args.kind, method=args.method, eps=args.eps, steps=args.steps, k=args.k,
                             beta=args.beta)
    target = region_mask(args.region).expand(len(idx), 1, 28, 28) if args.kind == "region" else None
    bar, on_step = _progress(f"attack saliency {args.kind} ({args.method})")
    start = time.perf_counter()
    res = attack(x[idx], y[idx], target=target, seed=args.seed, on_step=on_step)
    seconds = time.perf_counter() - start
    bar.close()
    if args.save:
        save_npz(args.save, x=res.x, x_adv=res.x_adv, y=y[idx], pred_before=res.pred_before,
                 pred_after=res.pred_after, label_kept=res.label_kept, map_before=res.extras["map_before"])
    s = res.summary()
    return {"model": args.model, "data_source": src, "method": args.method, "kind": args.kind, "n": len(idx),
            "topk_intersection": s["topk_intersection"], "spearman": s["spearman"], "center_shift": s["center_shift"],
            "label_kept_rate": s["label_kept_rate"], "linf_max": s["linf_max"], "seconds": seconds,
            "config": res.config, **({"region_mass_after": s["region_mass_after"], "region_mass_before": s["region_mass_before"]} if args.kind == "region" else {})}


HANDLERS["saliency"] = _saliency


def _register_lipschitz(sub, common) -> None:
    p = sub.add_parser("lipschitz", help="local Lipschitz estimates of an explainer (papers 001 eq. 5, 002 eqs. 1-2)")
    p.add_argument("--model", default="cnn", choices=["cnn", "senn", "protodl"])
    p.add_argument("--explainer", default="saliency", help="'self' (SENN θ / PrototypeDL distances) or an explainer name")
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--budget", type=int, default=40, help="explainer evaluations per digit")
    p.add_argument("--method", default="auto", choices=["auto", "gradient", "random", "bayesopt", "discrete"])
    p.add_argument("--restarts", type=int, default=4)
    p.add_argument("--save", default=None, help="write x, x_prime, values")
    common(p)


PARSERS.append(_register_lipschitz)


def run_lipschitz(args: argparse.Namespace) -> dict[str, Any]:
    import time

    from .experiments.sampling import pick_digits
    from .lipschitz import discrete_lipschitz, explanation_fn, list_lipschitz_explainers, local_lipschitz

    model, card, x, y, src = _data_for(args.model, args.device)
    if args.explainer not in list_lipschitz_explainers(model):
        from .errors import UnknownNameError

        raise UnknownNameError(f"unknown explainer '{args.explainer}' for {args.model}; available: "
                               f"{', '.join(list_lipschitz_explainers(model))}")
    idx = pick_digits(y, args.n, args.seed)
    fn, differentiable, denom = explanation_fn(model, args.explainer)
    dev = next(model.parameters()).device
    bar, on_step = _progress(f"lipschitz {args.model}/{args.explainer}")
    start = time.perf_counter()
    if args.method == "discrete":
        res = discrete_lipschitz(fn, x[idx].to(dev), x.to(dev), denominator_fn=denom, eps=args.eps)
    else:
        res = local_lipschitz(fn, x[idx].to(dev), eps=args.eps, budget=args.budget, method=args.method,
                              differentiable=differentiable, restarts=args.restarts, seed=args.seed,
                              denominator_fn=denom, on_step=on_step)
    seconds = time.perf_counter() - start
    bar.close()
    if args.save:
        save_npz(args.save, x=res.x, x_prime=res.x_prime, values=res.values, y=y[idx])
    vals = res.values
    return {"model": args.model, "explainer": args.explainer, "data_source": src, "method": res.method,
            "values": vals.tolist(), "median": vals.median().item(), "budget": res.calls, "budget_asked": args.budget,
            "eps": args.eps, "n": len(idx), "seconds": seconds}
