"""Per-explainer Lipschitz loop and the measured cost table behind the page's time estimate."""
from __future__ import annotations

import json

import torch

from sem_core.explain import list_explainers
from sem_core.lipschitz import (explanation_function, lipschitz_by_explainer,
                                list_lipschitz_explainers, local_lipschitz)
from sem_core.lipschitz.cost import COSTS_PATH


def test_lipschitz_by_explainer_equals_the_single_estimates_and_skips_what_the_model_cannot_use(shipped, test_split):
    senn = shipped["senn"][0]
    x = test_split[0][:3]
    progress = []
    out = lipschitz_by_explainer(senn, ["self", "saliency", "lrp"], x, eps=0.1, budget=6,
                                 on_step=lambda done, total: progress.append((done, total)))
    assert list(out.results) == ["self", "saliency"]
    assert set(out.skipped) == {"lrp"} and "no rule" in out.skipped["lrp"]  # LRP has no rule for SENN's layers
    for name, res in out.results.items():
        alone = local_lipschitz(explanation_function(senn, name), x, eps=0.1, budget=6)
        assert torch.equal(res.values, alone.values)
    done = [d for d, _ in progress]
    assert done == sorted(done) and 0 < done[-1] <= 1000 and {t for _, t in progress} == {1000}


def test_the_shipped_cost_table_covers_every_explainer_the_page_offers(shipped):
    record = json.loads(COSTS_PATH.read_text())
    assert {"date", "device", "torch_threads"} <= set(record["measured_on"])
    assert "bench_lipschitz_cost.py" in record["command"]
    for name in ("cnn", "senn"):
        model = shipped[name][0]
        offered = set(list_lipschitz_explainers(model))
        usable = offered - ({"lrp"} if name == "senn" else set())  # LRP has no rule for SENN's layers
        table = record["seconds_per_call"][name]
        assert set(table) == usable, name
        assert all(v > 0 for v in table.values())
    assert set(record["seconds_per_call"]["cnn"]) == set(list_explainers())
