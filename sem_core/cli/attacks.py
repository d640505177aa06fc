"""``attack senn|protodl|saliency`` and ``lipschitz`` commands (registered by ``__main__``), and the
argument types and path checks every command shares.

Each prints one JSON object with ``--json`` and writes the images with ``--save PATH.npz``. Every
argument is checked before any data or model is loaded: numbers by their argparse ``type``, paths by
``check_save`` / ``check_out_dir`` at the top of each command.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from ..attacks.influence import InfluenceAttack
from ..attacks.protodl_prototype import ProtoDLAttack
from ..attacks.saliency import SaliencyAttack
from ..attacks.senn_concept import SennConceptAttack
from ..errors import SemError
from ..lipschitz.search import ContinuousSearch
from ..metrics.stats import median
from ..params import Param, Settings, parse_number

PARSERS: list[Callable] = []
NO_REPLAY = ("snapshot_every",)
LIPSCHITZ_BUDGET = 40      # `lipschitz`'s explainer calls per digit when --budget is not given (the command's own)   # replay frames are the app's; the commands print no frames
HANDLERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {}


# --- argument types and path checks ------------------------------------------------------------
SEED_MAX = 2**32 - 1        # numpy's limit; torch takes more, but one range for every tool
MAX_N = 10_000              # digits in the largest test split (MNIST)
MAX_STEPS = 10_000
MAX_SENN_PAIRS = 100_000    # attack senn keeps every pair's image: 100k pairs ≈ 0.3 GB


class UsageError(SemError):
    """A command-line argument that cannot be used (bad number, bad path)."""


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    """argparse type: an integer in [lo, hi] (ASCII digits, no floats, no exponents: ``params.parse_number``)."""
    def parse(text: str) -> int:
        value = parse_number(text, integer=True)
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer in {lo}..{hi}, got '{text[:40]}'")
        return value
    parse.__name__ = f"integer in {lo}..{hi}"
    return parse


def float_range(lo: float = -math.inf, hi: float = math.inf, *, lo_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite float in [lo, hi] (or (lo, hi] with ``lo_open``); nan, inf and other scripts' digits
    refused (``params.parse_number``)."""
    if hi == math.inf:
        want = "a finite number" + ("" if lo == -math.inf else f" {'>' if lo_open else '>='} {lo:g}")
    else:
        want = f"a finite number in {'(' if lo_open else '['}{lo:g}, {hi:g}]"

    def parse(text: str) -> float:
        value = parse_number(text)
        value = math.nan if value is None else value
        if not math.isfinite(value) or value < lo or (lo_open and value == lo) or value > hi:
            raise argparse.ArgumentTypeError(f"must be {want}, got '{text[:40]}'")
        return value
    parse.__name__ = want
    return parse


finite_float = float_range()
"""argparse type: any finite number."""
weight = float_range(0.0)                      # a loss weight: finite, >= 0
"""argparse type: a loss weight, finite and >= 0."""
unit_eps = float_range(0.0, 1.0, lo_open=True)  # an L-inf radius in pixel units
"""argparse type: an L-inf radius in (0, 1], pixel units."""


def setting_type(param: Param) -> Callable[[str], Any]:
    """argparse type of a declared setting: ``Param.parse`` (ASCII digits, the declared range), its errors as
    argparse's."""
    def parse(text: str) -> Any:
        try:
            return param.parse(text)
        except SemError:
            raise argparse.ArgumentTypeError(f"must be {param.requirement().strip()}, got '{text[:40]}'") from None
    parse.__name__ = param.range_text()
    return parse


def add_settings(p: argparse.ArgumentParser, settings: Settings, skip: tuple[str, ...] = ()) -> None:
    """One flag per declared setting (``--step-size`` for ``step_size``), with its default and range in ``--help``;
    ``skip``: settings the command sets itself. Read them back with ``settings_of``."""
    for param in settings:
        if param.name not in skip:
            p.add_argument("--" + param.name.replace("_", "-"), dest=param.name, type=setting_type(param),
                           default=param.default, help=param.describe(),
                           metavar="|".join(map(str, param.choices)) if param.choices else param.kind.__name__.upper())


