"""Dataset-level runs shared by the CLI and the app (paper 000 Fig. 2/3, paper 003, papers 001/002).

``run_experiment(name, out, n=...)`` runs one of ``list_experiments()`` resumably into a folder;
``write_report(results)`` turns saved folders into docs/RESULTS.md.
"""
from . import exp_posthoc, exp_sem  # noqa: F401  (registers the experiments)
from .protodl_distances import ProtoDistancesResult, protodl_distances
from .report import compute_seconds, find_manifests, write_report
from .runner import EXPERIMENTS, list_experiments, load_results, run_experiment
from .sampling import pick_digits
from .senn_distances import SennDistancesResult, senn_distances

__all__ = ["ProtoDistancesResult", "protodl_distances", "pick_digits", "SennDistancesResult", "senn_distances",
           "EXPERIMENTS", "list_experiments", "load_results", "run_experiment", "find_manifests", "write_report",
           "compute_seconds"]
