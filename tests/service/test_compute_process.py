"""The attack service with its compute process (``sem_core.serve.worker``): the same results as computing in the
service's thread, joining, cancel, errors, a killed process, shutdown, and when the process is used."""
import os
import signal
import time

import pytest
import torch

import sem_core
from sem_core.serve.cache import ResultCache
from sem_core.serve.service import AttackService, JobCancelled, JobSpec


@pytest.fixture
def services():
    made = []

    def make(process: bool) -> AttackService:
        svc = AttackService(device="cpu", cache=ResultCache(), process=process)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.shutdown()


def concept(x, y, i, t, steps=5):
    return JobSpec("senn", "attack", "senn_concept", x[i:i + 2], {"eps": 0.3, "steps": steps}, y=y[i:i + 2],
                   target=x[t:t + 2])


def slow_saliency(x, y, steps=2000):
    return JobSpec("cnn", "attack", "saliency_topk", x[:1], {"eps": 0.1, "steps": steps}, y=y[:1])


def test_every_kind_of_job_gives_the_result_it_gives_in_the_services_thread(services, test_split):
    x, y, _ = test_split
    remote, local = services(True), services(False)
    specs = [concept(x, y, 0, 100),                                                       # joined, in the child
             JobSpec("cnn", "attack", "saliency_topk", x[:2], {"eps": 0.1, "steps": 3}, y=y[:2]),   # one call
             JobSpec("protodl", "attack", "protodl_prototype", x[:2], {"eps": 0.3, "steps": 4}, y=y[:2]),
             JobSpec("cnn", "explain", "ig", x[:3], {}, y=y[:3]),
             JobSpec("cnn", "lipschitz", "random", x[:2], {"explainer": "saliency", "eps": 0.1, "budget": 4})]
    for spec in specs:
        got, want = remote.submit("alice", spec).result(120), local.submit("alice", spec).result(120)
        if isinstance(got, torch.Tensor):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        elif hasattr(got, "x_adv"):
            assert torch.equal(got.x_adv, want.x_adv) and torch.equal(got.pred_after, want.pred_after)
            assert got.metrics.keys() == want.metrics.keys()
        else:
            torch.testing.assert_close(got.values, want.values, rtol=0, atol=0)
    assert remote.compute_pid is not None and local.compute_pid is None


def test_a_job_that_arrives_while_a_batch_runs_in_the_process_joins_it(services, test_split):
    x, y, _ = test_split
    svc = services(True)
    first = svc.submit("alice", concept(x, y, 0, 100, steps=400))
    while first.progress < 0.05:
        time.sleep(0.01)
    late = svc.submit("bob", concept(x, y, 2, 102, steps=400))
    got = late.result(120)
    first.result(120)
    assert late.started < first.finished          # it started before the first batch was over
    alone = sem_core.create_attack("senn_concept", svc.model("senn")[0], eps=0.3, steps=400)(
        x[2:4], y[2:4], target=x[102:104])
    torch.testing.assert_close(got.x_adv, alone.x_adv, rtol=0, atol=1e-6)


def test_cancel_stops_the_work_in_the_process_and_the_next_job_runs(services, test_split):
    x, y, _ = test_split
    svc = services(True)
    for spec in (slow_saliency(x, y), concept(x, y, 0, 100, steps=100000)):   # one call, then a joined batch
        h = svc.submit("alice", spec)
        while h.progress == 0:
            time.sleep(0.01)
        h.cancel()
        with pytest.raises(JobCancelled):
            h.result(5)
        t0 = time.monotonic()
        assert svc.submit("alice", concept(x, y, 4, 104)).result(60).x_adv.shape == (2, 1, 28, 28)
        assert time.monotonic() - t0 < 20   # the cancelled work is not still running ahead of it
    assert svc._compute.starts == 1


def test_an_error_in_the_process_is_that_jobs_error_only(services, test_split):
    x, y, _ = test_split
    svc = services(True)
    bad = svc.submit("alice", JobSpec("senn", "explain", "lrp", x[:1], {}, y=y[:1]))
    good = svc.submit("bob", concept(x, y, 0, 100))
    with pytest.raises(sem_core.SemError) as err:
        bad.result(60)
    local = services(False).submit("alice", JobSpec("senn", "explain", "lrp", x[:1], {}, y=y[:1]))
    with pytest.raises(sem_core.SemError) as want:
        local.result(60)
    assert str(err.value) == str(want.value)   # the message the user reads does not depend on where it ran
    assert good.result(60).x_adv.shape == (2, 1, 28, 28)


def test_a_killed_process_fails_its_job_with_a_clear_message_and_a_new_one_serves_the_next(services, test_split):
    x, y, _ = test_split
    svc = services(True)
    h = svc.submit("alice", slow_saliency(x, y))
    while h.progress == 0:
        time.sleep(0.01)
    os.kill(svc.compute_pid, signal.SIGKILL)
    with pytest.raises(sem_core.SemError, match="compute process stopped"):
        h.result(30)
    assert svc.submit("bob", concept(x, y, 0, 100)).result(120).x_adv.shape == (2, 1, 28, 28)
    assert svc._compute.starts == 2


def test_a_killed_process_under_a_joined_batch_reruns_it_in_a_new_one(services, test_split):
    x, y, _ = test_split
    svc = services(True)
    h = svc.submit("alice", concept(x, y, 0, 100, steps=3000))
    while h.progress == 0:
        time.sleep(0.01)
    os.kill(svc.compute_pid, signal.SIGKILL)
    assert h.result(120).x_adv.shape == (2, 1, 28, 28) and svc._compute.starts == 2


def test_shutdown_ends_the_process(services, test_split):
    svc = services(True)
    svc.submit("alice", JobSpec("cnn", "explain", "saliency", test_split[0][:1])).result(120)
    pid = svc.compute_pid
    svc.shutdown()
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)


def test_who_computes_where(monkeypatch, shipped):
    monkeypatch.delenv("SEM_SERVICE_PROCESS", raising=False)
    made = [AttackService(device="cpu", cache=ResultCache())]   # the default: the service's thread
    try:
        with pytest.raises(ValueError, match="process=False"):
            AttackService(device="cpu", loader=lambda name: shipped[name], process=True)
        monkeypatch.setenv("SEM_SERVICE_PROCESS", "1")
        made.append(AttackService(device="cpu", loader=lambda name: shipped[name]))   # a custom loader stays here
        assert all(s._compute is None for s in made)
        made.append(AttackService(device="cpu", cache=ResultCache()))
        assert made[-1]._compute is not None
    finally:
        for s in made:
            s.shutdown()
