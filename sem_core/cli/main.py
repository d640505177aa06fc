"""``python -m sem_core COMMAND``: train, eval (and the attack commands).

Every command takes ``--device``, ``--seed`` and ``--plugin FILE|MODULE`` (repeatable: a researcher's
architectures, imported before the command line is parsed, with ``$SEM_PLUGINS`` and the installed entry points);
``--json`` prints exactly one JSON object on stdout (notices and progress go to stderr).

Exit codes: 0 done; 2 a bad argument or input (one ``error: ...`` line on stderr, and
``{"error": ...}`` on stdout with ``--json``), checked before any data or model is loaded where it
can be; 1 the run failed on an OS error (disk full...); 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import signal
import sys
import threading
from typing import Any, Callable

from .attacks import (MAX_N, MODEL_METAVAR, SEED_MAX, UsageError, check_file_name, check_out_dir, float_range, int_range,
                      unit_eps, weight)
from ..errors import SemError

COMMANDS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {}


def command(name: str):
    """Decorator: register a function as the handler of the command ``name`` (in ``COMMANDS``)."""
    def deco(fn):
        COMMANDS[name] = fn
        return fn
    return deco


class _Parser(argparse.ArgumentParser):
    """argparse whose errors go through ``main``'s one-line (and --json) error path."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available; SEM_DEVICE overrides)")
    p.add_argument("--seed", type=int_range(0, SEED_MAX), default=0, help=f"0..{SEED_MAX}")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE|MODULE",
                   help="import a plug-in that registers your own architectures (repeatable; also $SEM_PLUGINS)")


