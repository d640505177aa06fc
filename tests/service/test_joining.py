"""Joining a running batch: a compatible job that arrives while a joinable attack runs starts at once, at its own
step 0 (``AttackService._run_joined``), gets the result it gets alone, and never overtakes another kind of job."""
import threading

import pytest
import torch

import sem_core
from sem_core.attacks.senn_concept import SennConceptAttack
from sem_core.serve.cache import ResultCache
from sem_core.serve.service import AttackService, JobCancelled, JobSpec

CFG = {"eps": 0.3, "steps": 4, "lam": 1.0}


class HoldFirstStep:
    """Patches ``SennConceptAttack.advance``: the first call waits until ``release()``, so jobs submitted meanwhile
    find a batch running; ``runs`` records how many runs each call advanced together."""

    def __init__(self, monkeypatch, fail_when=None):
        self.entered, self._go, self.runs, self.fail_when = threading.Event(), threading.Event(), [], fail_when
        original = SennConceptAttack.advance

        def advance(attack, runs):
            self.entered.set()
            assert self._go.wait(30)
            self.runs.append(len([r for r in runs if not r.finished]))
            if self.fail_when is not None and self.fail_when(self.runs):
                raise RuntimeError("boom in a shared step")
            return original(attack, runs)

        monkeypatch.setattr(SennConceptAttack, "advance", advance)

    def release(self):
        self._go.set()


@pytest.fixture
def service(shipped):
    svc = AttackService(device="cpu", cache=ResultCache(),
                        loader=lambda name: shipped[name] if name in shipped else sem_core.load_model_with_card(name, "cpu"))
    yield svc
    svc.shutdown()


def concept(x, y, i, t, **cfg):
    return JobSpec("senn", "attack", "senn_concept", x[i:i + 1], {**CFG, **cfg}, y=y[i:i + 1], target=x[t:t + 1])


def alone(shipped, x, y, i, t, **cfg):
    return sem_core.create_attack(shipped["senn"][0], "senn_concept", **{**CFG, **cfg})(x[i:i + 1], y[i:i + 1],
                                                                                        target=x[t:t + 1])


def test_a_job_that_arrives_while_a_batch_runs_joins_it_at_its_own_step_0(service, shipped, test_split, monkeypatch):
    x, y, _ = test_split
    hold = HoldFirstStep(monkeypatch)
    first = service.submit("alice", concept(x, y, 0, 10))
    assert hold.entered.wait(30) and first.state == "running"
    late = [service.submit("bob", concept(x, y, 1, 11)), service.submit("carol", concept(x, y, 2, 12))]
    hold.release()
    results = [h.result(60) for h in (first, *late)]
    assert all(h.started < first.finished for h in late)         # they did not wait for alice's batch to end
    assert hold.runs[:2] == [1, 2] and max(hold.runs) == 2        # then both joined alice's run as one cohort
    assert first.finished <= min(h.finished for h in late)        # alice, 1 step ahead, is delivered first
    for res, (i, t) in zip(results, ((0, 10), (1, 11), (2, 12))):
        want = alone(shipped, x, y, i, t)
        torch.testing.assert_close(res.x_adv, want.x_adv)
        torch.testing.assert_close(res.objective, want.objective)
        assert res.objective.shape == (CFG["steps"] + 1, 1) and torch.equal(res.best_step, want.best_step)
    assert service.batches == 2 and service.stats()["running_jobs"] == 0


def test_no_job_joins_while_another_kind_waits(service, test_split, monkeypatch):
    x, y, _ = test_split
    hold = HoldFirstStep(monkeypatch)
    first = service.submit("alice", concept(x, y, 0, 10))
    assert hold.entered.wait(30)
    other = service.submit("dave", concept(x, y, 3, 13, eps=0.2))   # another config: its own batch
    same = service.submit("bob", concept(x, y, 1, 11))              # alice's config, but dave waits
    hold.release()
    for h in (first, other, same):
        h.result(60)
    assert max(hold.runs) == 1                                     # nobody shared alice's steps
    assert first.finished <= other.started <= same.started         # dave is not overtaken


def test_cancelling_the_first_job_leaves_the_one_that_joined_intact(service, shipped, test_split, monkeypatch):
    x, y, _ = test_split
    hold = HoldFirstStep(monkeypatch)
    first = service.submit("alice", concept(x, y, 0, 10))
    assert hold.entered.wait(30)
    joined = service.submit("bob", concept(x, y, 1, 11))
    first.cancel()
    hold.release()
    with pytest.raises(JobCancelled):
        first.result(30)
    torch.testing.assert_close(joined.result(60).x_adv, alone(shipped, x, y, 1, 11).x_adv)


def test_a_failure_in_a_shared_step_retries_each_cohort_alone(service, shipped, test_split, monkeypatch):
    x, y, _ = test_split
    hold = HoldFirstStep(monkeypatch, fail_when=lambda runs: runs[-1] == 2 and runs.count(2) == 1)
    first = service.submit("alice", concept(x, y, 0, 10))
    assert hold.entered.wait(30)
    joined = service.submit("bob", concept(x, y, 1, 11))
    hold.release()
    for h, (i, t) in ((first, (0, 10)), (joined, (1, 11))):
        torch.testing.assert_close(h.result(60).x_adv, alone(shipped, x, y, i, t).x_adv)
    assert 2 in hold.runs                                          # they did share a step before the failure


def test_a_failure_while_finishing_a_cohort_reaches_its_job_instead_of_a_hang(service, test_split, monkeypatch):
    x, y, _ = test_split
    calls = []
    original = SennConceptAttack.metrics

    def metrics(attack, *args):
        calls.append(1)
        if len(calls) == 1:                               # the joined loop's end(); the retry alone then succeeds
            raise RuntimeError("metrics failed")
        return original(attack, *args)

    monkeypatch.setattr(SennConceptAttack, "metrics", metrics)
    h = service.submit("alice", concept(x, y, 0, 10))
    assert h.result(60).x_adv.shape == (1, 1, 28, 28) and len(calls) == 2
