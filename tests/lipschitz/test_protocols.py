"""Lipschitz protocols (issue 12): neighbourhoods on hand-made inputs, the authors' LIME settings, SENN's θ_ŷ ratio,
the searches staying in the neighbourhood, and the CLI naming the protocol."""
import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from sem_core.errors import SemError, UnknownNameError
from sem_core.lipschitz import ExplanationFunction, create_search
from sem_core.lipschitz.protocols import (AUTHORS, MIN_STD, STRICT, get_protocol, list_protocols, neighbourhood_bounds,
                                          protocol_explanation, protocol_lipschitz, radius, theta_pred_explanation)
from sem_core.metrics import masked_spearman


def test_registry_names_both_protocols_with_notes_and_citations():
    assert list_protocols() == ["authors", "strict"]
    for p in (AUTHORS, STRICT):
        assert p.notes and p.citations and json.loads(json.dumps(p.to_dict()))["name"] == p.name
    assert "robust_interpret" in " ".join(AUTHORS.citations) and "explainers.py" in " ".join(AUTHORS.notes)
    with pytest.raises(UnknownNameError, match="authors, strict"):
        get_protocol("lenient")


def test_box_std_bounds_on_hand_made_pixels():
    # one row of 4 pixels: std 0 (floored at 0.001), 0.2, 0.5 and 0.5; x at 0.5, 0.5, 0.02 and 0.99
    std = torch.tensor([[[0.0, 0.2, 0.5, 0.5]]])
    x = torch.tensor([[[[0.5, 0.5, 0.02, 0.99]]]])
    lo, hi = neighbourhood_bounds(x, AUTHORS, std)
    eps = AUTHORS.eps
    torch.testing.assert_close(lo, torch.tensor([[[[0.5 - eps * MIN_STD, 0.5 - eps * 0.2, 0.0, 0.99 - eps * 0.5]]]]))
    torch.testing.assert_close(hi, torch.tensor([[[[0.5 + eps * MIN_STD, 0.5 + eps * 0.2, 0.02 + eps * 0.5, 1.0]]]]))
    torch.testing.assert_close(radius(AUTHORS, std), eps * std.clamp_min(MIN_STD))


def test_strict_is_an_linf_ball_in_pixel_units_clipped_to_the_unit_box():
    x = torch.tensor([[[[0.0, 0.05, 0.5, 1.0]]]])
    lo, hi = neighbourhood_bounds(x, STRICT)
    torch.testing.assert_close(lo, torch.tensor([[[[0.0, 0.0, 0.4, 0.9]]]]))
    torch.testing.assert_close(hi, torch.tensor([[[[0.1, 0.15, 0.6, 1.0]]]]))
    assert radius(STRICT, None) is None


@pytest.mark.parametrize("search", ["random", "bayesopt", pytest.param("gp_minimize", marks=pytest.mark.slow)])
def test_searches_stay_in_the_box_and_report_the_ratio_of_their_point(search):
    std = torch.tensor([[[0.0, 0.3], [0.1, 0.4]]])
    x = torch.tensor([[[[0.0, 0.5], [0.95, 0.3]]]])
    fn = ExplanationFunction(lambda z: (z ** 2).flatten(1) * torch.tensor([1.0, 5.0, -2.0, 3.0]))
    res = create_search(search, fn, eps=0.1, budget=6, radius=radius(AUTHORS, std))(x)
    lo, hi = neighbourhood_bounds(x, AUTHORS, std)
    assert bool((res.x_prime >= lo - 1e-7).all() and (res.x_prime <= hi + 1e-7).all())
    expected = (fn(x) - fn(res.x_prime)).norm() / (x - res.x_prime).norm()
    torch.testing.assert_close(res.values[0], expected, rtol=1e-4, atol=1e-6)
    assert res.config["norm"] == "box"


def test_authors_lime_settings():
    lime = AUTHORS.explainer_config["lime"]
    assert lime == {"samples": 1000, "segmentation": "quickshift", "features": 10, "output": "probs", "hide": "mean"}
    assert AUTHORS.fresh_lime_masks and AUTHORS.search == "gp_minimize" and AUTHORS.neighbourhood == "box_std"
    assert STRICT.search == "bayesopt" and STRICT.neighbourhood == "linf"