def plugin_args(argv: list[str]) -> list[str]:
    """The values of every ``--plugin X`` / ``--plugin=X`` in ``argv`` (read before the parser is built, so the
    model lists and ``--model`` checks see the plug-ins' architectures and cards)."""
    found = []
    for i, arg in enumerate(argv):
        if arg == "--plugin" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--plugin="):
            found.append(arg.partition("=")[2])
    return found


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m sem_core`` with every command and its flags."""
    from ..data import SOURCES
    from ..experiments.runner import list_experiments
    from ..models.hub import list_shipped
    from ..models.registry import list_models

    parser = _Parser(prog="python -m sem_core", description="SEM Explorer engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model and save a safetensors checkpoint + JSON card")
    p.add_argument("--model", required=True, help=f"one of: {', '.join(list_models())}")
    p.add_argument("--epochs", type=int_range(1, 1000), default=None, help="1..1000 (default: the model's)")
    p.add_argument("--data", default="auto", choices=list(SOURCES),
                   help="the training data (fashion-mnist and cifar10 are downloaded when the network allows)")
    p.add_argument("--out", default="assets/models", help="folder for the checkpoint (created if needed)")
    p.add_argument("--concepts", type=int_range(1, 1000), default=None, help="SENN: number of concepts k (1..1000)")
    p.add_argument("--stability", type=weight, default=None, help="SENN: stability weight lambda (>= 0)")
    p.add_argument("--r1", type=weight, default=None, help="PrototypeDL: weight (>= 0) of R1, per unit of CE (Li et al.: 0.05)")
    p.add_argument("--r2", type=weight, default=None, help="PrototypeDL: weight (>= 0) of R2, per unit of CE (Li et al.: 0.05)")
    p.add_argument("--name", default=None, help="file stem of the checkpoint (default: the model name)")
    p.add_argument("--defense", default="none", choices=["none", "adversarial", "madry", "lipschitz"],
                   help="robust training (paper 000 Sec. 5): SENN adversarial|madry|lipschitz, PrototypeDL adversarial")
    p.add_argument("--defense-weight", type=weight, default=1.0, help="weight (>= 0) of the defense term")
    p.add_argument("--defense-eps", type=unit_eps, default=0.3, help="L-inf radius the defense covers, in (0, 1]")
    p.add_argument("--defense-steps", type=int_range(1, 100), default=5, help="PGD steps of adversarial training")
    p.add_argument("--defense-targets", type=int_range(1, 20), default=1,
                   help="madry: other-label targets each digit is attacked toward per batch (the worst one counts)")
    p.add_argument("--defense-ramp", type=int_range(0, 1000), default=0,
                   help="grow the defense's ε linearly over this many first epochs (0: full ε from the start)")
    p.add_argument("--act", default=None, choices=["relu", "softplus"],
                   help="activation (softplus = β-smoothing, the cnn-smooth saliency defense)")
    p.add_argument("--beta", type=float_range(0.0, 1e6, lo_open=True), default=None, help="softplus sharpness β > 0")
    p.add_argument("--init", default=None, help="start from this shipped model or card (fine-tuning), e.g. protodl")
    p.add_argument("--recipe", default=None, choices=["authors"],
                   help="SENN as github:dmelis/SENN trains it (tanh θ, 12 concepts, full-Jacobian penalty; the shipped senn)")
    _common(p)

    p = sub.add_parser("eval", help="accuracy of a shipped model on its own source's test split")
    p.add_argument("--model", required=True, metavar=MODEL_METAVAR,
                   help=f"one of: {', '.join(list_shipped())}, or a card .json path")
    p.add_argument("--verify", action="store_true",
                   help=f"fail (exit 2) when the measured accuracy differs from the card's claim by more than "
                        f"{VERIFY_TOLERANCE:.1%} (the card's test_accuracy is its claim, re-measured here)")
    _common(p)

    p = sub.add_parser("experiment", help="run (or resume) a dataset-level experiment into a folder")
    p.add_argument("name", help=f"one of: {', '.join(list_experiments())}")
    p.add_argument("--n", type=int_range(1, MAX_N), default=None, help="number of digits (default: the experiment's)")
    p.add_argument("--out", required=True)
    p.add_argument("--param", action="append", default=[], metavar="KEY=JSON",
                   help="override a parameter, e.g. --param targets=20 --param 'eps_values=[0.05,0.1]'")
    from ..experiments.executors import EXECUTORS, list_executors
    p.add_argument("--executor", default="in-process", choices=list_executors(),
                   help="; ".join(f"{n}: {EXECUTORS.get(n).summary}" for n in list_executors()))
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --executor ray: a running cluster's head (HOST:PORT, ray://HOST:PORT or auto); "
                        "without it a local Ray is started on this machine")
    p.add_argument("--protocol", default=None, help="the experiment's protocol parameter (lipschitz: authors|strict; "
                   "saliency-fragility: authors|strict); the same as --param protocol='\"NAME\"'")
    p.add_argument("--model", default=None, metavar=MODEL_METAVAR,
                   help="a single-model experiment's model, replacing its own (e.g. saliency-fragility's cnn): a listed "
                        "name or a card .json path; the same as --param model=NAME")
    _common(p)

    p = sub.add_parser("card", help="a model's explanation-robustness card (card.json, card.md, card.html) in a folder")
    p.add_argument("--model", required=True, metavar=MODEL_METAVAR,
                   help=f"one of: {', '.join(list_shipped())}, or a card .json path (with --plugin for your architecture)")
    p.add_argument("--n", type=int_range(1, MAX_N), default=None, help="number of digits (default 100)")
    p.add_argument("--out", required=True, help="the card's folder (a rerun resumes from its chunks)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=JSON",
                   help="override a setting of the card experiment, e.g. --param 'methods=[\"saliency\",\"ig\"]'")
    p.add_argument("--executor", default="in-process", choices=list_executors())
    p.add_argument("--address", default=None, metavar="ADDR", help="with --executor ray: a running cluster's head")
    _common(p)

    p = sub.add_parser("leaderboard", help="rank models on their robustness cards (making or resuming the cards)")
    p.add_argument("--models", nargs="+", required=True, metavar=MODEL_METAVAR, help="shipped names or card .json paths")
    p.add_argument("--cards", default="results/cards", help="where each model's card folder is (default results/cards)")
    p.add_argument("--n", type=int_range(1, MAX_N), default=None, help="digits per card (default 100)")
    p.add_argument("--out", default="docs/LEADERBOARD.md")
    _common(p)

    p = sub.add_parser("report", help="write docs/RESULTS.md from saved experiment folders")
    p.add_argument("--results", required=True)
    p.add_argument("--out", default="docs/RESULTS.md")
    p.add_argument("--publish", action="store_true",
                   help="maintainers: also record the folders' digests in sem_core/experiments/published.json, so "
                        "they read as published with this code on every installation (commit it with the results)")
    _common(p)

    p = sub.add_parser("precompute", help="fill the result cache with the app's default views (first Run is instant)")
    p.add_argument("--views", nargs="+", default=None, metavar="VIEW",
                   help="only these views (concept, prototype, saliency, batch, lipschitz, defenses, stability; "
                        "default: all)")
    _common(p)

    from . import attacks as cli_attacks  # the attack and lipschitz commands
    for register in cli_attacks.PARSERS:
        register(sub, _common)
    return parser


@command("train")
def _train(args: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from ..errors import UnknownNameError
    from ..models.base import SemModel
    from ..models.registry import MODELS, list_models
    from ..models.train import TrainConfig, train_model

    if args.model not in list_models():
        raise UnknownNameError(f"unknown model '{args.model}'; available: {', '.join(list_models())}")
    if not issubclass(MODELS.get(args.model), SemModel):
        raise UsageError(f"train trains architectures that subclass sem_core.SemModel (their training loss); train "
                         f"{args.model} yourself and save it with save_checkpoint (docs/models.md)")
    check_file_name(args.name, "--name")
    check_out_dir(args.out)
    model_config: dict[str, Any] = {}
    train_config = TrainConfig(defense=args.defense, defense_weight=args.defense_weight, defense_eps=args.defense_eps,
                               defense_steps=args.defense_steps, defense_targets=args.defense_targets,
                               defense_ramp_epochs=args.defense_ramp)
    if args.recipe == "authors":
        if args.model != "senn":
            raise SemError(f"--recipe authors is a SENN recipe; got --model {args.model}")
        from ..models.senn import AUTHORS_CONFIG, AUTHORS_TRAIN
        model_config.update(AUTHORS_CONFIG)
        train_config = dataclasses.replace(train_config, **AUTHORS_TRAIN)
    if args.concepts is not None:
        model_config["n_concepts"] = args.concepts
    model_config.update({k: v for k, v in (("act", args.act), ("beta", args.beta)) if v is not None})
    if args.stability is not None:
        train_config = dataclasses.replace(train_config, stability=args.stability)
    if (args.r1 is not None or args.r2 is not None) and args.model != "protodl":
        raise UsageError(f"--r1/--r2 weigh PrototypeDL's R1/R2 terms; they do not apply to --model {args.model}")
    train_config = dataclasses.replace(train_config, **{k: v for k, v in (("proto_r1", args.r1), ("proto_r2", args.r2))
                                                        if v is not None})
    bar = tqdm(desc=f"train {args.model}", unit="batch", file=sys.stderr, disable=None)

    def on_step(step: int, total: int, metrics: dict[str, float]) -> None:
        bar.total = total
        bar.update(1)
        bar.set_postfix(loss=f"{metrics['loss']:.3f}")

    result = train_model(args.model, epochs=args.epochs, seed=args.seed, data=args.data, device=args.device,
                         out=args.out, model_config=model_config, train_config=train_config, on_step=on_step,
                         name_on_disk=args.name, init_from=args.init)
    bar.close()
    card = result.card
    return {"model": args.model, "card": str(result.card_path), "accuracy": card["test_accuracy"],
            "data_source": card["data"]["source"], "n_train": card["data"]["n_train"],
            "n": card["data"]["n_test"], "train_seconds": card["train_seconds"], "seed": args.seed}


@command("eval")
def _eval(args: argparse.Namespace) -> dict[str, Any]:
    from ..models.hub import load_model_with_card
    from ..data import load_split
    from ..device import model_device
    from ..models.train import accuracy

    model, card = load_model_with_card(args.model, args.device)
    source = card["data"]["source"]
    x, y, _ = load_split("test", source)  # the test split of the source it was trained on
    acc = accuracy(model, x, y)
    claim = card.get("test_accuracy")
    if args.verify and (claim is None or abs(acc - claim) > VERIFY_TOLERANCE):
        raise SemError(f"{args.model}: the card claims a test accuracy of {claim}, measured {acc:.4f} on the same "
                       f"{source} test split ({len(y)} digits): the card's claim does not hold")
    return {"model": card["model"], "accuracy": round(acc, 4), "n": len(y), "data_source": source,
            "card_accuracy": claim, "device": str(model_device(model)),
            **({"verified": True} if args.verify else {})}


@command("attack")
def _attack(args: argparse.Namespace) -> dict[str, Any]:
    from .attacks import run_attack

    return run_attack(args)


@command("lipschitz")
def _lipschitz(args: argparse.Namespace) -> dict[str, Any]:
    from .attacks import run_lipschitz

    return run_lipschitz(args)


OWN_KEYS = {"n": "--n", "seed": "--seed", "device": "--device", "executor": "--executor", "out": "--out",
            "address": "--address", "on_step": None, "name": None}   # what the command sets itself
MAX_PARAM_CHARS = 10_000   # one --param value, as JSON
MAX_PARAM_DEPTH = 4        # lists in lists ...: the experiments take flat lists


def _depth(value: Any) -> int:
    if isinstance(value, (list, dict)):
        items = value.values() if isinstance(value, dict) else value
        return 1 + max((_depth(v) for v in items), default=0)
    return 0


def parse_params(items: list[str]) -> dict[str, Any]:
    """``--param KEY=JSON`` overrides as a dict; one line (``SemError``) for a key the command sets itself, a value
    that is not JSON, too long (``MAX_PARAM_CHARS``) or nested too deep (``MAX_PARAM_DEPTH``)."""
    params: dict[str, Any] = {}
    for item in items:
        key, _, raw = item.partition("=")
        if key in OWN_KEYS:
            flag = OWN_KEYS[key]
            raise SemError(f"--param {key[:40]}: " + (f"set it with {flag}" if flag else "not a parameter of any experiment"))
        if len(raw) > MAX_PARAM_CHARS:
            raise SemError(f"--param {key[:40]}: the value is {len(raw):,} characters; at most {MAX_PARAM_CHARS:,}")
        if key == "model" and not raw.startswith('"'):   # a name or a card path, JSON quotes optional
            params[key] = raw
            continue
        try:
            value = json.loads(raw)
        except RecursionError:
            raise SemError(f"--param {key[:40]}: nested deeper than {MAX_PARAM_DEPTH} levels") from None
        except ValueError:   # not JSON, or an integer of more digits than Python converts
            raise SemError(f"--param {item[:60]}: the value must be JSON of a usable size (e.g. 20, 0.1, "
                           f"[0.05,0.1], \"cnn\")") from None
        if _depth(value) > MAX_PARAM_DEPTH:
            raise SemError(f"--param {key[:40]}: nested deeper than {MAX_PARAM_DEPTH} levels")
        params[key] = value
    return params


@command("experiment")
def _experiment(args: argparse.Namespace) -> dict[str, Any]:
    from .attacks import progress_bar
    from ..experiments import run_experiment

    params = parse_params(args.param)
    from ..experiments.executors import create_executor

    executor = create_executor(args.executor, address=args.address, device=args.device)  # checked before any work
    if args.protocol is not None:
        params["protocol"] = args.protocol
    if args.model is not None:
        params["model"] = args.model
    from ..experiments import EXPERIMENTS
    from ..experiments.costs import estimate_text
    from ..experiments.runner import full_params

    exp = EXPERIMENTS.get(args.name)()
    print(estimate_text(args.name, full_params(exp, args.name, args.n, args.seed, params), exp.defaults),
          file=sys.stderr, flush=True)
    bar, on_step = progress_bar(f"experiment {args.name} (chunks)")
    manifest = run_experiment(args.name, args.out, n=args.n, device=args.device, seed=args.seed, on_step=on_step,
                              executor=executor, **params)
    bar.close()
    return manifest


def _run_card(model: str, out, n: int | None, args: argparse.Namespace, params: dict[str, Any],
              executor: Any = "in-process") -> dict[str, Any]:
    """Run (or resume) ``model``'s card into ``out`` and write its three files; returns the card document."""
    from .attacks import progress_bar
    from ..experiments import run_experiment
    from ..experiments.card import write_card

    bar, on_step = progress_bar(f"card {model} (chunks)")
    run_experiment("card", out, n=n, device=args.device, seed=args.seed, on_step=on_step, executor=executor,
                   **{**params, "model": model})
    bar.close()
    return write_card(out)


