"""Rows of batched results: cut one image's result out of a batch, and join results back together.

The attack service runs many sessions' digits in one batched call and hands each its own rows;
a result's tensors carry the batch in dim 0 except the per-step histories (``objective``
[S+1,B], ``history`` [R,B]: dim 1) and per-model constants (``prototype_classes`` [m]).

    one = batch_rows(res, 3, 4)          # image 3 of an AttackResult, copied (no view of the batch)
    res2 = batch_cat([one, other])       # a 2-image AttackResult
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

STEP_DIM_FIELDS = frozenset({"objective", "history"})   # [steps, B]
CONSTANT_FIELDS = frozenset({"prototype_classes", "config"})  # the same for every image


def _dim(name: str, t: torch.Tensor) -> int | None:
    if name in CONSTANT_FIELDS or t.ndim == 0:
        return None
    return 1 if name in STEP_DIM_FIELDS else 0


def batch_rows(obj: Any, start: int, stop: int, name: str = "") -> Any:
    """Rows ``start:stop`` of every batched tensor inside ``obj`` (tensors, dicts, lists, dataclasses), as copies."""
    if isinstance(obj, torch.Tensor):
        dim = _dim(name, obj)
        return obj if dim is None else obj.narrow(dim, start, stop - start).clone()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: batch_rows(getattr(obj, f.name), start, stop, f.name)
                                           for f in dataclasses.fields(obj) if f.init})
    if isinstance(obj, dict):
        return obj if name in CONSTANT_FIELDS else {k: batch_rows(v, start, stop, k) for k, v in obj.items()}
    if isinstance(obj, list):  # replay frames: one entry per step, each batched
        return [batch_rows(v, start, stop, name) for v in obj]
    return obj


def batch_cat(parts: list[Any], name: str = "") -> Any:
    """The inverse of ``batch_rows``: the parts joined along their batch dimension."""
    first = parts[0]
    if len(parts) == 1:
        return first
    if isinstance(first, torch.Tensor):
        dim = _dim(name, first)
        return first if dim is None else torch.cat(parts, dim)
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        return dataclasses.replace(first, **{f.name: batch_cat([getattr(p, f.name) for p in parts], f.name)
                                             for f in dataclasses.fields(first) if f.init})
    if isinstance(first, dict):
        return first if name in CONSTANT_FIELDS else {k: batch_cat([p[k] for p in parts], k) for k in first}
    if isinstance(first, list):
        return [batch_cat(list(items), name) for items in zip(*parts)]
    return first
