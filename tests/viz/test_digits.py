"""The pages' digit arithmetic (sem_core.viz.digits): known answers on hand-made labels, and a model's
probabilities equal to a forward pass."""
import pytest
import torch

from sem_core.viz.digits import (box_mask, class_indices, class_position, class_probabilities, empty_mask,
                                 points_mask, random_digit, stack_images)

Y = torch.tensor([3, 1, 3, 0, 1, 3])


def test_class_indices_and_position_are_inverse():
    assert class_indices(Y, 3).tolist() == [0, 2, 5] and class_indices(Y, 7).tolist() == []
    for i in range(len(Y)):
        cls, k = class_position(Y, i)
        assert cls == int(Y[i]) and int(class_indices(Y, cls)[k]) == i


def test_random_digit_avoids_a_class_and_follows_its_generator():
    draws = {random_digit(Y, avoid=3, generator=torch.Generator().manual_seed(s)) for s in range(40)}
    assert draws == {(1, 0), (0, 0), (1, 1)}                     # every digit but the 3s, each as (class, k)
    same = [random_digit(Y, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert same[0] == same[1]
    with pytest.raises(ValueError, match="other than 3"):
        random_digit(torch.tensor([3, 3]), avoid=3)


def test_masks():
    assert empty_mask().shape == (28, 28) and empty_mask().dtype == torch.bool and not empty_mask().any()
    m = box_mask((0, 10), (2, 5))
    assert int(m.sum()) == 30 and m[0, 2] and m[9, 4] and not m[10, 4] and not m[0, 5]
    assert not box_mask((5, 5), (0, 28)).any()                   # an empty range: an empty region
    p = points_mask([{"x": 3, "y": 1}, {"x": 27.4, "y": 26.6}, {"x": 40, "y": 2}])   # x = column, y = row
    assert p[1, 3] and p[27, 27] and int(p.sum()) == 2           # the point off the digit is ignored


def test_stack_images():
    a, b = torch.zeros(2, 1, 28, 28), torch.ones(1, 1, 28, 28)
    s = stack_images(a, b)
    assert s.shape == (3, 1, 28, 28) and s.device.type == "cpu" and s[2].eq(1).all() and s[:2].eq(0).all()


def test_class_probabilities_are_the_models_softmax(shipped, test_split):
    x = test_split[0][:1]
    models = {n: shipped[n][0] for n in ("cnn", "senn")}
    probs = class_probabilities(models, x)
    assert list(probs) == ["cnn", "senn"]
    for name, p in probs.items():
        with torch.no_grad():
            expected = torch.softmax(models[name](x), 1)[0]
        assert p.shape == (10,) and torch.allclose(p, expected) and p.sum().item() == pytest.approx(1.0, abs=1e-5)
        assert not p.requires_grad


def test_a_region_travels_in_a_link_as_text_and_back():
    from sem_core.viz.digits import mask_from_text, mask_to_text

    mask = box_mask((3, 9), (10, 20))
    text = mask_to_text(mask)
    assert len(text) == 196 and torch.equal(mask_from_text(text), mask)
    assert mask_from_text(text[:-1]) is None and mask_from_text("g" * 196) is None and mask_from_text(None) is None


def test_nearest_prototypes_show_each_digit_beside_the_prototype_it_points_to():
    from types import SimpleNamespace

    from sem_core.viz.digits import nearest_prototypes

    protos = torch.rand(3, 1, 28, 28)
    expl = lambda d: SimpleNamespace(distances=torch.tensor(d), prototype_classes=torch.tensor([4, 9, 1]))  # noqa: E731
    res = SimpleNamespace(x=torch.zeros(1, 1, 28, 28), x_adv=torch.ones(1, 1, 28, 28), y=torch.tensor([4]),
                          explanations={"natural": expl([[0.1, 2.0, 3.0]]), "adversarial": expl([[2.0, 0.5, 3.0]])})
    images, titles = nearest_prototypes(res, protos)
    assert titles == ["the 4", "P1: 4", "changed", "P2: 9"]
    assert torch.equal(images[1], protos[0]) and torch.equal(images[3], protos[1])
    assert torch.equal(images[2], res.x_adv[0])
