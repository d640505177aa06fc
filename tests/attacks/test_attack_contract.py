"""Properties every attack must have: the ball, [0,1], honest label_kept, improvement, determinism."""
import pytest
import torch

from sem_core.attacks import ProtoDLAttack, SennConceptAttack
from sem_core.errors import AttackError


def _run(kind, tiny_senn, tiny_protodl, digits, **kw):
    x, y, xt = digits
    if kind == "senn":
        return tiny_senn, SennConceptAttack(tiny_senn, **kw)(x, y, target=xt)
    return tiny_protodl, ProtoDLAttack(tiny_protodl, **kw)(x, y)


KINDS = ["senn", "protodl"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("eps", [0.05, 0.3])
def test_ball_and_box(kind, eps, tiny_senn, tiny_protodl, digits):
    _, res = _run(kind, tiny_senn, tiny_protodl, digits, eps=eps, steps=10)
    assert (res.x_adv - res.x).abs().max() <= eps + 1e-6
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    assert torch.allclose(res.linf, (res.x_adv - res.x).abs().flatten(1).max(1).values)


@pytest.mark.parametrize("kind", KINDS)
def test_label_kept_agrees_with_a_fresh_forward(kind, tiny_senn, tiny_protodl, digits):
    model, res = _run(kind, tiny_senn, tiny_protodl, digits, eps=0.3, steps=10)
    fresh = model(res.x_adv).argmax(1)
    assert torch.equal(res.label_kept, fresh == res.pred_before)
    assert torch.equal(res.pred_after, fresh)
    assert torch.allclose(res.prob_after, model(res.x_adv).softmax(1), atol=1e-5)
    # the papers' rule: the natural image is a candidate, so the label is always kept
    assert res.label_kept.all()


@pytest.mark.parametrize("kind", KINDS)
def test_objective_improves(kind, tiny_senn, tiny_protodl, digits):
    _, res = _run(kind, tiny_senn, tiny_protodl, digits, eps=0.3, steps=20)
    obj = res.objective  # [steps+1, B], lower is better
    assert obj.shape == (21, 6)
    best = obj.gather(0, res.best_step.view(1, -1)).squeeze(0)
    assert (best <= obj[0] + 1e-6).all()
    assert (best < obj[0] - 1e-4).float().mean() >= 0.5, "most images should improve"


@pytest.mark.parametrize("kind", KINDS)
def test_batch_equals_one_by_one_and_seed_determinism(kind, tiny_senn, tiny_protodl, digits):
    x, y, xt = digits
    if kind == "senn":
        atk = SennConceptAttack(tiny_senn, eps=0.2, steps=8, random_start=True)
        whole = atk(x, y, target=xt, seed=3)
        again = atk(x, y, target=xt, seed=3)
        singles = [SennConceptAttack(tiny_senn, eps=0.2, steps=8)(x[i:i + 1], y[i:i + 1], target=xt[i:i + 1]) for i in range(3)]
        batch = SennConceptAttack(tiny_senn, eps=0.2, steps=8)(x[:3], y[:3], target=xt[:3])
    else:
        atk = ProtoDLAttack(tiny_protodl, eps=0.2, steps=8, random_start=True)
        whole = atk(x, y, seed=3)
        again = atk(x, y, seed=3)
        singles = [ProtoDLAttack(tiny_protodl, eps=0.2, steps=8)(x[i:i + 1], y[i:i + 1]) for i in range(3)]
        batch = ProtoDLAttack(tiny_protodl, eps=0.2, steps=8)(x[:3], y[:3])
    assert torch.equal(whole.x_adv, again.x_adv)
    assert torch.allclose(batch.x_adv, torch.cat([s.x_adv for s in singles]), atol=1e-5)


def test_bad_parameters_are_clear_errors(tiny_senn, tiny_protodl, digits):
    x, y, xt = digits
    with pytest.raises(AttackError, match="eps"):
        SennConceptAttack(tiny_senn, eps=3.0)
    with pytest.raises(AttackError, match="steps"):
        ProtoDLAttack(tiny_protodl, steps=-1)
    with pytest.raises(AttackError, match="target images"):
        SennConceptAttack(tiny_senn, steps=1)(x, y, target=None)
    with pytest.raises(AttackError, match="SENN"):
        SennConceptAttack(tiny_protodl)
    with pytest.raises(AttackError, match=r"\[B,1,28,28\]"):
        ProtoDLAttack(tiny_protodl, steps=1)(x.view(6, 784))


def test_snapshots_for_replay(tiny_senn, digits):
    x, y, xt = digits
    res = SennConceptAttack(tiny_senn, eps=0.3, steps=10, snapshot_every=5)(x, y, target=xt)
    assert [t for t, _ in res.snapshots] == [0, 5, 10]
    res = SennConceptAttack(tiny_senn, eps=0.3, steps=10, snapshot_every=4)(x, y, target=xt)
    assert [t for t, _ in res.snapshots] == [0, 4, 8, 10]  # the last iterate is always a frame
    assert torch.equal(res.snapshots[0][1], res.x)
    assert torch.equal(res.extras["x_target"], xt)


def test_to_dict_is_json_ready(tiny_protodl, digits):
    import json

    x, y, _ = digits
    d = ProtoDLAttack(tiny_protodl, steps=3)(x, y).to_dict()
    assert json.loads(json.dumps(d))["summary"]["label_kept_rate"] == 1.0
