"""The house's layering, computed from the source (AST), imports inside functions included.

- no import circle in ``sem_core`` and ``app_pages``;
- at most 10 modules at the top of ``sem_core`` (the foundation; the rest lives in sub-packages);
- no private name (``_x``) imported from another module;
- ``sem_core`` never imports Streamlit or ``app_pages``;
- the runtime (``sem_core/serve``) dispatches through its job-kind registry: no kind strings, no name special cases,
  the service module ≤ 400 lines and no function over 50 lines.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sem_core", "app_pages")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import statement of the module, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            # ``from . import x`` / ``from .pkg import mod``: the sub-module is the import
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
            out += [(s, [], node.lineno) for s in subs]
            rest = [n for n in names if f"{target}.{n}" not in known]
            if rest or not subs:
                out.append((target, rest, node.lineno))
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    g: dict[str, set[str]] = {}
    for name, path in known.items():
        deps = set()
        for target, _, _ in imports_of(name, path, known):
            while target and target not in known:  # ``sem_core.attacks.base.X`` → the module that holds it
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):  # a package's own __init__ is not a cycle
                deps.add(target)
        g[name] = deps
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "import circles:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_foundation_is_small():
    top = sorted(p.name for p in (ROOT / "sem_core").glob("*.py"))
    assert len(top) <= 10, f"{len(top)} modules at the top of sem_core: {top}"


def test_no_private_names_across_modules():
    known = modules()
    bad = []
    for name, path in known.items():
        for target, names, line in imports_of(name, path, known):
            if target.split(".")[0] not in PACKAGES:
                continue
            bad += [f"{path.relative_to(ROOT)}:{line}: {n} from {target}" for n in names if n.startswith("_")]
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_engine_has_no_ui_imports():
    known = modules()
    bad = [f"{path.relative_to(ROOT)}:{line}: {target}" for name, path in known.items() if name.startswith("sem_core")
           for target, _, line in imports_of(name, path, known)
           if target.split(".")[0] in ("streamlit", "app_pages")]
    assert not bad, "\n".join(bad)


SERVE = ROOT / "sem_core" / "serve"


@pytest.mark.skipif(not SERVE.is_dir(), reason="no sem_core/serve yet")
def test_serve_dispatches_through_its_registry():
    bad = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in sorted(SERVE.rglob("*.py"))
           for i, line in enumerate(p.read_text().splitlines(), 1)
           if re.search(r'kind ==|startswith\("influence|DETERMINISTIC', line)]
    assert not bad, "\n".join(bad)
    lines = len((SERVE / "service.py").read_text().splitlines())
    assert lines <= 400, f"sem_core/serve/service.py has {lines} lines"


@pytest.mark.skipif(not SERVE.is_dir(), reason="no sem_core/serve yet")
def test_serve_functions_are_short():
    long = []
    for p in sorted(SERVE.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 50:
                    long.append(f"{p.relative_to(ROOT)}:{node.lineno}: {node.name} ({n} lines)")
    assert not long, "\n".join(long)
