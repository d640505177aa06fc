"""Known answers for D and R, and the attacks doing their job on the shipped models."""
import pytest
import torch

from sem_core.attacks import ProtoDLAttack, SennConceptAttack, class_distances, d_and_r


def test_d_and_r_known_answer():
    h = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    classes = torch.tensor([0, 0, 1, 2])
    d, r = d_and_r(h, classes, torch.tensor([0]))
    assert d.item() == pytest.approx(((1 + 4) / 2) ** 0.5)
    assert r.item() == pytest.approx(((9 + 16) / 2) ** 0.5)
    dc = class_distances(h, classes)
    assert dc[0, 0].item() == pytest.approx(d.item()) and dc[0, 2].item() == pytest.approx(4.0)
    assert torch.isinf(dc[0, 3:]).all()  # classes without prototypes


def test_senn_attack_moves_concepts_to_the_target(shipped, test_split):
    model, _ = shipped["senn"]
    x, y, _ = test_split
    nines, twos = x[y == 9][:8], x[y == 2][:8]
    res = SennConceptAttack(model, eps=0.3, steps=40)(nines, target=twos)
    assert res.label_kept.all() and (res.pred_before == 9).sum() >= 7
    m = res.metrics
    assert (m["concept_distance_adv"] < 0.5 * m["concept_distance_nat"]).float().mean() >= 0.75


def test_protodl_attack_breaks_nearest_prototype_consistency(shipped, test_split):
    model, _ = shipped["protodl"]
    x, y, _ = test_split
    idx = torch.arange(0, 1000, 25)
    res = ProtoDLAttack(model, eps=0.3, steps=100)(x[idx], y[idx])
    assert res.label_kept.all()
    m = res.metrics
    assert m["nearest_consistent_adv"].mean() <= 0.6 * m["nearest_consistent_nat"].mean()
    assert (m["D_true_adv"] > m["D_true_nat"]).float().mean() >= 0.9