def settings_of(args: argparse.Namespace, settings: Settings, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The values of ``settings`` given on the command line (their defaults otherwise)."""
    return {p.name: getattr(args, p.name) for p in settings if p.name not in skip}


def non_default(config: dict[str, Any], settings: Settings, *names: str) -> dict[str, Any]:
    """``config`` less ``names`` and less the settings left at their declared default (what a command passes on
    beyond the settings it names itself)."""
    return {k: v for k, v in config.items() if k not in names and v != settings[k].default}


def model_arg(family: str | None = None) -> Callable[[str], str]:
    """argparse type of ``--model``: a listed model's name (shipped or ``$SEM_MODELS_DIR``; of ``family`` when
    given), or the path of a card ``.json`` (checked when it is loaded, before any data is)."""
    def parse(text: str) -> str:
        from ..models.hub import list_shipped

        if Path(text).suffix == ".json" or text == family:   # a missing shipped card: the loader says how to train it
            return text
        names = list_shipped(family)
        if text not in names:
            raise argparse.ArgumentTypeError(f"invalid choice: '{text[:60]}' (choose from {', '.join(names)}, "
                                             "or the path of a card .json)")
        return text
    parse.__name__ = "model name or card path"
    return parse


MODEL_METAVAR = "NAME|CARD.json"


def check_writable_dir(folder: str | Path, flag: str) -> None:
    """Create ``folder`` if needed and prove a file can be written there (before any work is done)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag}: '{folder}' is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".sem-write-check-"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag}: cannot write in '{folder}' ({exc.strerror or exc})") from None


def check_save(path: str | None, flag: str = "--save") -> None:
    """``--save`` must name a .npz file in a writable folder; nothing is renamed behind the user's back."""
    if path is None:
        return
    p = Path(path)
    if p.suffix.lower() != ".npz":
        raise UsageError(f"{flag} must name a .npz file (e.g. {p.stem or 'out'}.npz), got '{path}'")
    if p.is_dir():
        raise UsageError(f"{flag}: '{path}' is a folder; give a file name ending in .npz")
    check_writable_dir(p.parent, flag)


def check_out_dir(path: str, flag: str = "--out") -> None:
    """An output folder: an existing folder or one that can be created, never a file."""
    check_writable_dir(path, flag)


def check_file_name(name: str | None, flag: str) -> None:
    """A bare file stem (no folders, no leading dot)."""
    if name is not None and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", name):
        raise UsageError(f"{flag} must be a plain file name (letters, digits, _ . -), got '{name[:40]}'")