@command("card")
def _card(args: argparse.Namespace) -> dict[str, Any]:
    from pathlib import Path

    from ..experiments import EXPERIMENTS
    from ..experiments.costs import estimate_text
    from ..experiments.executors import create_executor
    from ..experiments.runner import full_params

    params = parse_params(args.param)
    if "model" in params:
        raise UsageError("--param model: set it with --model")
    executor = create_executor(args.executor, address=args.address, device=args.device)
    exp = EXPERIMENTS.get("card")()
    print(estimate_text("card", full_params(exp, "card", args.n, args.seed, {**params, "model": args.model}),
                        exp.defaults), file=sys.stderr, flush=True)
    doc = _run_card(args.model, args.out, args.n, args, params, executor)
    return {"card": {name: str(Path(args.out) / name) for name in ("card.json", "card.md", "card.html")},
            "verdict": doc["verdict"]["value"], "headline": doc["headline"]}


@command("leaderboard")
def _leaderboard(args: argparse.Namespace) -> dict[str, Any]:
    import shlex
    from pathlib import Path

    from ..experiments.integrity import write_atomic
    from ..experiments.leaderboard import board_command, build, card_folder, check_models, leaderboard_markdown, read_entry

    if Path(args.out).is_dir():
        raise UsageError(f"--out: '{args.out}' is a folder; give the leaderboard's file name (e.g. LEADERBOARD.md)")
    check_out_dir(Path(args.out).parent)
    entries = []
    for model in check_models(args.models):
        folder = card_folder(Path(args.cards), model)
        _run_card(model, folder, args.n, args, {})
        entries.append(read_entry(folder, Path(model).stem if model.endswith(".json") else model))
    board = build(entries, seed=args.seed)
    command = board_command(args.models, args.out, (f" --n {args.n}" if args.n else "") + (
        f" --seed {args.seed}" if args.seed else "") + (f" --cards {shlex.quote(args.cards)}" if args.cards != "results/cards" else ""))
    write_atomic(Path(args.out), leaderboard_markdown(board, command))
    return {"leaderboard": args.out, "ranking": [e.name for e in board.entries],
            "pairs": {p["robust"]: {"ranks_above": p["ranks_above"], "defense_holds": p["defense_holds"]}
                      for p in board.pairs}, "notes": board.notes}


