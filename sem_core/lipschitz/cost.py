"""The measured cost table of the Lipschitz searches: the time estimates' prior (``sem_core.serve.estimates``).

``assets/lipschitz_costs.json`` is written by ``benchmarks/bench_lipschitz_cost.py --write``: wall
seconds of ``local_lipschitz`` per digit and per budget unit, per model and explainer, on a named
machine.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COSTS_PATH = Path(__file__).resolve().parents[2] / "assets" / "lipschitz_costs.json"


def load_costs(path: str | Path = COSTS_PATH) -> dict[str, Any]:
    """The cost table, or an empty one when the file is missing or unreadable."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {"seconds_per_call": {}, "measured_on": {}}
    if not isinstance(record.get("seconds_per_call"), dict):
        return {"seconds_per_call": {}, "measured_on": {}}
    return record