def progress_bar(desc: str):
    """A tqdm bar on stderr and its ``on_step(done, total)`` callback."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, file=sys.stderr, disable=None)

    def on_step(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, on_step


def save_npz(path: str | Path, provenance: dict[str, Any] | None = None, **arrays: torch.Tensor) -> None:
    """Write tensors as a plain NumPy .npz (readable by any tool; no pickles); ``provenance`` (the JSON's record)
    goes in as the array ``provenance``, one JSON string: ``json.loads(str(np.load(path)["provenance"]))``."""
    import json

    import numpy as np

    from ..digit_io import npz_bytes

    if provenance is not None:
        arrays["provenance"] = np.array(json.dumps(provenance))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(npz_bytes(**arrays))


def _register_attack(sub, common) -> None:
    from ..models.hub import list_shipped

    p = sub.add_parser("attack", help="run an explanation attack on test digits")
    kinds = p.add_subparsers(dest="attack_kind", metavar="KIND", required=True, help="senn, protodl, saliency or influence")

    s = kinds.add_parser("senn", help="targeted concept attack on SENN (paper 000, eq. 1; Fig. 2 protocol)")
    s.add_argument("--model", default="senn", type=model_arg("senn"), metavar=MODEL_METAVAR,
                   help=f"a SENN: {', '.join(list_shipped('senn'))} (robust: senn-adv, senn-lip, senn-madry), or a card .json path")
    s.add_argument("--n", type=int_range(1, MAX_N), default=20, help="natural digits")
    s.add_argument("--targets", type=int_range(1, 1000), default=10,
                   help="random other-class targets per digit (paper: 100)")
    add_settings(s, SennConceptAttack.settings, skip=NO_REPLAY)
    s.add_argument("--save", default=None, metavar="PATH.npz",
                   help="write x, x_adv, x_target, y, pred_before, pred_after, label_kept")
    common(s)

    s = kinds.add_parser("protodl", help="untargeted prototype attack on PrototypeDL (paper 000, eq. 3)")
    s.add_argument("--model", default="protodl", type=model_arg("protodl"), metavar=MODEL_METAVAR,
                   help=f"a PrototypeDL: {', '.join(list_shipped('protodl'))}, or a card .json path")
    s.add_argument("--n", type=int_range(1, MAX_N), default=100)
    add_settings(s, ProtoDLAttack.settings, skip=NO_REPLAY)
    s.add_argument("--save", default=None, metavar="PATH.npz")
    common(s)

    for register in SALIENCY_PARSERS:
        register(kinds, common)


SALIENCY_PARSERS: list[Callable] = []
PARSERS.append(_register_attack)


def _data_for(model_name: str, device):
    from ..models.hub import load_model_with_card
    from ..data import load_split

    model, card = load_model_with_card(model_name, device)
    x, y, src = load_split("test", card["data"]["source"])
    return model, card, x, y, src


def provenance_of(args: argparse.Namespace, card: dict[str, Any], src: str, digits: Any, attack: str,
                  config: dict[str, Any]) -> dict[str, Any]:
    """The provenance record a command's JSON and ``--save`` NPZ carry (``sem_core.provenance``): the digits'
    indices in the test split of ``src``, the model (name or card path) and its weights' SHA-256, the attack or
    estimate and its config, the seed and the version."""
    from ..provenance import provenance

    return provenance(str(args.model), card, digits=digits, source=src, attack=attack, config=config, seed=args.seed)


def outcome_of(res: Any) -> dict[str, Any]:
    """An ``AttackResult``'s outcome and per-status counts for the JSON (``main`` exits 3 on "no-gradient")."""
    return {"outcome": res.outcome, "status_counts": res.status_counts()}


def run_attack(args: argparse.Namespace) -> dict[str, Any]:
    """``attack KIND``: run the handler of ``args.attack_kind``; returns the JSON object it prints."""
    return HANDLERS[args.attack_kind](args)


def _senn(args: argparse.Namespace) -> dict[str, Any]:
    from ..experiments import senn_distances

    if args.n * args.targets > MAX_SENN_PAIRS:
        raise UsageError(f"--n × --targets must be at most {MAX_SENN_PAIRS:,} pairs, got {args.n * args.targets:,}; "
                         "for larger runs use the chunked, resumable `experiment senn-distances`")
    check_save(args.save)
    model, card, x, y, src = _data_for(args.model, args.device)
    bar, on_step = progress_bar("attack senn (pairs)")
    cfg = settings_of(args, SennConceptAttack.settings, NO_REPLAY)
    res = senn_distances(model, x, y, n=args.n, targets=args.targets, eps=args.eps, steps=args.steps,
                         lam=args.lam, seed=args.seed, on_step=on_step,
                         **non_default(cfg, SennConceptAttack.settings, "eps", "steps", "lam"))
    bar.close()
    prov = provenance_of(args, card, src, {"source": res.idx.tolist(), "target": res.target_idx.tolist()},
                         "senn_concept", res.config)
    if args.save:
        from ..models.train import predict

        best_t = res.target_idx[torch.arange(len(res.idx)), res.best_target]
        pred_after, pred_before = predict(model, res.x_adv_best), predict(model, x[res.idx])
        save_npz(args.save, prov, x=x[res.idx], x_adv=res.x_adv_best, x_target=x[best_t], y=y[res.idx],
                 pred_before=pred_before, pred_after=pred_after, label_kept=pred_after == pred_before)
    return {"model": args.model, "data_source": src, **res.summary(), "config": res.config, "provenance": prov}


def _protodl(args: argparse.Namespace) -> dict[str, Any]:
    from ..experiments import protodl_distances

    check_save(args.save)
    model, card, x, y, src = _data_for(args.model, args.device)
    bar, on_step = progress_bar("attack protodl (steps)")
    cfg = settings_of(args, ProtoDLAttack.settings, NO_REPLAY)
    res = protodl_distances(model, x, y, n=args.n, eps=args.eps, steps=args.steps, lam=args.lam, xi=args.xi,
                            alpha=args.alpha, seed=args.seed, on_step=on_step,
                            **non_default(cfg, ProtoDLAttack.settings, "eps", "steps", "lam", "xi", "alpha"))
    bar.close()
    a = res.attack
    prov = provenance_of(args, card, src, res.idx.tolist(), "protodl_prototype", res.config)
    if args.save:
        save_npz(args.save, prov, x=a.x, x_adv=a.x_adv, y=y[res.idx], pred_before=a.pred_before,
                 pred_after=a.pred_after, label_kept=a.label_kept)
    return {"model": args.model, "data_source": src, **res.summary(), **outcome_of(a), "config": res.config,
            "provenance": prov}


HANDLERS.update({"senn": _senn, "protodl": _protodl})


def _register_saliency(kinds, common) -> None:
    from ..attacks import list_attacks
    from ..models.hub import list_shipped

    s = kinds.add_parser("saliency", help="attack a saliency map (paper 003, Algorithm 1)")
    s.add_argument("--model", default="cnn", type=model_arg(), metavar=MODEL_METAVAR,
                   help=f"one of: {', '.join(list_shipped())}, or a card .json path")
    s.add_argument("--kind", default="topk", choices=[n.removeprefix("saliency_") for n in list_attacks(family="saliency")])
    s.add_argument("--n", type=int_range(1, MAX_N), default=20)
    add_settings(s, SaliencyAttack.settings, skip=NO_REPLAY)
    s.add_argument("--region", default="0,0,10,10", help="targeted kinds: row0,col0,row1,col1 (pixels, end exclusive)")
    s.add_argument("--save", default=None, metavar="PATH.npz")
    common(s)


SALIENCY_PARSERS.append(_register_saliency)


def region_mask(spec: str, size: tuple[int, int] | None = (28, 28)) -> torch.Tensor | None:
    """'r0,c0,r1,c1' -> a [1,1,H,W] mask of that box in an image of ``size`` (H, W); ``size=None`` checks the
    spec alone (four integers, a box that is not backwards) before the images' size is known."""
    from ..attacks import region_mask as box
    from ..errors import AttackError

    h, w = size or ("H", "W")
    try:
        r0, c0, r1, c1 = (int(v) for v in spec.split(","))
        mask = box(r0, c0, r1, c1, size=size or (max(r1, 1), max(c1, 1)))
        return mask if size else None
    except (ValueError, AttackError) as exc:
        raise AttackError(f"--region must be four integers r0,c0,r1,c1 with 0 <= r0 < r1 <= {h} and "
                          f"0 <= c0 < c1 <= {w}, got '{spec}'") from exc


def _saliency(args: argparse.Namespace) -> dict[str, Any]:
    import time

    from ..attacks import create_attack
    from ..experiments.sampling import pick_digits

    region_mask(args.region, None)   # a typo or a backwards box fails before any loading
    check_save(args.save)
    model, card, x, y, src = _data_for(args.model, args.device)
    box = region_mask(args.region, tuple(x.shape[-2:]))  # checked even when unused: a typo should not pass silently
    idx = pick_digits(y, args.n, args.seed)
    attack = create_attack(model, f"saliency_{args.kind}", **settings_of(args, SaliencyAttack.settings, NO_REPLAY))
    target = box if attack.targeted else None
    bar, on_step = progress_bar(f"attack saliency {args.kind} ({args.method})")
    start = time.perf_counter()
    res = attack(x[idx], y[idx], target=target, seed=args.seed, on_step=on_step)
    seconds = time.perf_counter() - start
    bar.close()
    prov = provenance_of(args, card, src, idx.tolist(), attack.name, res.config)
    if args.save:
        save_npz(args.save, prov, x=res.x, x_adv=res.x_adv, y=y[idx], pred_before=res.pred_before,
                 pred_after=res.pred_after, label_kept=res.label_kept, map_before=res.explanations["natural"],
                 status=res.status)
    s = res.summary()
    region = {k: s[k] for k in ("region_mass_after", "region_mass_before") if k in s}
    return {"model": args.model, "data_source": src, "method": args.method, "kind": args.kind, "n": len(idx),
            "topk_intersection": s["topk_intersection"], "spearman": s["spearman"], "center_shift": s["center_shift"],
            "label_kept_rate": s["label_kept_rate"], "linf_max": s["linf_max"], "seconds": seconds,
            **outcome_of(res), "config": res.config, **region, "provenance": prov}


HANDLERS["saliency"] = _saliency


def _register_influence(kinds, common) -> None:
    from ..models.hub import list_shipped

    s = kinds.add_parser("influence", help="gradient-sign attack on influence functions (paper 003, Sec. 3)")
    s.add_argument("--model", default="cnn", type=model_arg("cnn"), metavar=MODEL_METAVAR,
                   help=f"a CNN: {', '.join(list_shipped('cnn'))}, or a card .json path")
    s.add_argument("--kind", default="sign", choices=["sign", "random"],
                   help="sign: the gradient-sign attack; random: the random-sign baseline of the same ε")
    s.add_argument("--n", type=int_range(1, MAX_N), default=10, help="test digits")
    add_settings(s, InfluenceAttack.settings, skip=NO_REPLAY + ("data",))   # data: the model card's
    s.add_argument("--save", default=None, metavar="PATH.npz",
                   help="write x, x_adv, y, pred_before, pred_after, label_kept, top_before, top_after")
    common(s)


SALIENCY_PARSERS.append(_register_influence)


def _influence(args: argparse.Namespace) -> dict[str, Any]:
    import time

    from ..attacks import create_attack
    from ..experiments.sampling import pick_digits

    check_save(args.save)
    model, card, x, y, src = _data_for(args.model, args.device)
    idx = pick_digits(y, args.n, args.seed)
    attack = create_attack(model, f"influence_{args.kind}", data=card["data"]["source"],
                           **settings_of(args, InfluenceAttack.settings, NO_REPLAY + ("data",)))
    bar, on_step = progress_bar(f"attack influence {args.kind}")
    start = time.perf_counter()
    res = attack(x[idx], y[idx], seed=args.seed, on_step=on_step)
    seconds = time.perf_counter() - start
    bar.close()
    before, after = res.explanations["natural"], res.explanations["adversarial"]
    prov = provenance_of(args, card, src, idx.tolist(), attack.name, res.config)
    if args.save:
        save_npz(args.save, prov, x=res.x, x_adv=res.x_adv, y=y[idx], pred_before=res.pred_before,
                 pred_after=res.pred_after, label_kept=res.label_kept, top_before=before.top_idx,
                 top_after=after.top_idx)
    s, m = res.summary(), res.metrics
    return {"model": args.model, "data_source": src, "kind": args.kind, "n": len(idx), "k": args.k,
            "topk_intersection": s["topk_intersection"], "topk_intersection_median": median(m["topk_intersection"]),
            "spearman": s["spearman"], "spearman_median": median(m["spearman"]),
            "label_kept_rate": s["label_kept_rate"], "linf_max": s["linf_max"], "seconds": seconds,
            "seconds_per_digit": seconds / len(idx), "digits": idx.tolist(),
            "top_before": before.top_idx.tolist(), "top_after": after.top_idx.tolist(),
            "cg_residual_max": max(before.residual.max().item(), after.residual.max().item()), **outcome_of(res),
            "config": res.config, "provenance": prov}


HANDLERS["influence"] = _influence


def _register_lipschitz(sub, common) -> None:
    from ..lipschitz import list_protocols, list_searches
    from ..models.hub import list_shipped

    p = sub.add_parser("lipschitz", help="local Lipschitz estimates of an explainer (papers 001 eq. 5, 002 eqs. 1-2)")
    p.add_argument("--model", default="cnn", type=model_arg(), metavar=MODEL_METAVAR,
                   help=f"one of: {', '.join(list_shipped())}, or a card .json path")
    p.add_argument("--explainer", default="saliency", help="'self' (SENN θ / PrototypeDL distances) or an explainer name")
    p.add_argument("--n", type=int_range(1, MAX_N), default=10)
    p.add_argument("--eps", type=float_range(0.0, 1e6, lo_open=True), default=0.1,
                   help="radius: L-inf in (0, 1] for the continuous searches, an L2 radius > 0 for --search discrete")
    p.add_argument("--budget", type=int_range(2, 100_000), default=None,
                   help="explainer evaluations per digit (default 40; with --protocol: ratio evaluations, default the protocol's)")
    p.add_argument("--search", "--method", dest="search", default="auto", choices=["auto", *list_searches()],
                   help="the search algorithm (--method is its old name)")
    add_settings(p, ContinuousSearch.settings, skip=("eps", "budget", "step_size", "seed", "batch_size"))  # --restarts
    p.add_argument("--protocol", default=None, choices=list_protocols(),
                   help="run under a named protocol (sem_core.lipschitz.protocols: neighbourhood, search, explainer "
                        "settings, SENN ratio); --eps is then ignored, --budget is the ratio evaluations per digit "
                        "(default: the protocol's) and --search other than auto replaces the protocol's search")
    p.add_argument("--save", default=None, metavar="PATH.npz", help="write x, x_prime, values")
    common(p)


PARSERS.append(_register_lipschitz)


def run_lipschitz(args: argparse.Namespace) -> dict[str, Any]:
    """``lipschitz``: local Lipschitz estimates of one explainer on ``--n`` test digits; returns the JSON object."""
    import time

    from ..device import model_device
    from ..errors import UnknownNameError
    from ..experiments.sampling import pick_digits
    from ..lipschitz import create_search, explanation_function, list_lipschitz_explainers

    if args.search != "discrete" and args.eps > 1:
        raise UsageError(f"argument --eps: must be an L-inf radius in (0, 1] for --search {args.search}, got {args.eps:g} "
                         "(only --search discrete takes an L2 radius above 1)")
    check_save(args.save)
    model, card, x, y, src = _data_for(args.model, args.device)
    known = list_lipschitz_explainers(model) + (["theta_pred"] if args.protocol and hasattr(model, "relevances") else [])
    if args.explainer not in known:
        raise UnknownNameError(f"unknown explainer '{args.explainer}' for {args.model}; available: {', '.join(known)}")
    idx = pick_digits(y, args.n, args.seed)
    dev = model_device(model)
    if args.protocol is not None:
        return _lipschitz_protocol(args, model, x[idx].to(dev), y[idx], src)
    explanation = explanation_function(model, args.explainer)
    if args.search == "discrete":
        search = create_search("discrete", explanation, sample=x.to(dev), eps=args.eps)
    else:
        search = create_search(args.search, explanation, eps=args.eps, budget=args.budget or LIPSCHITZ_BUDGET,
                               restarts=args.restarts, seed=args.seed)
    bar, on_step = progress_bar(f"lipschitz {args.model}/{args.explainer}")
    start = time.perf_counter()
    res = search(x[idx].to(dev), on_step=on_step)
    seconds = time.perf_counter() - start
    bar.close()
    prov = provenance_of(args, card, src, idx.tolist(), f"lipschitz:{res.search}",
                         {"explainer": args.explainer, **res.config})
    if args.save:
        save_npz(args.save, prov, x=res.x, x_prime=res.x_prime, values=res.values, y=y[idx])
    vals = res.values
    return {"model": args.model, "explainer": args.explainer, "data_source": src, "method": res.search,
            "values": vals.tolist(), "median": median(vals), "budget": res.calls, "budget_asked": args.budget or LIPSCHITZ_BUDGET,
            "eps": args.eps, "n": len(idx), "seconds": seconds, "protocol": None, "provenance": prov}


def _lipschitz_protocol(args: argparse.Namespace, model, x, y, src: str) -> dict[str, Any]:
    """``lipschitz --protocol NAME``: ``protocol_lipschitz`` on the digits; the JSON names the protocol."""
    import time

    from ..lipschitz.protocols import get_protocol, pixel_std, protocol_lipschitz

    if args.search == "discrete":
        raise UsageError("--protocol runs a continuous search (gp_minimize, bayesopt, random); not --search discrete")
    protocol = get_protocol(args.protocol)
    bar, on_step = progress_bar(f"lipschitz {args.model}/{args.explainer} ({protocol.name})")
    start = time.perf_counter()
    res = protocol_lipschitz(model, args.explainer, x, protocol, std=pixel_std(src), seed=args.seed, calls=args.budget,
                             search=None if args.search == "auto" else args.search, on_step=on_step)
    seconds = time.perf_counter() - start
    bar.close()
    if args.save:
        save_npz(args.save, x=res.x, x_prime=res.x_prime, values=res.values, y=y)
    return {"model": args.model, "explainer": args.explainer, "data_source": src, "protocol": protocol.name,
            "method": res.search, "values": res.values.tolist(), "median": median(res.values),
            "calls": res.calls, "ratio_calls": res.config["ratio_calls"], "neighbourhood": protocol.neighbourhood,
            "eps": protocol.eps, "n": len(x), "seconds": seconds, "config": res.config,
            "protocol_notes": list(protocol.notes)}
