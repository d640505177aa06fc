"""Plug-ins: how a researcher's own architectures become known to sem_core (docs/models.md, "Your own architecture").

A plug-in is Python code that calls ``register_architecture`` (``sem_core.models.registry``) when it is imported.
It is imported, in this order, from:

1. ``--plugin FILE|MODULE`` on the command line (repeatable), or ``load_plugin(FILE|MODULE)`` from Python;
2. ``$SEM_PLUGINS``: files or module names separated by ``os.pathsep`` (``:`` on Linux and macOS);
3. the entry-point group ``sem_explorer.models`` of installed packages (``pyproject.toml``:
   ``[project.entry-points."sem_explorer.models"]``, ``small = "my_pkg.models:SmallCNN"``): an entry point
   naming a module is imported; one naming an ``nn.Module`` class is registered under the entry point's name.

A file is imported under its stem as the module name (``my_models.py`` → ``my_models``), so its classes are
``my_models:SmallCNN`` on the cards. Each plug-in is imported once per process. Any error while importing one is
a ``PluginError`` of one line that names the file (or module, or entry point).

A checkpoint card never imports anything: a card whose architecture no plug-in registered is refused with the
name of what is missing (``sem_core.models.checkpoint.read_card``).

Example:
    load_plugin("my_models.py")                   # runs register_architecture(SmallCNN) inside it
    model = load_model("runs/small.json")         # a card saved with save_checkpoint(SmallCNN(...), "runs", ...)
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from importlib import metadata
from pathlib import Path
from types import ModuleType

import torch.nn as nn

from ..errors import SemError
from .registry import register_architecture

ENTRY_POINT_GROUP = "sem_explorer.models"
PLUGINS_ENV = "SEM_PLUGINS"

_LOADED: dict[str, ModuleType | type] = {}   # what was imported: resolved file path, module name or entry point
_STATE = {"entry_points_scanned": False}
_LOCK = threading.RLock()   # the app's sessions are threads: a plug-in is imported (and registers) once


class PluginError(SemError):
    """A plug-in could not be imported (missing file, syntax error, an exception in its code...)."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_file(spec: str) -> bool:
    """A file path (``x.py``, ``dir/x``) rather than a module name (``my_pkg.models``)."""
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def load_plugin(spec: str | os.PathLike) -> ModuleType:
    """Import one plug-in: a ``.py`` file by its path, or an importable module by its dotted name; returns the
    module. Idempotent (a plug-in already imported is not run again). Raises ``PluginError`` (one line)."""
    text = str(spec).strip()
    if not text:
        raise PluginError("plug-in: empty name (give a .py file or a module name)")
    with _LOCK:
        return _load_file(Path(text)) if _is_file(text) else _load_module(text)


def _load_module(name: str) -> ModuleType:
    if name in _LOADED:
        return _LOADED[name]
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # the plug-in's own code may raise anything: one line that names it
        raise PluginError(f"plug-in module '{name[:100]}' failed to import: {_one_line(exc)}") from None
    _LOADED[name] = module
    return module


def _load_file(path: Path) -> ModuleType:
    """Import ``path`` as the module named by its stem (registered in ``sys.modules``)."""
    if not path.is_file():
        raise PluginError(f"plug-in {path}: file not found (give the .py file that registers the architecture)")
    resolved = path.resolve()
    if str(resolved) in _LOADED:
        return _LOADED[str(resolved)]
    name = path.stem
    if not name.isidentifier():
        raise PluginError(f"plug-in {path}: the file name must be a Python module name (letters, digits, _)")
    existing = sys.modules.get(name)
    if existing is not None:
        if Path(getattr(existing, "__file__", None) or "").resolve() != resolved:
            raise PluginError(f"plug-in {path}: a module named '{name}' is already imported "
                              f"(from {getattr(existing, '__file__', None) or 'built-in'}); rename the plug-in file")
        _LOADED[str(resolved)] = existing
        return existing
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, resolved))
    sys.modules[name] = module
    try:
        module.__spec__.loader.exec_module(module)
    except Exception as exc:  # a syntax error, a failed import, an exception in the plug-in's code: one line
        del sys.modules[name]
        raise PluginError(f"plug-in {path} failed to import: {_one_line(exc)}") from None
    _LOADED[str(resolved)] = module
    return module


def env_plugins() -> list[str]:
    """The plug-ins named by ``$SEM_PLUGINS`` (files or module names separated by ``os.pathsep``), in order."""
    return [s.strip() for s in os.environ.get(PLUGINS_ENV, "").split(os.pathsep) if s.strip()]


def load_entry_points() -> list[str]:
    """Import the plug-ins of the installed packages' entry-point group ``sem_explorer.models``; returns their
    names. An entry point naming an ``nn.Module`` class registers it under the entry point's name."""
    names = []
    with _LOCK:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            key = f"entry point {ep.name} = {ep.value}"
            if key not in _LOADED:
                _LOADED[key] = _load_entry_point(ep)
            names.append(ep.name)
        _STATE["entry_points_scanned"] = True
    return names


def _load_entry_point(ep: metadata.EntryPoint) -> ModuleType | type:
    where = f"plug-in entry point '{ep.name} = {ep.value}' (group {ENTRY_POINT_GROUP})"
    try:
        obj = ep.load()
    except Exception as exc:  # the installed package's code may raise anything: one line that names it
        raise PluginError(f"{where} failed to import: {_one_line(exc)}") from None
    if isinstance(obj, type) and issubclass(obj, nn.Module):
        try:
            return register_architecture(obj, ep.name)
        except ValueError as exc:
            raise PluginError(f"{where}: {exc}") from None
    if not isinstance(obj, ModuleType):
        raise PluginError(f"{where} must name a module or an nn.Module class, got {type(obj).__name__}")
    return obj


def load_plugins(specs: list[str] | tuple[str, ...] = ()) -> None:
    """Import ``specs`` (the ``--plugin`` values), then ``$SEM_PLUGINS``, then the entry points (each once)."""
    for spec in (*specs, *env_plugins()):
        load_plugin(spec)
    load_entry_points()


def ensure_plugins() -> None:
    """The configured plug-ins are imported: ``$SEM_PLUGINS`` (read at every call), and the entry points (scanned
    once per process). Called before a model is listed or loaded by name or card."""
    for spec in env_plugins():
        load_plugin(spec)
    if not _STATE["entry_points_scanned"]:
        load_entry_points()
