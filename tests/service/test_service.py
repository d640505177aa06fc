"""The attack service: coalescing, fairness, cancel, bounded queue, OOM splitting, errors per session."""
import threading
from collections import deque

import pytest
import torch

import sem_core
from sem_core.serve.cache import ResultCache
from sem_core.serve.jobs import AttackKind
from sem_core.serve.service import AttackService, JobCancelled, JobSpec, QueueFullError, ServiceError

CFG = {"eps": 0.3, "steps": 3, "lam": 1.0}


@pytest.fixture
def make_service(shipped):
    made = []

    def make(**kw):
        kw.setdefault("cache", ResultCache())
        svc = AttackService(device="cpu", loader=lambda name: shipped[name] if name in shipped else
                            sem_core.load_model_with_card(name, "cpu"), **kw)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.shutdown()


class Hooked(AttackKind):
    """The attack job kind with ``hook(x)`` called as each batch begins (it may raise, as a failing run would)."""

    def __init__(self, hook=None):
        self.hook = hook

    def begin(self, algo, x, y, target, seed, on_step):
        if self.hook is not None:
            self.hook(x)
        return super().begin(algo, x, y, target, seed, on_step)


class Gate(Hooked):
    """Blocks the worker as its first batch begins until ``open()``, recording every batch's size."""

    def __init__(self, hook=None):
        super().__init__(hook)
        self.calls, self._open, self.entered = [], threading.Event(), threading.Event()

    def begin(self, algo, x, y, target, seed, on_step):
        self.entered.set()
        self._open.wait(30)
        self.calls.append(len(x))
        return super().begin(algo, x, y, target, seed, on_step)

    def open(self):
        self._open.set()


def concept(x, y, i, t, **cfg):
    return JobSpec("senn", "attack", "senn_concept", x[i:i + 1], {**CFG, **cfg}, y=y[i:i + 1], target=x[t:t + 1])


def blocker(svc, gate, x, y):
    """Occupy the worker with one job so the following ones queue up together."""
    h = svc.submit("blocker", concept(x, y, 50, 51, eps=0.2))
    assert gate.entered.wait(30)
    return h


def test_two_sessions_coalesce_into_one_batched_call_each_with_its_own_digit(make_service, shipped, test_split):
    x, y, _ = test_split
    gate = Gate()
    svc = make_service(kinds={"attack": gate})
    first = blocker(svc, gate, x, y)
    a, b = svc.submit("alice", concept(x, y, 0, 10)), svc.submit("bob", concept(x, y, 1, 11))
    assert a.status().startswith("Busy: your job is number") and b.position() == 3
    gate.open()
    ra, rb = a.result(60), b.result(60)
    first.result(60)
    assert gate.calls == [1, 2]                        # the blocker alone, then alice + bob in one call
    solo = sem_core.create_attack(shipped["senn"][0], "senn_concept", **CFG)
    for res, i, t in ((ra, 0, 10), (rb, 1, 11)):
        alone = solo(x[i:i + 1], y[i:i + 1], target=x[t:t + 1])
        assert torch.equal(res.x, x[i:i + 1]) and torch.equal(res.extras["x_target"], x[t:t + 1])
        torch.testing.assert_close(res.x_adv, alone.x_adv)
        assert res.objective.shape == (CFG["steps"] + 1, 1)


def test_a_repeated_request_is_served_from_the_cache_by_anyone(make_service, test_split):
    x, y, _ = test_split
    svc = make_service()
    res = svc.submit("alice", concept(x, y, 3, 13)).result(60)
    batches = svc.batches
    again = svc.submit("bob", concept(x, y, 3, 13))
    assert again.done() and again.cached == 1 and svc.batches == batches
    assert torch.equal(again.result().x_adv, res.x_adv)
    assert svc.peek(concept(x, y, 3, 13)) is not None and svc.peek(concept(x, y, 4, 13)) is None


def test_fairness_a_big_job_does_not_starve_single_digits(make_service, test_split):
    x, y, _ = test_split
    gate = Gate()
    svc = make_service(kinds={"attack": gate}, max_batch=4)
    first = blocker(svc, gate, x, y)
    big = svc.submit("researcher", JobSpec("senn", "attack", "senn_concept", x[:12], CFG, y=y[:12], target=x[20:32]))
    small = [svc.submit(f"student{i}", concept(x, y, 40 + i, 60 + i)) for i in range(3)]
    gate.open()
    for h in [first, big, *small]:
        h.result(120)
    assert gate.calls[:2] == [1, 4]
    # the first call after the blocker carries every student's digit and one of the researcher's
    assert max(h.finished for h in small) < big.finished
    assert all(h.compute_s == small[0].compute_s for h in small)
    assert big.result().x.shape[0] == 12 and torch.equal(big.result().x, x[:12])


