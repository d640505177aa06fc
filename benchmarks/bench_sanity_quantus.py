"""Our cascading sanity check against Quantus' MPRT (Model Parameter Randomisation Test, Adebayo et al. 2018).

Quantus is not a dependency: install it apart and point ``QUANTUS_PATH`` at it (default ``/tmp/quantus_pkgs``):

    .venv/bin/python -m pip install --target /tmp/quantus_pkgs quantus==0.6.0 opencv-python-headless cachetools --no-deps
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sanity_quantus.py [--quick] [--out FILE.json]

On the shipped CNN, the same test digits (``pick_digits``, 20; 4 with ``--quick``) and the class the CNN predicts,
for saliency and grad×input (our explainers, handed to Quantus as its ``explain_func``), two comparisons:

1. **Same weights**: Quantus' MPRT is given our randomised models (its layer generator replaced by
   ``randomised_models``), so only the similarity computation differs: its ``abs`` + ``normalise_by_max`` +
   ``correlation_spearman`` (scipy) against our Spearman of |map|. Ranks do not change under division by the
   maximum, so the two must agree to float rounding: tolerance 1e-4 per digit and layer.
2. **Each its own re-initialisation**: Quantus' own generator (each module's ``reset_parameters`` after
   ``torch.manual_seed(42 + 1)``, modules with ``reset_parameters`` in registration order, reversed) against ours
   (``layer_seed``). The weights differ, so only the per-layer medians' trend can agree: tolerance = 2 × the spread
   (max − min) of our own per-layer medians over seeds 0-4, at least 0.05.
Prints "skipped: …" and exits 0 when Quantus cannot be imported.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sem_core import explain, load_model, load_split  # noqa: E402
from sem_core.experiments.sampling import pick_digits  # noqa: E402
from sem_core.explain.sanity import randomisation_check, randomised_models  # noqa: E402

EXPLAINERS = ("saliency", "gradxinput")


def load_quantus():
    """The quantus module from ``QUANTUS_PATH`` (default /tmp/quantus_pkgs), or None."""
    path = os.environ.get("QUANTUS_PATH", "/tmp/quantus_pkgs")
    if path not in sys.path:
        sys.path.append(path)
    try:
        import quantus
    except ImportError:
        return None
    return quantus


def quantus_explain(model, inputs, targets, method: str, **_):
    """Quantus' ``explain_func``: our explainer ``method`` on numpy batches."""
    maps = explain(model, method, torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(targets).long())
    return maps.numpy()


def quantus_mprt(quantus, model, x, y, method: str, layers: list[str] | None) -> dict[str, list[float]]:
    """Quantus' MPRT scores per layer (per digit); ``layers``: use our randomised models for these module names."""
    from quantus.helpers.model.pytorch_model import PyTorchModel

    original = PyTorchModel.get_random_layer_generator, PyTorchModel.random_layer_generator_length
    if layers is not None:
        PyTorchModel.get_random_layer_generator = (
            lambda self, order="top_down", seed=42: randomised_models(self.model, layers, mode="cascading", seed=0))
        PyTorchModel.random_layer_generator_length = property(lambda self: len(layers))
    try:
        metric = quantus.MPRT(layer_order="top_down", disable_warnings=True, abs=True, normalise=True)
        scores = metric(model=model, x_batch=x.numpy(), y_batch=y.numpy(), a_batch=None, device="cpu",
                        explain_func=quantus_explain, explain_func_kwargs={"method": method})
    finally:
        PyTorchModel.get_random_layer_generator, PyTorchModel.random_layer_generator_length = original
    return {k: [float(v) for v in vals] for k, vals in scores.items() if k != "original"}


def main(argv: list[str] | None = None) -> int:
    """Run both comparisons, print them, optionally write them as JSON; exit 1 when a tolerance is exceeded."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="4 digits (the seed spread still over 5 seeds)")
    p.add_argument("--out", help="write the numbers as JSON here")
    a = p.parse_args(argv)
    quantus = load_quantus()
    if quantus is None:
        print("skipped: quantus is not importable (install it apart, see the docstring; set QUANTUS_PATH)")
        return 0
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    n, seeds = (4 if a.quick else 20), 5   # the tolerance needs the spread of as many seeds at any size
    cnn = load_model("cnn", "cpu")
    x_all, y_all, _ = load_split("test", "subset")
    x = x_all[pick_digits(y_all, n)]
    with torch.no_grad():
        y = cnn(x).argmax(1)
    ours = {s: randomisation_check(cnn, x, y, explainers=EXPLAINERS, seed=s) for s in range(seeds)}
    names = [label.split(" (")[0] for label in ours[0].layers]
    report, ok = {"digits": n, "layers": names, "explainers": {}}, True
    print(f"Quantus {quantus.__version__} MPRT vs sem_core randomisation_check, CNN, {n} digits, cascading")
    for e in EXPLAINERS:
        mine = ours[0].similarity[e]["spearman_abs"][:, 1:].numpy()                         # [n, L]
        same = quantus_mprt(quantus, cnn, x, y, e, names)
        same_arr = np.array([same[k] for k in names]).T
        diff_same = float(np.nanmax(np.abs(same_arr - mine)))
        own = quantus_mprt(quantus, cnn, x, y, e, None)
        own_med = [float(np.median(v)) for v in own.values()]
        our_meds = np.array([np.median(ours[s].similarity[e]["spearman_abs"][:, 1:].numpy(), 0) for s in ours])
        tol_own = max(0.05, 2 * float((our_meds.max(0) - our_meds.min(0)).max()))
        diff_own = float(np.max(np.abs(np.array(own_med) - our_meds[0])))
        ok &= diff_same <= 1e-4 and diff_own <= tol_own
        report["explainers"][e] = {
            "ours_median": our_meds[0].round(4).tolist(), "quantus_same_weights_median":
            np.median(same_arr, 0).round(4).tolist(), "max_abs_diff_same_weights": diff_same,
            "quantus_own_init_layers": list(own), "quantus_own_init_median": np.round(own_med, 4).tolist(),
            "max_abs_diff_own_init": diff_own, "tolerance_own_init": tol_own}
        print(f"\n{e}: median Spearman |map| per layer ({', '.join(names)})")
        print(f"  ours (seed 0)            {' '.join(f'{v:7.4f}' for v in our_meds[0])}")
        print(f"  quantus, our weights     {' '.join(f'{v:7.4f}' for v in np.median(same_arr, 0))}")
        print(f"  quantus, its own init    {' '.join(f'{v:7.4f}' for v in own_med)}")
        print(f"  max |diff| per digit, same weights: {diff_same:.2e} (tolerance 1e-04)")
        print(f"  max |diff| of medians, own inits:   {diff_own:.4f} (tolerance {tol_own:.4f}: 2 x our seed spread)")
    print("\nall within tolerance" if ok else "\nOUTSIDE TOLERANCE")
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
