"""The PGD loop one iteration at a time: runs that start at different iterations and share their steps give
each run the result it gets alone (``Attack.begin`` / ``advance`` / ``end``; the attack service's joining)."""
import pytest
import torch

import sem_core
from sem_core.errors import AttackError

CASES = [("senn", "senn_concept", {"eps": 0.3, "steps": 6, "lam": 1.0, "snapshot_every": 2}),
         ("protodl", "protodl_prototype", {"eps": 0.2, "steps": 5, "snapshot_every": 0})]


@pytest.mark.parametrize("model, name, cfg", CASES, ids=[c[1] for c in CASES])
def test_runs_that_join_late_get_the_result_they_get_alone(shipped, test_split, model, name, cfg):
    x, y, _ = test_split
    attack = sem_core.create_attack(shipped[model][0], name, **cfg)
    batches = [(x[0:2], y[0:2]), (x[5:6], y[5:6]), (x[9:12], y[9:12])]
    targets = [x[30:32], x[35:36], x[39:42]] if attack.targeted else [None] * 3
    alone = [attack(xb, yb, target=t) for (xb, yb), t in zip(batches, targets)]
    seen = []
    with attack.eval_mode():
        runs = [attack.begin(xb, yb, target=t, on_step=lambda d, n, k=k: seen.append((k, d)))
                for k, ((xb, yb), t) in enumerate(zip(batches, targets))]
        active, results = [runs[0]], {}
        for it in range(40):
            if it == 2:
                active.append(runs[1])          # joins at its own step 0 while run 0 is at step 2
            if it == 3:
                active.append(runs[2])
            for r in attack.advance(active):
                results[runs.index(r)] = attack.end(r)
                active.remove(r)
            if not active:
                break
    assert sorted(results) == [0, 1, 2] and all(r.t == cfg["steps"] for r in runs)
    assert [d for k, d in seen if k == 1] == list(range(1, cfg["steps"] + 1))   # its own progress, from 1
    for got, want in zip((results[k] for k in range(3)), alone):
        torch.testing.assert_close(got.x_adv, want.x_adv)
        torch.testing.assert_close(got.objective, want.objective)
        assert torch.equal(got.best_step, want.best_step) and torch.equal(got.label_kept, want.label_kept)
        assert [s.step for s in got.snapshots] == [s.step for s in want.snapshots]
        for k in want.metrics:
            torch.testing.assert_close(got.metrics[k], want.metrics[k])


def test_an_attack_that_draws_at_random_refuses_to_share_its_steps(shipped, test_split):
    x, y, _ = test_split
    senn = shipped["senn"][0]
    assert sem_core.create_attack(senn, "senn_concept").joinable
    assert not sem_core.create_attack(senn, "senn_concept", random_start=True).joinable
    assert not sem_core.create_attack(shipped["cnn"][0], "saliency_topk").joinable    # not declared per image
    attack = sem_core.create_attack(senn, "senn_concept", random_start=True, steps=2)
    with attack.eval_mode():
        runs = [attack.begin(x[i:i + 1], target=x[i + 5:i + 6]) for i in range(2)]
        with pytest.raises(AttackError, match="not joinable"):
            attack.advance(runs)
        with pytest.raises(AttackError, match="not finished"):
            attack.end(runs[0])