def test_cancel_a_queued_job_and_a_running_one(make_service, test_split):
    x, y, _ = test_split
    gate = Gate()
    svc = make_service(kinds={"attack": gate})
    first = blocker(svc, gate, x, y)
    queued = svc.submit("alice", concept(x, y, 0, 10))
    queued.cancel()
    assert queued.state == "cancelled" and queued.position() == 0
    with pytest.raises(JobCancelled, match="cancelled"):
        queued.result(1)
    first.cancel()                                      # running alone: the batch stops at its next step
    gate.open()
    with pytest.raises(JobCancelled):
        first.result(30)
    later = svc.submit("alice", concept(x, y, 2, 12)).result(60)  # the service still works
    assert later.x_adv.shape == (1, 1, 28, 28) and svc.batches == 1


def test_queue_full_is_a_clear_message_not_a_hang(make_service, test_split):
    x, y, _ = test_split
    gate = Gate()
    svc = make_service(kinds={"attack": gate}, max_queued=2, max_per_session=1)
    first = blocker(svc, gate, x, y)
    svc.submit("alice", concept(x, y, 0, 10))
    with pytest.raises(QueueFullError, match="already have 1 jobs waiting"):
        svc.submit("alice", concept(x, y, 1, 10))
    svc.submit("bob", concept(x, y, 2, 10))
    with pytest.raises(QueueFullError, match="busy: 2 jobs are waiting"):
        svc.submit("carol", concept(x, y, 3, 10))
    gate.open()
    first.result(60)


def test_out_of_memory_splits_the_batch_and_retries(make_service, test_split):
    x, y, _ = test_split
    sizes = []

    def fake_oom(xb):
        sizes.append(len(xb))
        if len(xb) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    svc = make_service(kinds={"attack": Hooked(fake_oom)})
    h = svc.submit("alice", JobSpec("senn", "attack", "senn_concept", x[:5], CFG, y=y[:5], target=x[10:15]))
    res = h.result(60)
    assert sizes[:2] == [5, 2] and sum(s for s in sizes if s <= 2) == 5   # 5 → 2 + 3 → 2 + 1 + 2
    assert torch.equal(res.x, x[:5]) and res.x_adv.shape == (5, 1, 28, 28)
    one = svc.submit("bob", JobSpec("senn", "attack", "senn_concept", x[20:21], CFG, y=y[20:21], target=x[0:1]))
    assert one.result(60).x_adv.shape == (1, 1, 28, 28)   # a later job starts at the learnt size


def test_one_image_out_of_memory_is_a_clear_error():
    def always_oom(xb):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    svc = AttackService(device="cpu", cache=ResultCache(), kinds={"attack": Hooked(always_oom)},
                        loader=lambda name: sem_core.load_model_with_card(name, "cpu"))
    try:
        h = svc.submit("alice", JobSpec("cnn", "attack", "saliency_topk", torch.zeros(1, 1, 28, 28), {"steps": 2}))
        with pytest.raises(ServiceError, match="ran out of memory even for one image"):
            h.result(30)
    finally:
        svc.shutdown()


@pytest.mark.parametrize("spec, message", [
    (JobSpec("senn", "attack", "senn_concept", torch.zeros(1, 28, 28), CFG), r"\[n,1,28,28\]"),
    (JobSpec("senn", "attack", "senn_concept", torch.full((1, 1, 28, 28), 2.0), CFG), r"in \[0,1\]"),
    (JobSpec("nope", "attack", "senn_concept", torch.zeros(1, 1, 28, 28), CFG), "unknown model 'nope'"),
    (JobSpec("senn", "attack", "nope", torch.zeros(1, 1, 28, 28), CFG), "nope"),
    (JobSpec("senn", "bake", "senn_concept", torch.zeros(1, 1, 28, 28), CFG), "unknown job kind"),
    (JobSpec("senn", "attack", "senn_concept", torch.zeros(1, 1, 28, 28), {"eps": 0.3, "bogus": 1},
             target=torch.zeros(1, 1, 28, 28)), "has no setting bogus"),
    (JobSpec("senn", "attack", "senn_concept", torch.zeros(1, 1, 28, 28), CFG), "needs a target"),
    (JobSpec("senn", "attack", "senn_concept", torch.zeros(2, 1, 28, 28), CFG, y=torch.zeros(3, dtype=torch.long),
             target=torch.zeros(2, 1, 28, 28)), "one entry per image"),
    (JobSpec("cnn", "attack", "protodl_prototype", torch.zeros(1, 1, 28, 28), CFG), "PrototypeDL"),
])
def test_bad_input_is_an_error_to_that_session_only(make_service, test_split, spec, message):
    x, y, _ = test_split
    svc = make_service()
    good = svc.submit("alice", concept(x, y, 7, 17))
    with pytest.raises(sem_core.SemError, match=message):
        svc.submit("mallory", spec)
    assert good.result(60).x_adv.shape == (1, 1, 28, 28)


