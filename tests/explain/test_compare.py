"""Every explainer on the same digits (the grid of the saliency page)."""
from __future__ import annotations

import torch

from sem_core.explain import explain, explain_all, normalize_map


def test_explain_all_gives_normalised_maps_per_explainer_and_the_reasons_for_skips(shipped, test_split):
    senn = shipped["senn"][0]
    x, y = test_split[0][:2], test_split[1][:2]
    names = ["saliency", "gradxinput", "lrp"]
    seen = []
    grid = explain_all(senn, x, target=y, explainers=names, on_step=lambda done, total: seen.append((done, total)))
    assert grid.names == ["saliency", "gradxinput"] and set(grid.skipped) == {"lrp"}
    assert grid.maps.shape == (2, 2, 28, 28)
    torch.testing.assert_close(grid.maps.sum(dim=(-1, -2)), torch.ones(2, 2))
    torch.testing.assert_close(grid.maps[0], normalize_map(explain(senn, "saliency", x, y=y))[:, 0])
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert explain_all(shipped["cnn"][0], x[:1], explainers=["saliency"]).maps.shape == (1, 1, 28, 28)
