"""How long a batch of Lipschitz estimates will take, from a measured cost table.

``assets/lipschitz_costs.json`` is written by ``benchmarks/bench_lipschitz_cost.py --write``: wall
seconds of ``local_lipschitz`` per digit and per budget unit, per model and explainer, on a named
machine. The estimate scales those by n × budget; explainers the table lacks are listed as unknown
instead of being guessed.

Example:
    >>> est = estimate_seconds("cnn", ["saliency", "lime"], n=5, budget=20)
    >>> est.seconds, est.unknown, est.measured_on["device"]
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

COSTS_PATH = Path(__file__).resolve().parents[2] / "assets" / "lipschitz_costs.json"


@dataclass(frozen=True)
class CostEstimate:
    """``seconds`` covers the explainers in the table; ``unknown`` names the others."""

    seconds: float
    unknown: list[str] = field(default_factory=list)
    measured_on: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One sentence for users: the estimate, what it leaves out, and where the costs were measured."""
        if not self.measured_on or (self.unknown and self.seconds == 0):
            return ("No measured cost for " + (", ".join(self.unknown) or "these explainers")
                    + " (run benchmarks/bench_lipschitz_cost.py --write); LIME, SHAP, occlusion and IG cost the most.")
        m = self.measured_on
        text = f"Estimated time: about {self.seconds:.0f} s" if self.seconds >= 1 else "Estimated time: under a second"
        if self.unknown:
            text += f", not counting {', '.join(self.unknown)} (no measured cost)"
        return (text + f"; per-call costs measured on {m.get('device', '?')} with {m.get('torch_threads', '?')} "
                f"threads on {m.get('date', '?')} (benchmarks/bench_lipschitz_cost.py), so a loaded machine is slower.")


def load_costs(path: str | Path = COSTS_PATH) -> dict[str, Any]:
    """The cost table, or an empty one when the file is missing or unreadable."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {"seconds_per_call": {}, "measured_on": {}}
    if not isinstance(record.get("seconds_per_call"), dict):
        return {"seconds_per_call": {}, "measured_on": {}}
    return record


def estimate_seconds(model: str, explainers: Sequence[str], n: int, budget: int,
                     path: str | Path = COSTS_PATH) -> CostEstimate:
    """Seconds for ``n`` digits × ``budget`` calls of each explainer on ``model`` (a shipped model name)."""
    record = load_costs(path)
    per_call = record["seconds_per_call"].get(model, {})
    known = [e for e in explainers if isinstance(per_call.get(e), (int, float))]
    seconds = sum(float(per_call[e]) for e in known) * n * budget
    return CostEstimate(seconds, [e for e in explainers if e not in known], record.get("measured_on", {}))
