"""Which digits a batch attacks, and the default views the pages and `precompute` share."""
import torch

from sem_core.serve.precompute import default_jobs
from sem_core.serve.views import BATCH, LIPSCHITZ, batch_indices


def test_batch_indices(test_split):
    _, y, _ = test_split
    src, tgt = batch_indices(y, "class pairs", 30, source_class=4, target_class=7, seed=1)
    assert (y[src] == 4).all() and (y[tgt] == 7).all() and len(src) == 30
    src, tgt = batch_indices(y, "random sample", 50, seed=2, targets=True)
    assert len(set(src.tolist())) == 50 and (y[tgt] != y[src]).all()     # targets of another class
    again, _ = batch_indices(y, "random sample", 50, seed=2, targets=True)
    assert torch.equal(src, again)                                         # the seed decides
    src, tgt = batch_indices(y, "class", 1000, source_class=3)
    assert tgt is None and len(src) == int((y == 3).sum())                 # capped at the class's digits


def test_default_views_cover_every_attack_page(shipped):
    from sem_core.serve.service import AttackService

    svc = AttackService(device="cpu", loader=lambda name: shipped[name])
    try:
        listed = default_jobs(svc)
    finally:
        svc.shutdown()
    jobs = dict(listed)
    assert sorted(jobs) == ["batch", "concept", "defenses", "lipschitz", "prototype", "saliency", "stability"]
    views = [name for name, _ in listed]
    assert [s.config["explainer"] for name, s in listed if name == "lipschitz"] == list(LIPSCHITZ.picks["explainers"])
    assert [s.model for name, s in listed if name == "defenses"] == ["senn-k5", "senn-adv"] and views.count("defenses") == 2
    assert len(jobs["batch"].x) == BATCH.own["n"].default and jobs["batch"].target is not None
    assert jobs["concept"].config["snapshot_every"] == 7 and int(jobs["concept"].y) == 9
