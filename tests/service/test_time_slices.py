"""The worker's time slices: a long job pauses at its checkpoints for the other sessions, keeps its own random
state, stops at once when cancelled, and never pauses inside a torch function mode; skopt in a helper process
computes what it computes in-process."""
import threading
import time

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from sem_core.batching import answer_calls, checkpoint, pause_points, pausing, run_beside
from sem_core.lipschitz.gp_search import _gp_minimize
from sem_core.lipschitz.skopt_process import GpProcess
from sem_core.serve.cache import ResultCache
from sem_core.serve.jobs import ExplainKind
from sem_core.serve.service import AttackService, JobSpec

STEPS = 60


class Slow(ExplainKind):
    """A one-call kind that takes STEPS x 20 ms, checkpointing between steps and drawing from the global torch RNG
    after each (a job whose result depends on its random state), optionally inside a function mode."""

    name = "slow"

    def __init__(self, mode=None, started: threading.Event | None = None):
        self.mode, self.started = mode, started or threading.Event()

    def call(self, algo, x, y, target, seed, on_step):
        torch.manual_seed(seed)
        total = 0.0
        self.started.set()
        for k in range(STEPS):
            time.sleep(0.02)
            if self.mode is not None:
                with self.mode():
                    checkpoint()
            else:
                checkpoint()
            total += torch.rand(1).item() + float(np.random.rand())
        return torch.full_like(x, total)


class Noisy(ExplainKind):
    """A quick one-call kind that draws from every global random generator (torch, NumPy)."""

    name = "noisy"

    def call(self, algo, x, y, target, seed, on_step):
        torch.rand(1000)
        np.random.rand(1000)
        return x.clone()


@pytest.fixture
def make_service(shipped):
    made = []

    def make(**kw):
        svc = AttackService(device="cpu", cache=ResultCache(), loader=lambda name: shipped[name], **kw)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.shutdown()


def _spec(kind, x, seed=0):
    return JobSpec("cnn", kind, "saliency", x, seed=seed)


def test_a_long_job_pauses_for_another_session_and_computes_the_same(make_service, test_split):
    x = test_split[0]
    slow = Slow()
    svc = make_service(kinds={"slow": slow, "noisy": Noisy()})
    np.random.seed(5)
    long_job = svc.submit("a", _spec("slow", x[:1], seed=3))
    assert slow.started.wait(30)
    quick = [svc.submit(f"b{i}", _spec("noisy", x[1 + i:2 + i])) for i in range(3)]
    quick.append(svc.submit("c", JobSpec("cnn", "explain", "saliency", x[9:10])))
    for h in quick:
        h.result(30)
        assert not long_job.done()          # served while the long job was still running
    paused = long_job.result(60)
    assert svc.pauses >= 1

    alone = make_service(kinds={"slow": Slow(), "noisy": Noisy()}, time_slice_s=None)
    np.random.seed(5)
    again = alone.submit("a", _spec("slow", x[:1], seed=3)).result(60)
    assert alone.pauses == 0
    assert torch.equal(paused, again)       # the others' draws did not reach the paused job's random state


def test_a_paused_jobs_compute_time_does_not_count_the_pause(make_service, test_split):
    x = test_split[0]
    slow = Slow()
    svc = make_service(kinds={"slow": slow, "noisy": Noisy()})
    long_job = svc.submit("a", _spec("slow", x[:1]))
    assert slow.started.wait(30)
    quick = svc.submit("b", JobSpec("cnn", "explain", "saliency", x[1:2]))
    quick.result(30)
    long_job.result(60)
    t = long_job.timings()
    assert t["compute_s"] <= t["total_s"] and t["compute_s"] + quick.timings()["compute_s"] <= t["total_s"] + 0.05


def test_no_pause_inside_a_torch_function_mode(make_service, test_split):
    """A surrogate's function mode (softplus for ReLU) must not leak into another job: no pause there."""
    x = test_split[0]
    slow = Slow(mode=TorchFunctionMode)
    svc = make_service(kinds={"slow": slow})
    long_job = svc.submit("a", _spec("slow", x[:1]))
    assert slow.started.wait(30)
    quick = svc.submit("b", JobSpec("cnn", "explain", "saliency", x[1:2]))
    quick.result(60)
    assert long_job.done() and svc.pauses == 0


def test_a_cancelled_job_stops_at_its_next_checkpoint_even_inside_a_helper(make_service, test_split):
    x = test_split[0]
    started = threading.Event()

    class Sleeper(ExplainKind):
        name = "sleeper"

        def call(self, algo, x, y, target, seed, on_step):
            started.set()
            run_beside(time.sleep, 30)       # a step with no pause point of its own
            return x.clone()

    svc = make_service(kinds={"sleeper": Sleeper()})
    job = svc.submit("a", _spec("sleeper", x[:1]))
    assert started.wait(30)
    t0 = time.monotonic()
    svc.release_session("a")
    while job in svc.queue.running and time.monotonic() - t0 < 5:
        time.sleep(0.01)
    assert job.state == "cancelled" and job not in svc.queue.running and time.monotonic() - t0 < 2


def test_checkpoints_do_nothing_outside_the_service():
    assert not pausing()
    checkpoint()                              # no hook: nothing happens
    calls = []
    with pause_points(lambda: calls.append(1)):
        with pause_points(lambda: calls.append(2)):
            checkpoint()
        checkpoint()
        assert pausing()
    assert calls == [2, 1] and not pausing()
    assert run_beside(sum, [1, 2]) == 3       # inline without a hook
    with pause_points(lambda: None), pytest.raises(ZeroDivisionError):
        run_beside(lambda: 1 / 0)


def test_skopt_in_the_helper_process_equals_skopt_in_process():
    rng = np.random.default_rng(0)
    w = rng.normal(size=4)
    bounds = [(0.0, 1.0)] * 4

    def f(z):
        return float(np.sin(np.asarray(z) @ w))

    kwargs = {"n_calls": 12, "n_initial_points": 5, "random_state": 3, "n_jobs": 1}
    inline = _gp_minimize(f, bounds, **kwargs).func_vals
    with GpProcess() as helper:
        remote = helper.minimise(f, bounds, **kwargs)
        with pytest.raises(RuntimeError, match="optimiser process failed"):
            helper.minimise(f, bounds, n_calls=2, n_initial_points=5, nonsense=1)
        proc = helper.proc
    assert np.array_equal(inline, np.asarray(remote))
    assert proc.poll() is not None            # closed: the process is gone


def test_answer_calls_reports_a_helper_that_died():
    import queue

    with pause_points(lambda: None), pytest.raises(RuntimeError, match="ended without a result"):
        answer_calls(queue.Queue(), lambda msg: None, lambda z: 0.0, alive=lambda: False)


def test_the_shipped_search_in_the_service_equals_the_search_in_process(make_service, shipped, test_split):
    """The authors' gp_minimize search, run by the service (skopt in the helper process) and in-process."""
    x = test_split[0][:1]
    svc = make_service()
    from sem_core.lipschitz import lipschitz_of
    from sem_core.serve.views import lipschitz_job

    served = svc.submit("a", lipschitz_job("cnn", "saliency", x, protocol="authors", budget=12)).result(300)
    inline = lipschitz_of(shipped["cnn"][0], "saliency", x, budget=12, seed=0, protocol="authors", source="subset")
    assert torch.equal(served.values, inline.values) and torch.equal(served.x_prime, inline.x_prime)
