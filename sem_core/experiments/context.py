"""What an experiment's chunks share (``Context``) and the JSON form of their results (``jsonable``): the runner and
the executors both need them, so they live below both."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass
class Context:
    """What chunks share: models (name -> (model, card)), the test split, device, params."""

    params: dict[str, Any]
    device: torch.device
    models: dict[str, tuple[Any, dict]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None

    def model(self, name: str):
        """The loaded model ``name`` (one of the experiment's ``models``)."""
        return self.models[name][0]

    def test_split(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(images [N,1,28,28] in [0,1], labels [N]) of the test split."""
        x, y, _ = self.data["test"]
        return x, y

    def pick(self, *keys: str) -> dict[str, Any]:
        """The parameters ``keys`` as keyword arguments: ``f(**ctx.pick("eps", "seed"))``."""
        return {k: self.params[k] for k in keys}


def jsonable(v: Any) -> Any:
    """``v`` with every tensor as nested lists (dicts, lists and tuples walked): what ``json.dumps`` takes."""
    if isinstance(v, torch.Tensor):
        return v.tolist()
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v