def test_quickshift_segments_are_skimage_quickshift_with_the_authors_parameters(test_split):
    from skimage.color import gray2rgb
    from skimage.segmentation import quickshift

    from sem_core.explain.lime_explainer import quickshift_segments

    x = test_split[0][:3]
    for seg, img in zip(quickshift_segments(x), x[:, 0].double().numpy()):
        ref = quickshift(gray2rgb(2 * img - 1), kernel_size=1, max_dist=200, ratio=0.1)
        # the same partition (ids renumbered 0..S-1)
        assert len(np.unique(ref)) == int(seg.max()) + 1
        assert all(len(np.unique(ref[seg.numpy() == s])) == 1 for s in np.unique(seg.numpy()))


def test_authors_lime_calls_lime_with_1000_samples_10_features_mean_fill_and_probabilities(monkeypatch, test_split):
    from lime.lime_image import LimeImageExplainer

    seen = {}
    original = LimeImageExplainer.explain_instance

    def spy(self, image, classifier_fn, **kw):
        seen.update(kw)
        seen["row_sums"] = classifier_fn(np.repeat(image[None, ..., None], 3, -1)[:, :, :, :3]).sum(1)
        return original(self, image, classifier_fn, **kw)

    monkeypatch.setattr(LimeImageExplainer, "explain_instance", spy)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x = test_split[0][:1]
    maps = protocol_explanation(model, "lime", AUTHORS).fn(x)
    assert seen["num_samples"] == 1000 and seen["num_features"] == 10 and seen["hide_color"] is None
    np.testing.assert_allclose(seen["row_sums"], 1.0, rtol=1e-6)  # probabilities, not logits
    assert len(torch.unique(maps[maps != 0])) <= 10


class _TinySenn(nn.Module):
    """θ(x)[b, i, c] = (i + 1)·(c + 1)·mean(x_b); logits favour class 0 when mean(x) < 0.5, else class 1."""

    def relevances(self, z):
        m = z.flatten(1).mean(1)
        return m[:, None, None] * torch.arange(1.0, 3.0)[None, :, None] * torch.arange(1.0, 3.0)[None, None, :]

    def forward(self, z):
        m = z.flatten(1).mean(1, keepdim=True)
        return torch.cat([0.5 - m, m - 0.5], 1)


def test_theta_pred_ratio_on_a_hand_made_senn():
    model = _TinySenn()
    x = torch.full((1, 1, 2, 2), 0.2)
    x2 = torch.full((1, 1, 2, 2), 0.7)
    fn = theta_pred_explanation(model)
    # predicted class 0 at x: θ_0 = [1, 2]·0.2; class 1 at x2: θ_1 = [2, 4]·0.7
    torch.testing.assert_close(fn(x), torch.tensor([[0.2, 0.4]]))
    torch.testing.assert_close(fn(x2), torch.tensor([[1.4, 2.8]]))
    assert fn.denominator is None  # the authors divide by ‖x − x'‖ (not ‖Δh‖)
    torch.testing.assert_close(protocol_explanation(model, "self", AUTHORS).fn(x2), fn(x2))  # authors: self = θ_ŷ
    with pytest.raises(SemError, match="only for SENN"):  # strict: self = eq. 5, which needs a SemModel
        protocol_explanation(model, "self", STRICT)
    res = protocol_lipschitz(model, "theta_pred", x, STRICT, search="random", calls=5)
    xp = res.x_prime
    expected = (fn(x) - fn(xp)).norm() / (x - xp).norm()
    torch.testing.assert_close(res.values[0], expected, rtol=1e-4, atol=1e-6)
    assert res.config["protocol"] == "strict" and res.config["denominator"] == "input"


def test_masked_spearman_ignores_the_background():
    a = torch.tensor([[1.0, 2.0, 3.0, 0.0, 0.0, 0.0]])
    b = torch.tensor([[3.0, 2.0, 1.0, 0.0, 0.0, 0.0]])
    keep = torch.tensor([[True, True, True, False, False, False]])
    torch.testing.assert_close(masked_spearman(a, b, keep), torch.tensor([-1.0]))
    torch.testing.assert_close(masked_spearman(a, a, keep), torch.tensor([1.0]))
    assert masked_spearman(a, b, torch.zeros_like(keep)).isnan().all()


def test_cli_names_the_protocol(capsys):
    from sem_core.cli.main import main

    assert main(["lipschitz", "--model", "cnn", "--explainer", "saliency", "--protocol", "strict", "--n", "1",
                 "--budget", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"] == "strict" and out["neighbourhood"] == "linf" and out["ratio_calls"] == 3
    assert out["method"] == "bayesopt" and len(out["values"]) == 1
    assert main(["lipschitz", "--model", "cnn", "--n", "1", "--budget", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["protocol"] is None
