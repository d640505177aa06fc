"""Dataset-level runs shared by the CLI and the app (paper 000 Fig. 2/3, paper 003, papers 001/002).

One module per experiment, named after it (``senn_distances``, ``protodl_distances``, ``protodl_table``,
``faithfulness``, ``saliency_fragility``, ``lipschitz_stability``, ``senn_lambda``); importing this package
registers them all. ``run_experiment(name, out, n=...)`` runs one of ``list_experiments()`` resumably into a
folder (its chunks computed by one of ``list_executors()``: in-process or Ray tasks); ``write_report(results)``
turns saved folders into docs/RESULTS.md.
"""
from . import defenses, faithfulness, lipschitz_stability, protodl_table, saliency_fragility, senn_lambda  # noqa: F401
from . import influence_fragility  # noqa: F401
from .executors import EXECUTORS, create_executor, list_executors
from . import discrete_lipschitz, noise_stability, saliency_region  # noqa: F401  (issue 12)
from . import card  # noqa: F401  (issue 31: the robustness card)
from .protodl_distances import ProtoDistancesResult, protodl_distances, protodl_summary
from .report import compute_seconds, find_manifests, write_report
from .runner import EXPERIMENTS, completed_run, list_experiments, load_results, run_experiment
from .sampling import pick_digits
from .senn_distances import SennDistancesResult, senn_distances, senn_summary

__all__ = ["ProtoDistancesResult", "protodl_distances", "protodl_summary", "pick_digits", "SennDistancesResult",
           "senn_distances", "senn_summary", "EXPERIMENTS", "completed_run", "list_experiments", "load_results", "run_experiment",
           "find_manifests", "write_report", "compute_seconds", "EXECUTORS", "create_executor", "list_executors"]
