"""Provenance for every exported result: which digits, which model (name and weights' SHA-256), which
attack configuration, which seed and which version of sem_core produced it.

A JSON export carries it under the ``"provenance"`` key; an NPZ export as the ``provenance`` array (one
JSON string), so a figure in a slide or a paper can be traced back and recomputed.

Example:
    prov = provenance("senn", card, digits=[12, 40], source="subset", attack="senn_concept", config=res.config, seed=0)
    json.dumps({**res.to_dict(), "provenance": prov})
"""
from __future__ import annotations

import json
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

PROVENANCE_KEYS = ("digits", "data_source", "model", "model_sha256", "attack", "config", "seed", "sem_core_version")


def sem_core_version() -> str:
    """The installed distribution's version, else the one in the checkout's pyproject.toml."""
    try:
        return metadata.version("sem-explorer")
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def _plain(v: Any) -> Any:
    """JSON-able copy of a config value (tensors and numpy scalars become lists/numbers)."""
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def provenance(model: str, card: Mapping[str, Any], *, digits: Mapping[str, Sequence[int] | None] | Sequence[int] | None,
               source: str, attack: str, config: Mapping[str, Any], seed: int = 0) -> dict[str, Any]:
    """The provenance record of one result.

    Args:
        model: the model's shipped name ("senn-adv"); card: its checkpoint card (``load_model_with_card``),
            which gives the weights' SHA-256 and the architecture.
        digits: test-split indices of the digits used, either a list or a mapping role -> indices
            (``{"source": [12], "target": [40]}``); None (or a None role) for drawn/uploaded digits.
        source: the data source of those indices ("subset" or "mnist", the model's test split).
        attack: the attack or estimate's registered name; config: its constructor arguments.
        seed: the random seed of the run.
    """
    return {"digits": _plain(digits), "data_source": source, "model": model, "architecture": card.get("model"),
            "model_sha256": card.get("sha256"), "attack": attack, "config": _plain(dict(config)), "seed": int(seed),
            "sem_core_version": sem_core_version()}


def with_provenance(payload: Mapping[str, Any], prov: Mapping[str, Any]) -> bytes:
    """``payload`` plus ``{"provenance": prov}`` as indented JSON bytes (a download's content)."""
    return json.dumps({**_plain(dict(payload)), "provenance": dict(prov)}, indent=1).encode()
