"""One validation at the door: the same hostile inputs get the same one-line message (or the documented
conversion) in every family — attacks, explainers, Lipschitz searches, the influence function."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sem_core import SemError, create_attack, explain, explanation_function, local_lipschitz
from sem_core.models.capabilities import check_batch, input_domain

FAMILIES = {
    "attack": lambda m, x, y=None: create_attack(m, "saliency_topk", eps=0.1, steps=1)(x, y),
    "explainer": lambda m, x, y=None: explain(m, "saliency", x, y=y),
    "lipschitz": lambda m, x, y=None: local_lipschitz(explanation_function(m, "saliency"), x, search="random",
                                                      budget=3),
}

HOSTILE = [
    ("x255", lambda x: x * 255, r"pixel values span \[0, 255\], outside the model's input domain \[0, 1\] "
                                r"\(0–255 pixels: divide by 255"),
    ("uint8", lambda x: (x * 255).to(torch.uint8), r"float images .* got uint8 \(uint8 pixels: x.float\(\) / 255\)"),
    ("standardised", lambda x: (x - 0.1307) / 0.3081, r"outside the model's input domain \[0, 1\] .*standardised"),
    ("nan", lambda x: x.masked_fill(x > 0.5, float("nan")), "NaN or Inf"),
    ("3-D", lambda x: x[0], r"images \[B,C,H,W\]; got shape \[1, 28, 28\] \(one image: add the batch axis"),
    ("numpy", lambda x: x.numpy(), r"takes a torch.Tensor .* got ndarray"),
    ("empty", lambda x: x[:0], "empty batch"),
]


@pytest.fixture(scope="module")
def cnn(shipped):
    return shipped["cnn"][0]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_images_get_one_clear_line_in_every_family(cnn, test_split, family, case):
    _, make, message = case
    x = test_split.images[:2]
    with pytest.raises(SemError, match=message) as info:
        FAMILIES[family](cnn, make(x))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("family", ["attack", "explainer"])
def test_labels_must_be_one_integer_class_per_image(cnn, test_split, family):
    x, y = test_split.images[:3], test_split.labels[:3]
    with pytest.raises(SemError, match=r"must be one class per image, shape \[3\]; got \[2\]"):
        FAMILIES[family](cnn, x, y[:2])
    with pytest.raises(SemError, match="must hold integer classes, got float32"):
        FAMILIES[family](cnn, x, y.float())
    with pytest.raises(SemError, match=r"outside the model's 10 classes \(got 0..12\)" if family == "attack" else
                       "outside|index"):
        FAMILIES[family](cnn, x, torch.tensor([0, 3, 12]))


@pytest.mark.parametrize("family", FAMILIES)
def test_float64_is_converted_to_the_models_dtype_documented(cnn, test_split, family):
    x = test_split.images[:2]
    out64 = FAMILIES[family](cnn, x.double())
    out32 = FAMILIES[family](cnn, x)
    if family == "explainer":
        assert out64.dtype == torch.float32 and torch.equal(out64, out32)
    elif family == "attack":
        assert torch.equal(out64.x_adv, out32.x_adv)
    else:
        assert torch.equal(out64.values, out32.values)


def test_a_model_may_declare_its_input_domain(test_split):
    class Standardised(torch.nn.Module):
        input_range = ((0 - 0.1307) / 0.3081, (1 - 0.1307) / 0.3081)

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(784, 10)

        def forward(self, z):
            return self.fc(z.flatten(1))

    model = Standardised().eval()
    z = (test_split.images[:2] - 0.1307) / 0.3081
    res = create_attack(model, "saliency_topk", eps=0.1, steps=3)(z)
    lo, hi = input_domain(model)
    assert res.x_adv.min() >= lo - 1e-6 and res.x_adv.max() <= hi + 1e-6 and res.x_adv.min() < 0
    assert explain(model, "saliency", z).shape == z.shape
    with pytest.raises(SemError, match=r"input_range must have lo < hi"):
        input_domain(type("Bad", (), {"input_range": (1, 0)})())


def test_images_and_labels_move_to_the_models_device():
    model = torch.nn.Linear(4, 2)
    x, y = check_batch(model, torch.rand(3, 1, 2, 2, dtype=torch.float64), [0, 1, 1], who="t")
    assert x.dtype == torch.float32 and y.dtype == torch.long and x.device == next(model.parameters()).device
    assert isinstance(np.asarray(y), np.ndarray)


@pytest.mark.gpu
def test_cpu_images_run_on_a_cuda_model(shipped, test_split):
    model = shipped["cnn"][0].to("cuda")
    try:
        res = create_attack(model, "saliency_topk", eps=0.1, steps=2)(test_split.images[:2])
        assert res.x_adv.device.type == "cpu" and res.outcome == "ok"
        assert explain(model, "saliency", test_split.images[:2]).device.type == "cpu"
    finally:
        model.to("cpu")
