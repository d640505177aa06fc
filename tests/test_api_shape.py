"""One API shape: the by-name helpers take (model, name, …); the old orders and ``target=`` for the explained class
still work for one release with a ``SemDeprecationWarning``, and give the same results."""
import pytest
import torch

from sem_core import create_attack, create_explainer, explain
from sem_core.errors import SemDeprecationWarning
from sem_core.explain.integrated import IG_STEPS


def test_old_argument_orders_still_work_with_a_deprecation_warning(shipped, test_split):
    cnn, x, y = shipped["cnn"][0], test_split.images[:2], test_split.labels[:2]
    with pytest.warns(SemDeprecationWarning, match=r"create_attack\(model, name\)"):
        old = create_attack("saliency_topk", cnn, steps=2)
    assert type(old) is type(create_attack(cnn, "saliency_topk", steps=2))
    with pytest.warns(SemDeprecationWarning, match=r"create_explainer\(model, name\)"):
        create_explainer("saliency", cnn)
    with pytest.warns(SemDeprecationWarning, match=r"explain\(model, name, x\)"):
        maps = explain(cnn, x, "saliency")
    assert torch.equal(maps, explain(cnn, "saliency", x))
    with pytest.warns(SemDeprecationWarning, match="pass it as y"):
        maps = explain(cnn, "saliency", x, target=y)
    assert torch.equal(maps, explain(cnn, "saliency", x, y))


def test_seed_is_a_call_argument_of_explainers_too(shipped, test_split):
    cnn, x = shipped["cnn"][0], test_split.images[:2]
    sg = create_explainer(cnn, "smoothgrad", samples=4)
    assert torch.equal(sg(x, seed=3), create_explainer(cnn, "smoothgrad", samples=4, seed=3)(x))
    assert not torch.equal(sg(x, seed=3), sg(x, seed=4))
    assert torch.equal(create_explainer(cnn, "saliency")(x, seed=3), explain(cnn, "saliency", x))  # nothing drawn


def test_one_integrated_gradients_default_everywhere(shipped):
    from sem_core.attacks import SaliencyAttack
    from sem_core.explain import EXPLAINERS

    assert EXPLAINERS.get("ig").hyperparameters["steps"] == IG_STEPS
    assert SaliencyAttack.settings["ig_steps"].default == IG_STEPS