@command("precompute")
def _precompute(args: argparse.Namespace) -> dict[str, Any]:
    from ..serve.service import AttackService
    from ..serve.precompute import precompute

    service = AttackService(device=args.device)
    try:
        views = precompute(service, views=args.views,
                           on_view=lambda name, info: print(f"{name}: {info}", file=sys.stderr))
    finally:
        service.shutdown()
    folder = service.cache.folder
    return {"views": views, "cache_dir": str(folder) if folder else None,
            "note": None if folder else "SEM_CACHE_DIR=off: results were kept in memory only and are gone"}


@command("report")
def _report(args: argparse.Namespace) -> dict[str, Any]:
    from pathlib import Path

    from ..experiments import write_report

    if not Path(args.results).is_dir():
        raise UsageError(f"--results: folder not found: '{args.results}'")
    if Path(args.out).is_dir():
        raise UsageError(f"--out: '{args.out}' is a folder; give the report's file name (e.g. RESULTS.md)")
    check_out_dir(Path(args.out).parent)
    out = {}
    if args.publish:   # before the report: it shows only verified folders
        from ..experiments import integrity
        from ..experiments.report import find_manifests

        cards = sorted(Path(args.results).glob("cards/*/manifest.json"))   # the leaderboard's robustness cards
        out["published"] = str(integrity.publish([p.parent for p in [*find_manifests(args.results), *cards]]))
    return {"report": str(write_report(args.results, args.out)), **out}


