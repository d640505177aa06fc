"""Reproduce this: a result the attack service computed, as the Python that recomputes it and the numbers it gives.

A ``Recipe`` is a ``JobSpec`` (what the service ran) told the way it can travel: the model by name and the SHA-256
of its weights; the images as test digits of the model's data source by index where they are test digits, else
(an uploaded or drawn digit, a region mask) as their exact bytes (float32 or bool, base64); the settings and the
seed; and ``expected``, the result's ``fingerprint`` (the numbers the page showed, per image).

- ``snippet(recipe)``: a stand-alone script that recomputes the result and prints its numbers.
- ``session_script(recipes)``: one script for a whole session: it recomputes every result and compares its numbers
  with the recorded ones (relative tolerance ``RTOL``: a batch of one digit and a batch the service shared with
  other sessions differ in the last bits), prints a line per result and exits with status 1 on any mismatch.

    recipe = recipe_of(spec, card, test_x, result, "Concept attack (SENN)")
    open("session.py", "w").write(session_script([recipe]))      # python session.py -> exit 0
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from .jobs import JobSpec

#: relative tolerance of the session script's comparison (plus ``ATOL`` for numbers near zero)
RTOL, ATOL = 1e-4, 1e-6


@dataclass
class Recipe:
    """One result, ready to travel (see the module docstring). ``x``, ``target``: ``{"test": [indices]}`` or
    ``{"raw": base64, "dtype": "float32"|"bool", "shape": [...]}``; ``y``: labels or None."""

    title: str
    kind: str
    name: str
    model: str
    model_sha256: str
    source: str
    x: dict[str, Any]
    y: list[int] | None
    target: dict[str, Any] | None
    config: dict[str, Any]
    seed: int
    expected: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> str:
        """The recipe as one line of JSON (what the session script embeds)."""
        return json.dumps(asdict(self), sort_keys=True)


def _row_index(test_x: torch.Tensor) -> dict[bytes, int]:
    return {hashlib.sha256(row.numpy().tobytes()).digest(): i for i, row in enumerate(test_x.float().cpu())}


def images_of(t: torch.Tensor, index: dict[bytes, int] | None) -> dict[str, Any]:
    """``t`` [n,...] as test-digit indices when every row is one (``index``: row digest -> index), else as bytes."""
    t = t.detach().cpu()
    if index is not None and t.dtype == torch.float32:
        found = [index.get(hashlib.sha256(row.numpy().tobytes()).digest()) for row in t]
        if all(i is not None for i in found):
            return {"test": [int(i) for i in found]}
    dtype = "bool" if t.dtype == torch.bool else "float32"
    raw = t.to(torch.bool if dtype == "bool" else torch.float32).contiguous().numpy().tobytes()
    return {"raw": base64.b64encode(raw).decode(), "dtype": dtype, "shape": list(t.shape)}


def decode_images(spec: dict[str, Any], test_x: torch.Tensor) -> torch.Tensor:
    """The tensor a recipe's ``x`` or ``target`` names (``test_x``: the model's test split)."""
    if "test" in spec:
        return test_x[spec["test"]].clone()
    dtype = {"bool": np.bool_, "float32": np.float32}[spec["dtype"]]
    arr = np.frombuffer(base64.b64decode(spec["raw"]), dtype=dtype).reshape(spec["shape"])
    return torch.from_numpy(arr.copy())


def fingerprint(result: Any) -> dict[str, list[float]]:
    """The numbers of a result a reader compares, per image: an attack's prediction, label kept, distance moved and
    every metric; an explanation's total and largest attribution; a Lipschitz estimate's values."""
    from ..attacks import AttackResult
    from ..lipschitz import LipschitzResult

    def flat(t) -> list[float]:
        return [float(v) for v in torch.as_tensor(t).detach().cpu().double().flatten().tolist()]

    if isinstance(result, AttackResult):
        out = {"pred_after": flat(result.pred_after), "label_kept": flat(result.label_kept), "linf": flat(result.linf)}
        out.update({f"metric {k}": flat(v) for k, v in sorted(result.metrics.items())})
        return out
    if isinstance(result, LipschitzResult):
        return {"values": flat(result.values)}
    if isinstance(result, torch.Tensor):
        maps = result.detach().cpu().double().flatten(1)
        return {"map abs sum": flat(maps.abs().sum(1)), "map max": flat(maps.amax(1))}
    raise TypeError(f"no fingerprint for a {type(result).__name__}")


def mismatches(expected: dict[str, list[float]], got: dict[str, list[float]]) -> list[str]:
    """What differs between two fingerprints (beyond ``RTOL``/``ATOL``), one line each; [] when they agree."""
    bad = []
    for key in sorted(set(expected) | set(got)):
        a, b = expected.get(key), got.get(key)
        if a is None or b is None or len(a) != len(b):
            bad.append(f"{key}: {a} vs {b}")
            continue
        far = [(u, v) for u, v in zip(a, b) if not (math.isclose(u, v, rel_tol=RTOL, abs_tol=ATOL)
                                                     or (math.isnan(u) and math.isnan(v)))]
        if far:
            bad.append(f"{key}: recorded {far[0][0]:.6g}, recomputed {far[0][1]:.6g}")
    return bad


def recipe_of(spec: JobSpec, card: dict[str, Any], test_x: torch.Tensor | None, result: Any, title: str) -> Recipe:
    """The ``Recipe`` of ``spec``'s ``result`` (``card``: the model's card; ``test_x``: the test split of its source,
    to name test digits by index; None: the images travel as bytes)."""
    if spec.kind not in _COMPUTE:
        raise ValueError(f"no recipe for job kind '{spec.kind}'")
    index = _row_index(test_x) if test_x is not None else None
    return Recipe(title=title, kind=spec.kind, name=spec.name, model=spec.model, model_sha256=str(card["sha256"]),
                  source=str(card.get("data", {}).get("source", "subset")), x=images_of(spec.x, index),
                  y=None if spec.y is None else [int(v) for v in spec.y.tolist()],
                  target=None if spec.target is None else images_of(spec.target, index),
                  config=json.loads(json.dumps(spec.config)), seed=int(spec.seed), expected=fingerprint(result))


def compute(recipe: Recipe | dict[str, Any], device: str = "cpu") -> Any:
    """Recompute a recipe's result with the library's public API (what ``snippet`` writes out)."""
    import sem_core

    r = recipe if isinstance(recipe, Recipe) else Recipe(**recipe)
    model, card = sem_core.load_model_with_card(r.model, device)
    if card["sha256"] != r.model_sha256:
        raise sem_core.SemError(f"model {r.model} has other weights ({card['sha256'][:12]}…) than the result "
                                f"({r.model_sha256[:12]}…): it cannot be reproduced with them")
    test_x = sem_core.load_split("test", r.source).images if "test" in r.x or (
        r.target is not None and "test" in r.target) else None
    x = decode_images(r.x, test_x).to(device)
    y = None if r.y is None else torch.tensor(r.y, device=device)
    target = None if r.target is None else decode_images(r.target, test_x).to(device)
    return _COMPUTE[r.kind](r, model, x, y, target, dict(r.config))


def _attack(r, model, x, y, target, cfg):
    import sem_core

    return sem_core.create_attack(model, r.name, **cfg)(x, y, target=target, seed=r.seed)


def _explain(r, model, x, y, target, cfg):
    import sem_core

    return sem_core.create_explainer(model, r.name, **cfg)(x, y).detach().cpu()


def _search(r, model, x, y, target, cfg):
    import sem_core

    explanation = sem_core.explanation_function(model, cfg.pop("explainer"), **cfg.pop("explainer_config", {}))
    return sem_core.create_search(r.name, explanation, **{"seed": r.seed, **cfg})(x)


def _protocol(r, model, x, y, target, cfg):
    from sem_core.lipschitz import lipschitz_of

    return lipschitz_of(model, cfg["explainer"], x, budget=cfg["budget"], seed=r.seed, protocol=r.name,
                        source=cfg.get("source", "subset"))


#: job kind -> how a recipe of it is recomputed (the service's job kinds, with the library's public API)
_COMPUTE = {"attack": _attack, "explain": _explain, "lipschitz": _search, "lipschitz_protocol": _protocol}


def _call_lines(r: Recipe) -> list[str]:
    """The lines of a snippet after ``model``, ``x``, ``y``, ``target`` are defined: ``result = ...``."""
    return _LINES[r.kind](r, dict(r.config))


def _search_lines(r: Recipe, cfg: dict) -> list[str]:
    explainer, extra = cfg.pop("explainer"), cfg.pop("explainer_config", {})
    return [f"explanation = sem_core.explanation_function(model, {explainer!r}, **{extra!r})",
            f"search = sem_core.create_search({r.name!r}, explanation, seed={r.seed}, **{cfg!r})",
            "result = search(x)"]


_LINES = {
    "attack": lambda r, cfg: [f"attack = sem_core.create_attack(model, {r.name!r}, **{cfg!r})",
                              f"result = attack(x, y, target=target, seed={r.seed})"],
    "explain": lambda r, cfg: [f"explainer = sem_core.create_explainer(model, {r.name!r}, **{cfg!r})",
                               "result = explainer(x, y)"],
    "lipschitz": _search_lines,
    "lipschitz_protocol": lambda r, cfg: [
        "from sem_core.lipschitz import lipschitz_of",
        f"result = lipschitz_of(model, {cfg['explainer']!r}, x, budget={cfg['budget']}, seed={r.seed}, "
        f"protocol={r.name!r}, source={cfg.get('source', 'subset')!r})"],
}


def _images_line(var: str, spec: dict[str, Any] | None) -> str:
    if spec is None:
        return f"{var} = None"
    if "test" in spec:
        return f"{var} = test_x[{spec['test']!r}]   # test digits of the model's data source, by index"
    return f"{var} = decode_images({json.dumps(spec)}, test_x)   # an uploaded or drawn digit (exact bytes)"


def snippet(recipe: Recipe) -> str:
    """A stand-alone Python script that recomputes ``recipe`` and prints its numbers (compare with ``expected``)."""
    r = recipe
    lines = [f"# {r.title}: recompute this result (SEM Explorer, {_dt.date.today().isoformat()})",
             "import torch", "", "import sem_core",
             "from sem_core.serve.reproduce import decode_images, fingerprint", "",
             f"model, card = sem_core.load_model_with_card({r.model!r}, 'cpu')",
             f"assert card['sha256'] == {r.model_sha256!r}, 'other weights than the result was computed with'",
             f"test_x = sem_core.load_split('test', {r.source!r}).images",
             _images_line("x", r.x),
             f"y = {'None' if r.y is None else f'torch.tensor({r.y!r})'}",
             _images_line("target", r.target),
             *_call_lines(r),
             "print(fingerprint(result))",
             f"# recorded in the app: {json.dumps(r.expected)}"]
    return "\n".join(lines) + "\n"


def session_script(recipes: list[Recipe]) -> str:
    """One script that recomputes every result of a session and checks its numbers (exit status 1 on a mismatch)."""
    data = json.dumps([asdict(r) for r in recipes], indent=1, sort_keys=True)
    return f'''"""SEM Explorer session export ({_dt.datetime.now().isoformat(timespec="seconds")}): {len(recipes)} result(s).

Run it where sem_core is importable (the project's checkout and environment): it recomputes every result with the
same model weights (checked by SHA-256), digits, settings and seed, on the CPU, and compares the numbers with the
ones recorded in the app (relative tolerance {RTOL:g}). Exit status 0: every result reproduced.
"""
import json
import sys

from sem_core.serve.reproduce import compute, fingerprint, mismatches

RECIPES = json.loads(r"""{data}""")

if not RECIPES:
    print("This session had no results yet: run an attack or an estimate in the app, then export again.")
failed = 0
for i, recipe in enumerate(RECIPES, 1):
    got = fingerprint(compute(recipe))
    bad = mismatches(recipe["expected"], got)
    failed += bool(bad)
    print(f"{{i}}. {{recipe['title']}}: " + ("reproduced" if not bad else "DIFFERS: " + "; ".join(bad[:3])))
sys.exit(1 if failed else 0)
'''
