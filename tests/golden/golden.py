"""Golden comparison for refactors: capture every CLI command's JSON, its saved tensors, the experiments at tiny N
and ``report`` on the committed results, then compare two captures key by key.

    python tests/golden/golden.py capture /tmp/golden-before     # on the old code (add names: only those, merged)
    python tests/golden/golden.py capture /tmp/golden-after      # on the new code
    python tests/golden/golden.py compare /tmp/golden-before /tmp/golden-after

Wall-clock fields (seconds, train_seconds...) and paths are left out of the comparison; every other number must
be equal (the comparison prints the largest relative difference of each key that differs).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
VOLATILE = {"seconds", "train_seconds", "seconds_per_digit", "wall_seconds", "elapsed_s", "started", "finished",
            "created", "report", "card", "cache_dir", "out", "folder", "code_version", "git", "python", "torch",
            "platform", "hostname", "timestamp", "time", "compute_seconds", "duration_s", "when"}

# (name, argv): tiny runs of every command the CLI has
COMMANDS = [
    ("eval-cnn", ["eval", "--model", "cnn"]),
    ("eval-senn", ["eval", "--model", "senn"]),
    ("eval-protodl", ["eval", "--model", "protodl"]),
    ("attack-senn", ["attack", "senn", "--n", "2", "--targets", "2", "--steps", "5", "--save", "{out}/senn.npz"]),
    ("attack-protodl", ["attack", "protodl", "--n", "3", "--steps", "5", "--save", "{out}/protodl.npz"]),
    ("attack-saliency-topk", ["attack", "saliency", "--n", "2", "--steps", "5", "--method", "ig",
                              "--save", "{out}/sal_topk.npz"]),
    ("attack-saliency-center", ["attack", "saliency", "--kind", "center", "--n", "2", "--steps", "5",
                                "--save", "{out}/sal_center.npz"]),
    ("attack-saliency-region", ["attack", "saliency", "--kind", "region", "--n", "2", "--steps", "5",
                                "--save", "{out}/sal_region.npz"]),
    ("attack-influence", ["attack", "influence", "--n", "2", "--steps", "2", "--save", "{out}/influence.npz"]),
    ("attack-influence-random", ["attack", "influence", "--kind", "random", "--n", "2"]),
    ("lipschitz-auto", ["lipschitz", "--n", "2", "--budget", "8", "--save", "{out}/lip.npz"]),
    ("lipschitz-senn-self", ["lipschitz", "--model", "senn", "--explainer", "self", "--n", "2", "--budget", "8"]),
    ("lipschitz-discrete", ["lipschitz", "--search", "discrete", "--n", "2", "--eps", "5"]),
    ("lipschitz-protocol", ["lipschitz", "--protocol", "authors", "--n", "2", "--budget", "6"]),
]

# the experiments at tiny N (each one's own tiny settings)
EXPERIMENTS = {
    "senn-distances": ["--n", "2", "--param", "targets=2", "--param", "steps=5", "--param", "eps_values=[0.1]"],
    "protodl-distances": ["--n", "3", "--param", "steps=5"],
    "saliency-fragility": ["--n", "2", "--param", "steps=3"],
    "saliency-region": ["--n", "2", "--param", "steps=3"],
    "lipschitz": ["--n", "2", "--param", "calls=6"],
    "senn-lambda": ["--n", "2", "--param", "lambdas=[0.0]", "--param", "train_seeds=[0]", "--param", "epochs=1",
                    "--param", "train_limit=200", "--param", "budget=4"],
    "discrete-lipschitz": ["--n", "2"],
    "noise-stability": ["--n", "2"],
    "faithfulness": ["--n", "2"],
    "influence-fragility": ["--n", "2", "--param", "steps=2"],
    "defenses": ["--n", "2", "--param", "steps=5", "--param", "targets=2"],
    "protodl-table": ["--n", "2"],
    "card": ["--n", "2", "--param", "steps=2", "--param", "concept_steps=2", "--param", "targets=2",
             "--param", "lipschitz_calls=2", "--param", "model=senn"],
}


def run(argv: list[str], out: Path) -> dict:
    argv = [a.format(out=out) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "sem_core", *argv, "--json"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "SEM_CACHE_DIR": "off", "PYTHONHASHSEED": "0"})
    try:
        return {"rc": proc.returncode, "json": json.loads(proc.stdout.strip().splitlines()[-1])}
    except (json.JSONDecodeError, IndexError):
        return {"rc": proc.returncode, "stderr": proc.stderr[-2000:]}


def capture(out: Path, only: list[str]) -> None:
    """Run everything (or only the named commands / experiments) into ``out/golden.json`` (merged when ``only``)."""
    out.mkdir(parents=True, exist_ok=True)
    results = json.loads((out / "golden.json").read_text()) if only and (out / "golden.json").exists() else {}
    for name, argv in COMMANDS:
        if only and name not in only:
            continue
        results[name] = run(argv, out)
        print(name, results[name]["rc"], file=sys.stderr)
    from sem_core.experiments.runner import list_experiments  # noqa: E402 - after the path is set

    for name in list_experiments():
        if only and name not in only:
            continue
        if name not in EXPERIMENTS:
            print(f"experiment {name}: no tiny settings, skipped", file=sys.stderr)
            continue
        folder = out / f"exp-{name}"
        shutil.rmtree(folder, ignore_errors=True)
        res = run(["experiment", name, "--out", str(folder), *EXPERIMENTS[name]], out)
        for f in sorted(folder.glob("*.csv")):
            res.setdefault("csv", {})[f.name] = f.read_text()
        results[f"experiment-{name}"] = res
        print(name, res["rc"], file=sys.stderr)
    if only and "report" not in only:
        (out / "golden.json").write_text(json.dumps(results, indent=1, sort_keys=True))
        return
    results["report"] = run(["report", "--results", str(ROOT / "results"), "--out", str(out / "RESULTS.md")], out)
    results["report"]["md"] = (out / "RESULTS.md").read_text() if (out / "RESULTS.md").exists() else None
    for npz in sorted(out.glob("*.npz")):
        with np.load(npz) as z:
            results[f"npz-{npz.name}"] = {k: z[k].tolist() for k in z.files if z[k].dtype != object}
    (out / "golden.json").write_text(json.dumps(results, indent=1, sort_keys=True))


def normalise(obj, root: str):
    """``obj`` with the capture folder written as OUT and every CSV (a ``.csv`` key's text) as rows of dicts."""
    if isinstance(obj, dict):
        return {k: (normalise(list(csv.DictReader(io.StringIO(v))), root) if k.endswith(".csv") and isinstance(v, str)
                    else normalise(v, root)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [normalise(v, root) for v in obj]
    return obj.replace(root, "OUT") if isinstance(obj, str) else obj


def volatile(key: str) -> bool:
    """Wall-clock, machine or path fields: not compared."""
    return key in VOLATILE or "seconds" in key or key in ("command", "png", "png_skipped")


def diff(a, b, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if volatile(k):
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'after' if k not in a else 'before'}")
                continue
            diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} → {len(b)}")
            return
        worst: list[str] = []
        for i, (u, v) in enumerate(zip(a, b)):
            diff(u, v, f"{path}[{i}]", worst)
        out.extend(worst[:int(os.environ.get("GOLDEN_SHOW", 3))] + ([f"{path}: … {len(worst) - 3} more"] if len(worst) > int(os.environ.get("GOLDEN_SHOW", 3)) else []))
    elif isinstance(a, float) and isinstance(b, float):
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            out.append(f"{path}: {a!r} → {b!r} (rel {abs(a - b) / max(abs(a), abs(b), 1e-30):.1e})")
    elif a != b:
        out.append(f"{path}: {str(a)[:120]!r} → {str(b)[:120]!r}")


def compare(before: Path, after: Path) -> int:
    a = normalise(json.loads((before / "golden.json").read_text()), str(before))
    b = normalise(json.loads((after / "golden.json").read_text()), str(after))
    out: list[str] = []
    diff(a, b, "", out)
    print("\n".join(out) if out else "identical")
    return 1 if out else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1] == "capture":
        capture(Path(sys.argv[2]), sys.argv[3:])
    else:
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