def test_a_failing_job_in_a_mixed_batch_does_not_lose_the_others(make_service, test_split):
    x, y, _ = test_split
    gate = Gate()

    def picky(xb):
        if (xb.flatten(1).sum(1) == 0).any():
            raise sem_core.AttackError("a blank digit cannot be attacked")

    gate.hook = picky
    svc = make_service(kinds={"attack": gate})
    first = blocker(svc, gate, x, y)
    good = svc.submit("alice", concept(x, y, 0, 10))
    blank = JobSpec("senn", "attack", "senn_concept", torch.zeros(1, 1, 28, 28), CFG, y=y[:1], target=x[10:11])
    bad = svc.submit("mallory", blank)
    gate.open()
    assert good.result(60).x_adv.shape == (1, 1, 28, 28)
    with pytest.raises(sem_core.AttackError, match="blank digit"):
        bad.result(60)
    first.result(60)


def test_explain_and_lipschitz_jobs(make_service, test_split):
    x, y, _ = test_split
    svc = make_service()
    maps = svc.submit("alice", JobSpec("cnn", "explain", "saliency", x[:3])).result(60)
    assert maps.shape == (3, 1, 28, 28)
    torch.testing.assert_close(maps, sem_core.explain(svc.model("cnn")[0], "saliency", x[:3]))
    lip = svc.submit("alice", JobSpec("cnn", "lipschitz", "random", x[:2],
                                      {"explainer": "saliency", "eps": 0.1, "budget": 4})).result(60)
    assert lip.values.shape == (2,) and lip.history.shape[1] == 2


def test_a_sessions_end_cancels_its_waiting_jobs_only(make_service, test_split):
    x, y, _ = test_split
    gate = Gate()
    svc = make_service(kinds={"attack": gate})
    first = blocker(svc, gate, x, y)
    gone = [svc.submit("alice", concept(x, y, i, 10)) for i in range(2)]
    stays = svc.submit("bob", concept(x, y, 5, 10))
    svc.release_session("alice")
    assert all(h.state == "cancelled" for h in gone) and stays.state == "queued"
    gate.open()
    assert stays.result(60).x_adv.shape == (1, 1, 28, 28)
    first.result(60)


def test_time_estimate_comes_from_the_measured_batches(make_service, test_split):
    from sem_core.serve.estimates import Estimator

    x, y, _ = test_split
    spec = JobSpec("senn", "attack", "senn_concept", x[:4], CFG, y=y[:4], target=x[10:14])
    assert make_service().estimate(spec) is None                 # no estimator: no guess
    svc = make_service(estimator=Estimator(probe=[], table={}, load=lambda: 1.0))
    assert svc.estimate(spec).seconds is None                    # nothing measured yet: no guess
    h = svc.submit("alice", spec)
    h.result(60)
    e = svc.estimate(spec)                                       # the batch it just ran, recorded
    assert e.seconds == pytest.approx(h.timings()["compute_s"], rel=1e-6) and e.runs == 1
    bigger = JobSpec("senn", "attack", "senn_concept", x[:8], {**CFG, "steps": 6}, y=y[:8], target=x[10:18])
    assert svc.estimate(bigger).seconds == pytest.approx(4 * e.seconds)   # 2× the digits, 2× the steps


def test_a_failed_job_leaves_the_queue_with_its_remaining_images(make_service, test_split):
    x, y, _ = test_split
    calls = []

    def broken(xb):
        calls.append(len(xb))
        raise sem_core.AttackError("this attack cannot run here")

    svc = make_service(kinds={"attack": Hooked(broken)}, max_batch=2)
    h = svc.submit("alice", JobSpec("senn", "attack", "senn_concept", x[:5], CFG, y=y[:5], target=x[10:15]))
    with pytest.raises(sem_core.AttackError, match="cannot run here"):
        h.result(60)
    svc.shutdown()                      # the worker has nothing left to take
    assert calls == [2] and h.pending == deque() and svc.stats()["queued_jobs"] == 0


def test_settle_heap_freezes_the_long_lived_objects_once(monkeypatch):
    """The app settles the heap after its first run: what is alive then leaves the collector's walks."""
    import gc

    from sem_core.serve import memory as svc

    monkeypatch.setattr(svc, "_settled", False)
    gc.unfreeze()
    try:
        assert svc.settle_heap() is True
        frozen = gc.get_freeze_count()
        assert frozen > 10_000           # the modules, torch, the test's objects: all alive now
        assert svc.settle_heap() is False  # once per process: a second call freezes nothing new
        assert gc.get_freeze_count() <= frozen  # (a frozen object freed by reference counting leaves the count)
    finally:
        gc.unfreeze()