def _finite(obj: Any, where: str, bad: list[str]) -> Any:
    """``obj`` with every nan/inf float replaced by None (JSON has no NaN); their paths go to ``bad``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        bad.append(where or "(result)")
        return None
    if isinstance(obj, dict):
        return {k: _finite(v, f"{where}.{k}" if where else str(k), bad) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v, f"{where}[{i}]", bad) for i, v in enumerate(obj)]
    return obj


#: ``eval --verify``: how far the measured accuracy may be from the card's claim (float rounding, another device)
VERIFY_TOLERANCE = 0.002
#: an attack that could move no image (``AttackResult.outcome``): the JSON is printed, the exit code says it failed
NO_GRADIENT, EXIT_NO_GRADIENT = "no-gradient", 3
NO_GRADIENT_MESSAGE = ("the attack could not move any image: its loss has no gradient (a ReLU network without a smooth "
                       "surrogate, or a flat objective); the numbers are not a finding")


def _fail(message: str, as_json: bool, code: int) -> int:
    """One line on stderr (and one JSON object on stdout with --json); returns the exit code."""
    message = " ".join(message.split())  # one line, whatever the message held
    if as_json:
        print(json.dumps({"error": message}))
    print(message if code >= 128 else f"error: {message}", file=sys.stderr)   # a signal: no "error:"
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: handled as Ctrl-C is (one line, chunks kept, the lock released); ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def handle_termination() -> None:
    """SIGTERM and SIGHUP raise ``Terminated`` in the main thread (POSIX), so a killed run ends like an
    interrupted one instead of dying mid-write."""
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), _terminate)


def main(argv: list[str] | None = None) -> int:
    """Run one command (``argv``: the arguments after ``python -m sem_core``); returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
    handle_termination()
    argv = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in argv
    try:
        from ..models.plugins import load_plugins

        load_plugins(plugin_args(argv))
        args = build_parser().parse_args(argv)
        as_json = args.json
        if args.device is not None:
            from ..device import resolve_device

            resolve_device(args.device)  # an unknown or absent device fails before any work
        result = COMMANDS[args.command](args)
    except SemError as exc:
        return _fail(str(exc), as_json, 2)
    except KeyboardInterrupt as exc:
        resumable = argv[:1] in (["experiment"], ["card"], ["leaderboard"])
        what, code = ((f"terminated ({signal.Signals(exc.signum).name})", 128 + exc.signum)
                      if isinstance(exc, Terminated) else ("interrupted", 130))
        return _fail(f"{what}; rerun the same command to resume" if resumable else what, as_json, code)
    except OSError as exc:  # disk full, permissions changed mid-run...: the run failed, not the arguments
        return _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), as_json, 1)
    bad: list[str] = []
    result = _finite(result, "", bad)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        print(f"warning: non-finite values written as null: {shown}", file=sys.stderr)
    try:
        if as_json:
            print(json.dumps(result, allow_nan=False))
        else:
            for k, v in result.items():
                print(f"{k}: {v}")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`... --json | head -c 10`): end quietly, the work is done
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if isinstance(result, dict) and result.get("outcome") == NO_GRADIENT:
        print(f"error: {NO_GRADIENT_MESSAGE}", file=sys.stderr)
        return EXIT_NO_GRADIENT
    return 0


if __name__ == "__main__":
    sys.exit(main())
