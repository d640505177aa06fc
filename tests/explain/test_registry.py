"""The explainer registry and the contract every registered explainer keeps."""
from __future__ import annotations

import pytest
import torch

from sem_core.errors import SemError, UnknownNameError
from sem_core.explain import EXPLAINERS, Explainer, create_explainer, explain, list_explainers, register_explainer

DIFFERENTIABLE = ["deeplift", "gradxinput", "ig", "saliency", "smoothgrad"]
ALL = sorted(DIFFERENTIABLE + ["lime", "lrp", "occlusion", "shap"])
# small budgets so the whole suite stays fast; stochastic ones get a fixed seed
FAST = {"ig": {"steps": 8}, "smoothgrad": {"samples": 4, "seed": 3}, "occlusion": {},
        "lime": {"samples": 60, "seed": 3}, "shap": {"samples": 60, "seed": 3}}


def test_registry_lists_the_papers_explainers_and_which_are_differentiable():
    assert set(ALL) <= set(list_explainers())
    assert set(DIFFERENTIABLE) <= set(list_explainers(differentiable=True))
    assert set(list_explainers(differentiable=False)) == set(list_explainers()) - set(list_explainers(differentiable=True))


def test_unknown_name_lists_what_exists(linear, digits):
    with pytest.raises(UnknownNameError, match="unknown explainer 'gradcam'; available: deeplift"):
        explain(linear, "gradcam", digits)


def test_every_explainer_is_a_configured_class_and_the_helper_calls_it(linear, digits):
    for name in list_explainers():
        cls = EXPLAINERS.get(name)
        assert issubclass(cls, Explainer) and cls.name == name and cls.summary
    ig = create_explainer(linear, "ig", steps=8)
    assert isinstance(ig, Explainer) and ig.config["steps"] == 8
    torch.testing.assert_close(ig(digits), explain(linear, "ig", digits, steps=8), rtol=0, atol=0)
    with pytest.raises(SemError, match="no hyperparameter stepz; known: .*steps"):
        create_explainer(linear, "ig", stepz=8)


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="already registered"):
        register_explainer("saliency", differentiable=True, summary="again")(lambda *a, **k: None)
    assert EXPLAINERS.get("saliency").summary.startswith("|∇")


@pytest.mark.parametrize("name", list_explainers(differentiable=False))
def test_create_graph_on_a_non_differentiable_explainer_is_refused(linear, digits, name):
    with pytest.raises(SemError, match="not differentiable; differentiable explainers: deeplift"):
        explain(linear, name, digits, create_graph=True)


@pytest.mark.parametrize("backend_method", ["lime", "shap"])
def test_unknown_backend_lists_the_backends(linear, digits, backend_method):
    with pytest.raises(SemError, match="backend 'sklearn'; available: captum"):
        explain(linear, backend_method, digits, backend="sklearn")


@pytest.mark.parametrize("name", list_explainers())
def test_contract_default_target_is_the_prediction_and_maps_are_detached(models, digits, name):
    model = models["relu_pool"]
    x = digits.clone().requires_grad_(True)
    pred = model(digits).argmax(1)
    default = explain(model, name, x, **FAST.get(name, {}))
    explicit = explain(model, name, x, y=pred, **FAST.get(name, {}))
    assert default.shape == x.shape and default.dtype == x.dtype
    assert not default.requires_grad and torch.isfinite(default).all()
    assert default.abs().sum() > 0
    torch.testing.assert_close(default, explicit, rtol=0, atol=0)


@pytest.mark.parametrize("name", list_explainers())
def test_batch_equals_one_by_one(models, digits, name):
    model = models["relu_pool"]
    target = torch.tensor([3, 7, 1])
    batch = explain(model, name, digits, y=target, **FAST.get(name, {}))
    single = torch.cat([explain(model, name, digits[i:i + 1], y=target[i:i + 1],
                                **FAST.get(name, {})) for i in range(3)])
    torch.testing.assert_close(batch, single, rtol=1e-7, atol=1e-10)


def test_target_must_be_one_class_per_image(linear, digits):
    with pytest.raises(SemError, match="one class per image"):
        explain(linear, "saliency", digits, y=torch.tensor([1, 2]))
    int_target = explain(linear, "saliency", digits, y=4)
    torch.testing.assert_close(int_target, explain(linear, "saliency", digits, y=torch.full((3,), 4)))
