"""Seeded target draws: other-class targets for the attack, same-class targets for its in-class control."""
import pytest
import torch

from sem_core.errors import AttackError
from sem_core.experiments.sampling import pick_other_class_targets, pick_same_class_targets


def test_same_class_targets_share_the_label_and_never_repeat_the_digit():
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 0, 2])
    idx = torch.tensor([0, 3])
    t = pick_same_class_targets(labels, idx, 2, seed=4)
    assert t.shape == (2, 2)
    assert (labels[t] == labels[idx].view(-1, 1)).all() and not (t == idx.view(-1, 1)).any()
    assert torch.equal(t, pick_same_class_targets(labels, idx, 2, seed=4))         # seeded
    o = pick_other_class_targets(labels, idx, 3, seed=4)
    assert (labels[o] != labels[idx].view(-1, 1)).all()


def test_too_many_same_class_targets_is_a_clear_error():
    labels = torch.tensor([0, 1, 0, 2])
    with pytest.raises(AttackError, match=r"at most 1 \(the same-class digits of digit 0\), got 2"):
        pick_same_class_targets(labels, torch.tensor([0]), 2)
