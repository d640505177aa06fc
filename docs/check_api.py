"""Fail when a public name of ``sem_core`` has no docstring; with ``--build DIR``, then write the API reference.

    python docs/check_api.py                                  # the check (exit 1 names each public name without one)
    python -W error docs/check_api.py --build build/docs      # the check, then the HTML reference (``make docs``)

The reference (pdoc, https://pdoc.dev) documents every module of ``sem_core`` whose dotted name has no part that
starts with ``_`` (so not ``sem_core.__main__``, the entry point). The check reads the same pdoc model the HTML is
rendered from, so "public" means what the reference shows:

- a module: its docstring;
- in a module with ``__all__``: every name listed there (a listed name that does not exist is an error too); in a
  module without: every function and class defined there whose name does not start with ``_``;
- in a public class: every method and property whose name does not start with ``_``. A method that overrides a
  documented one inherits its docstring (``inspect.getdoc``), as in the reference.

Variables (constants, registries, dataclass fields, class attributes) are not checked: Python gives them no
``__doc__``; their meaning belongs in the docstring of their module or class.

``KNOWN_MISSING`` lists names allowed to lack a docstring (none today). The check fails on any name not listed,
and on a listed name that now has a docstring or is gone, so the list only shrinks.
"""
from __future__ import annotations

import argparse
import inspect
import pkgutil
import re
import sys
import time
import warnings
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "sem_core"
DOCFORMAT = "google"  # docstrings use reST ``code`` and Google-style "Args:" / "Example:" sections

KNOWN_MISSING: frozenset[str] = frozenset()

# pdoc warnings that are known and not errors (message prefixes): each names its cause
KNOWN_WARNINGS: tuple[str, ...] = ()


def documented_modules() -> list[str]:
    """Every module of ``sem_core`` the reference documents, packages before their modules."""
    import sem_core

    names = [PACKAGE] + [m.name for m in pkgutil.walk_packages(sem_core.__path__, f"{PACKAGE}.")]
    return sorted(n for n in names if not any(part.startswith("_") for part in n.split(".")))


def _submodule(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _is_property(cls: type, name: str) -> bool:
    return isinstance(inspect.getattr_static(cls, name, None), (property, cached_property))


def missing_docstrings() -> list[str]:
    """Full names of the public modules, functions, classes, methods and properties without a docstring."""
    import pdoc.doc

    missing = []
    for modname in documented_modules():
        module = pdoc.doc.Module.from_name(modname)
        if not module.docstring.strip():
            missing.append(modname)
        listed = getattr(module.obj, "__all__", None)
        if listed is not None:
            missing += [f"{modname}.{n}" for n in listed
                        if not hasattr(module.obj, n) and not _submodule(f"{modname}.{n}")]
        for member in module.members.values():
            if member.taken_from[0] != modname:
                continue  # imported here: checked in the module that defines it
            if (member.name not in listed) if listed is not None else member.name.startswith("_"):
                continue
            if member.kind not in ("function", "class"):
                continue  # a variable
            if not member.docstring.strip():
                missing.append(member.fullname)
            if member.kind != "class":
                continue
            for attr in member.own_members:
                if attr.name.startswith("_") or not (attr.kind == "function" or _is_property(member.obj, attr.name)):
                    continue
                if not attr.docstring.strip():
                    missing.append(attr.fullname)
    return sorted(set(missing))


def check() -> int:
    """Print what fails and return the exit code (0: every public name has a docstring, or is a known one)."""
    missing = set(missing_docstrings())
    new, fixed = sorted(missing - KNOWN_MISSING), sorted(KNOWN_MISSING - missing)
    for name in new:
        print(f"check_api: no docstring: {name}", file=sys.stderr)
    for name in fixed:
        print(f"check_api: {name} now has a docstring (or is gone): remove it from KNOWN_MISSING in "
              f"docs/check_api.py", file=sys.stderr)
    known = len(missing & KNOWN_MISSING)
    print(f"check_api: {len(documented_modules())} modules; {len(new)} public names without a docstring"
          f"{f' (and {known} known ones, listed in KNOWN_MISSING)' if known else ''}", file=sys.stderr)
    return 1 if new or fixed else 0


def build(out: Path) -> None:
    """Write the HTML reference into ``out`` (replaced). Under ``python -W error``, every warning is an error."""
    import shutil

    import pdoc
    import pdoc.extract
    import pdoc.render

    specs, covered = [], set()
    for name in documented_modules():  # pdoc walks a package's submodules itself unless its __all__ hides them
        if name not in covered:
            specs.append(name)
            covered.update(pdoc.extract.walk_specs([name]))
    pdoc.render.configure(docformat=DOCFORMAT, footer_text="SEM Explorer: sem_core", search=True, show_source=True)
    if out.exists():
        shutil.rmtree(out)
    pdoc.pdoc(*specs, output_directory=out)


def main(argv: list[str] | None = None) -> int:
    """``python docs/check_api.py [--build DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--build", type=Path, metavar="DIR", help="after the check, write the HTML reference here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    for full in KNOWN_MISSING:  # pdoc warns about a name in __all__ that does not exist: known, so not an error
        mod, _, name = full.rpartition(".")
        warnings.filterwarnings("ignore", category=UserWarning,
                                message=re.escape(f"Found '{name}' in {mod}.__all__, but it does not resolve"))
    for message in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(message), category=UserWarning)
    start = time.perf_counter()
    status = check()
    if status == 0 and args.build is not None:
        build(args.build)
        pages = sum(1 for _ in args.build.rglob("*.html"))
        print(f"check_api: API reference: {args.build}/index.html ({pages} pages, "
              f"{time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
