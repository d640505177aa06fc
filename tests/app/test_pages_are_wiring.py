"""Pages are wiring (issue 26): widgets → one service job → figures. Read from the source (AST), imports inside
functions included, for app.py and every module of app_pages/ (the pages and their helpers in app_pages/ui/):

- no page imports torch: tensors flow through a page as values, the arithmetic on them lives in sem_core;
- no page reaches an algorithm: nothing from ``sem_core.attacks``, ``sem_core.explain`` or ``sem_core.lipschitz``
  (menus come from ``sem_core.viz.menus``), and no import or call of an entry point that runs one
  (``attack``, ``explain``, ``explain_all``, ``run_experiment``, ``create_*``, ``local_lipschitz``, …): what a page
  shows comes from a service job (cached, batched, cancellable) or a small helper of sem_core;
- every page and helper module is under 250 lines.

The checker is tested on planted sources first, so a checker that finds nothing cannot pass unnoticed.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = [ROOT / "app.py", *sorted((ROOT / "app_pages").rglob("*.py"))]
MAX_LINES = 250

FORBIDDEN_MODULES = ("torch", "sem_core.attacks", "sem_core.explain", "sem_core.lipschitz")
# what runs an algorithm, wherever it is imported from (sem_core re-exports several at its top)
ENTRY_POINTS = {"attack", "explain", "explain_all", "run_experiment", "compare_models", "local_lipschitz",
                "lipschitz_of", "lipschitz_by_explainer", "protocol_lipschitz", "explanation_function",
                "senn_distances", "protodl_distances"}


def is_entry_point(name: str) -> bool:
    return name in ENTRY_POINTS or name.startswith("create_")


def forbidden_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in FORBIDDEN_MODULES)


def dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None for anything else (a call's result, a subscript)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def violations(source: str, package: str = "app_pages") -> list[str]:
    """Every forbidden import, attribute use and call of ``source`` (a module of ``package``), as "line: what"."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}     # local name -> the module or object it stands for
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                bound[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                if forbidden_module(a.name):
                    found.append(f"{node.lineno}: import {a.name}")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            for a in node.names:
                full = f"{base}.{a.name}"
                bound[a.asname or a.name] = full
                if forbidden_module(base) or forbidden_module(full):
                    found.append(f"{node.lineno}: from {base} import {a.name}")
                elif base.split(".")[0] == "sem_core" and is_entry_point(a.name):
                    found.append(f"{node.lineno}: from {base} import {a.name} (runs an algorithm)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (parts := dotted(node)) and parts[0] in bound:
            full = ".".join([bound[parts[0]], *parts[1:]])
            if forbidden_module(full):
                found.append(f"{node.lineno}: {'.'.join(parts)} ({full})")
        if isinstance(node, ast.Call) and (parts := dotted(node.func)):
            if is_entry_point(parts[-1]):
                found.append(f"{node.lineno}: call of {'.'.join(parts)}()")
    return sorted(set(found), key=lambda v: int(v.split(":")[0]))


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).parent.parts) or "app_pages"


# ------------------------------------------------------------------------------- the checker itself
@pytest.mark.parametrize("source, expected", [
    ("import torch", "import torch"),
    ("import torch.nn as nn", "import torch.nn"),
    ("from torch import nn", "from torch import nn"),
    ("def f():\n    import torch\n    return torch.zeros(1)", "2: import torch"),
    ("from sem_core.attacks import ATTACKS", "from sem_core.attacks import ATTACKS"),
    ("from sem_core.attacks.compare import Comparison", "from sem_core.attacks.compare import Comparison"),
    ("from sem_core.explain import explain_all", "from sem_core.explain import explain_all"),
    ("from sem_core import lipschitz", "from sem_core import lipschitz"),
    ("from sem_core.lipschitz.core import SELF", "from sem_core.lipschitz.core import SELF"),
    ("from sem_core.experiments import run_experiment", "import run_experiment (runs an algorithm)"),
    ("from sem_core import create_attack", "import create_attack (runs an algorithm)"),
    ("from sem_core import attack as go", "import attack (runs an algorithm)"),
    ("import sem_core\nsem_core.explain(m, x, 'ig')", "call of sem_core.explain()"),
    ("import sem_core\ng = sem_core.attacks.ATTACKS", "sem_core.attacks.ATTACKS (sem_core.attacks.ATTACKS)"),
    ("import sem_core as sc\nsc.create_explainer('ig', m)", "call of sc.create_explainer()"),
    ("from sem_core import experiments\nexperiments.run_experiment('x', 'out')", "call of experiments.run_experiment()"),
    ("def show():\n    res = attack(model, 'saliency_topk', x)", "2: call of attack()"),
    ("from .. import explain", "from sem_core import explain"),   # relative, as if in a module of sem_core.viz
])
def test_the_checker_finds_a_planted_violation(source, expected):
    package = "sem_core.viz" if source.startswith("from ..") else "app_pages"
    found = violations(source, package)
    assert any(expected in v for v in found), found


def test_the_checker_lets_wiring_pass():
    wiring = """
import streamlit as st
from app_pages.ui.jobs import run_job
from sem_core import list_shipped, SemError
from sem_core.serve.views import explain_jobs, saliency_job
from sem_core.viz.menus import attack_choices
from sem_core.experiments.launch import run_in_folder

res, times = run_job(saliency_job("cnn", "saliency_topk", x, 3, method="saliency", eps=0.1, steps=50, k=50))
grid = res.x[0, 0].numpy()
mask = res.x.new_zeros(28, 28)
"""
    assert violations(wiring) == []


# ------------------------------------------------------------------------------- the pages
@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_is_wiring(path):
    found = violations(path.read_text(encoding="utf-8"), package_of(path))
    assert not found, f"{path.relative_to(ROOT)} computes instead of wiring:\n" + "\n".join(found)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_is_short(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (split it by concern)"


def test_the_pages_were_found():
    names = {p.relative_to(ROOT).as_posix() for p in MODULES}
    assert {"app.py", "app_pages/home.py", "app_pages/saliency_attack.py", "app_pages/ui/jobs.py"} <= names
    assert "app_pages/common.py" not in names, "the helpers live in app_pages/ui/, split by concern"
