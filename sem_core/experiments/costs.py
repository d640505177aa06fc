"""Time estimates of experiment runs, from measurements (``benchmarks/bench_experiment_defaults.py --write``).

    estimate_text("faithfulness", params)   # 'estimate: about 4 s (measured: n = 4 with the defaults took 3.1 s on
                                            #  x86_64, 2 cores, Linux, 2026-12-07; scaled linearly in n)'

Only a run with the experiment's default parameters (any n, any seed) gets a number, scaled linearly from the
measured n; for other parameters the text says there is no estimate rather than guessing. The table is read back
from disk, so it is checked: a missing, unreadable or malformed entry gives "no estimate" with the reason.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

COSTS_PATH = Path(__file__).resolve().parents[2] / "assets" / "experiment_costs.json"
LIMIT_S = 300      # issue 28: every experiment at n = 4 with its defaults within 5 minutes here


def measured(name: str, path: Path = COSTS_PATH) -> tuple[dict[str, Any] | None, str]:
    """(the measurement of ``name``, "") or (None, why there is none)."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        entry = table["experiments"][name]
    except FileNotFoundError:
        return None, f"no cost table at {path.name} (benchmarks/bench_experiment_defaults.py --write makes it)"
    except KeyError:
        return None, f"{name} has not been measured (benchmarks/bench_experiment_defaults.py {name} --write)"
    except (OSError, ValueError, TypeError):
        return None, f"the cost table {path.name} is unreadable"
    ok = (isinstance(entry, dict) and isinstance(entry.get("n"), int) and entry["n"] >= 1
          and isinstance(entry.get("seconds"), (int, float)) and math.isfinite(entry["seconds"]) and entry["seconds"] > 0
          and isinstance(entry.get("machine"), str) and isinstance(entry.get("date"), str))
    return (entry, "") if ok else (None, f"the cost table's entry for {name} is malformed")


def estimate_text(name: str, params: dict[str, Any], defaults: dict[str, Any], path: Path = COSTS_PATH) -> str:
    """One line to print before a run of ``name`` with the full parameters ``params``."""
    entry, why = measured(name, path)
    if entry is None:
        return f"estimate: none ({why})"
    differ = sorted(k for k in params if k not in ("n", "seed") and params[k] != defaults.get(k))
    if differ:
        return (f"estimate: none for these parameters (measured with the defaults; this run changes "
                f"{', '.join(differ[:5])})")
    seconds = entry["seconds"] * params["n"] / entry["n"]
    return (f"estimate: about {_duration(seconds)} (measured: n = {entry['n']} with the defaults took "
            f"{entry['seconds']:.1f} s on {entry['machine']}, {entry['date']}; scaled linearly in n; chunks already "
            f"in the folder are reused)")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
