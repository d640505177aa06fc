"""``python -m sem_core COMMAND``: train, eval (and the attack commands).

Every command takes ``--device`` and ``--seed``; ``--json`` prints exactly one JSON object on
stdout (notices and progress go to stderr).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, Callable

from .errors import SemError

COMMANDS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {}


def command(name: str):
    def deco(fn):
        COMMANDS[name] = fn
        return fn
    return deco


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available; SEM_DEVICE overrides)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def build_parser() -> argparse.ArgumentParser:
    from .experiments.runner import list_experiments
    from .models.registry import list_models

    parser = argparse.ArgumentParser(prog="python -m sem_core", description="SEM Explorer engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model and save a safetensors checkpoint + JSON card")
    p.add_argument("--model", required=True, help=f"one of: {', '.join(list_models())}")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--data", default="auto", choices=["auto", "mnist", "subset"])
    p.add_argument("--out", default="assets/models")
    p.add_argument("--concepts", type=int, default=None, help="SENN: number of concepts k")
    p.add_argument("--stability", type=float, default=None, help="SENN: stability weight lambda")
    p.add_argument("--name", default=None, help="file stem of the checkpoint (default: the model name)")
    _common(p)

    p = sub.add_parser("eval", help="accuracy of a shipped model on its own source's test split")
    p.add_argument("--model", required=True, help=f"one of: {', '.join(list_models())}, or a card .json path")
    _common(p)

    p = sub.add_parser("experiment", help="run (or resume) a dataset-level experiment into a folder")
    p.add_argument("name", help=f"one of: {', '.join(list_experiments())}")
    p.add_argument("--n", type=int, default=None, help="number of digits (default: the experiment's)")
    p.add_argument("--out", required=True)
    p.add_argument("--param", action="append", default=[], metavar="KEY=JSON",
                   help="override a parameter, e.g. --param targets=20 --param 'eps_values=[0.05,0.1]'")
    _common(p)

    p = sub.add_parser("report", help="write docs/RESULTS.md from saved experiment folders")
    p.add_argument("--results", required=True)
    p.add_argument("--out", default="docs/RESULTS.md")
    _common(p)

    from . import cli_attacks  # the attack and lipschitz commands
    for register in cli_attacks.PARSERS:
        register(sub, _common)
    return parser


@command("train")
def _train(args: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from .models.train import TrainConfig, train_model

    model_config: dict[str, Any] = {}
    if args.concepts is not None:
        model_config["n_concepts"] = args.concepts
    train_config = TrainConfig() if args.stability is None else TrainConfig(stability=args.stability)
    bar = tqdm(desc=f"train {args.model}", unit="batch", file=sys.stderr, disable=None)

    def on_step(step: int, total: int, metrics: dict[str, float]) -> None:
        bar.total = total
        bar.update(1)
        bar.set_postfix(loss=f"{metrics['loss']:.3f}")

    result = train_model(args.model, epochs=args.epochs, seed=args.seed, data=args.data, device=args.device,
                         out=args.out, model_config=model_config, train_config=train_config, on_step=on_step,
                         name_on_disk=args.name)
    bar.close()
    card = result.card
    return {"model": args.model, "card": str(result.card_path), "accuracy": card["test_accuracy"],
            "data_source": card["data"]["source"], "n_train": card["data"]["n_train"],
            "n": card["data"]["n_test"], "train_seconds": card["train_seconds"], "seed": args.seed}


@command("eval")
def _eval(args: argparse.Namespace) -> dict[str, Any]:
    from .api import load_model_with_card
    from .data import load_split
    from .device import model_device
    from .models.train import accuracy

    model, card = load_model_with_card(args.model, args.device)
    source = card["data"]["source"]
    x, y, _ = load_split("test", source)  # the test split of the source it was trained on
    acc = accuracy(model, x, y)
    return {"model": card["model"], "accuracy": round(acc, 4), "n": len(y), "data_source": source,
            "card_accuracy": card.get("test_accuracy"), "device": str(model_device(model))}


@command("attack")
def _attack(args: argparse.Namespace) -> dict[str, Any]:
    from .cli_attacks import run_attack

    return run_attack(args)


@command("lipschitz")
def _lipschitz(args: argparse.Namespace) -> dict[str, Any]:
    from .cli_attacks import run_lipschitz

    return run_lipschitz(args)


@command("experiment")
def _experiment(args: argparse.Namespace) -> dict[str, Any]:
    from .cli_attacks import _progress
    from .errors import SemError
    from .experiments import run_experiment

    params = {}
    for item in args.param:
        key, _, raw = item.partition("=")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            raise SemError(f"--param {item}: the value must be JSON (e.g. 20, 0.1, [0.05,0.1], \"cnn\")") from None
    bar, on_step = _progress(f"experiment {args.name} (chunks)")
    manifest = run_experiment(args.name, args.out, n=args.n, device=args.device, seed=args.seed, on_step=on_step, **params)
    bar.close()
    return manifest


@command("report")
def _report(args: argparse.Namespace) -> dict[str, Any]:
    from .experiments import write_report

    return {"report": str(write_report(args.results, args.out))}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = COMMANDS[args.command](args)
    except SemError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc)}))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
