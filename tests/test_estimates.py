"""Time estimates (sem_core.serve.estimates): the NNLS cost model, learning from runs, the background probe, fallbacks."""
import threading

import numpy as np
import pytest
import torch

from sem_core.serve.estimates import Estimator, Job, attack_job, fit_cost, lipschitz_jobs, load_factor
from sem_core.serve.jobs import job_of_spec

TRUE = np.array([0.05, 0.002, 0.001, 0.0003, 1.5])   # fixed, per digit, per step, per digit·step, setup


def quiet(**kw):
    """An estimator without a probe, the cost table or the machine's load (known answers)."""
    kw.setdefault("probe", [])
    return Estimator(table=kw.pop("table", {}), load=lambda: 1.0, **kw)


def synthetic_points(est, family="attack/x", model="m", coef=TRUE):
    for n in (1, 5, 20, 100):
        for steps in (1, 10, 100):
            job = Job(family, model, n, steps)
            est.record(job, float(job.features() @ coef), source="probe", load=1.0)   # measured on an idle machine


def test_nnls_recovers_known_coefficients_from_synthetic_timings():
    x = np.array([Job("f", "m", n, s, setup).features() for n in (1, 5, 20, 100) for s in (1, 10, 50, 100)
                  for setup in (False, True)])
    coef = fit_cost(x, x @ TRUE)
    assert coef == pytest.approx(TRUE, rel=1e-6)
    noisy = x @ TRUE * np.random.default_rng(0).uniform(0.97, 1.03, len(x))   # 3 % noise: still close, never < 0
    coef = fit_cost(x, noisy)
    assert (coef >= 0).all() and coef[3] == pytest.approx(TRUE[3], rel=0.1) and coef[4] == pytest.approx(1.5, rel=0.1)


def test_the_estimate_follows_the_fit_and_the_load():
    est = quiet()
    synthetic_points(est)
    job = Job("attack/x", "m", 200, 100)
    e = est.estimate(job)
    assert e.seconds == pytest.approx(float(job.features() @ TRUE), rel=1e-6) and e.low < e.seconds < e.high
    assert e.basis == "measured" and e.runs == 0
    loaded = Estimator(probe=[], table={}, load=lambda: 2.0)
    synthetic_points(loaded)
    assert loaded.estimate(job).seconds == pytest.approx(2 * e.seconds)      # the load now scales the estimate
    assert load_factor(0.0, 2) == 1.0 and load_factor(7.0, 2) == pytest.approx(2.0)


def test_learning_from_runs_moves_the_estimate_toward_the_observed_time():
    est = quiet()
    synthetic_points(est)
    job = Job("attack/x", "m", 200, 100)
    other = Job("attack/x", "m", 100, 50)
    before, other_before = est.estimate(job).seconds, est.estimate(other).seconds
    observed = 3 * before                                   # the real runs are slower than the probe predicted
    errors = [abs(before - observed)]
    for _ in range(3):
        est.record(job, observed)
        errors.append(abs(est.estimate(job).seconds - observed))
    assert max(errors[1:]) < 0.05 * errors[0]
    assert est.estimate(other).seconds > 2 * other_before   # a job of another size moves the same way
    assert est.estimate(job).runs == 3 and "3 runs here" in est.estimate(job).describe()


def test_describe_says_calibrating_until_the_probe_has_finished_then_measured():
    gate, threads = threading.Event(), []

    def run():
        threads.append(threading.current_thread())
        gate.wait(30)
        return torch.ones(100).cumsum(0)

    job = Job("attack/y", "m", 4, 10)
    est = quiet(probe=[(job, run)])
    e = est.estimate(job)                                   # returns at once: the probe waits on the gate
    assert e.seconds is None and e.calibrating and e.describe() == "Time estimate: calibrating on this machine…"
    gate.set()
    assert est.wait(30) and not est.calibrating
    assert threads and threads[0] is not threading.main_thread()   # the probe ran in its own thread
    e = est.estimate(job)
    assert e.seconds > 0 and not e.calibrating
    assert e.describe().startswith(("Estimated time: about ", "Estimated time: under 0.1 s"))
    assert "on this machine (measured" in e.describe()
    assert e.took(2.04) == f"Took 2.0 s (estimated {e.describe().removeprefix('Estimated time: ').removeprefix('about ').split(' on')[0]})"


def test_a_failing_probe_never_raises_into_the_caller():
    def boom():
        raise RuntimeError("no such model")

    est = quiet(probe=[(Job("attack/z", "m"), boom)])
    e = est.estimate(Job("attack/z", "m"))
    assert est.wait(30) and "RuntimeError: no such model" in est.probe_error
    e = est.estimate(Job("attack/z", "m"))
    assert e.seconds is None and e.describe() == "Time estimate: none yet for this job (its first run is measured)."
    est.record(Job("attack/z", "m", 2, 3), 1.5)             # a real run still teaches it
    assert est.estimate(Job("attack/z", "m", 2, 3)).seconds == pytest.approx(1.5)


def test_the_default_probe_runs_real_attacks_on_the_shipped_models(shipped):
    est = Estimator(device="cpu", model_fn=lambda name: shipped[name][0], load=lambda: 1.0, probe_cpu_s=0.3)
    assert est.wait(120) and est.probe_error is None
    coef = est.coefficients("attack/senn_concept", "senn")   # the first family measured
    assert coef is not None and (coef >= 0).all() and coef.sum() > 0
    e = est.estimate(attack_job("senn", "senn_concept", 200, 100))
    assert e.basis == "measured" and e.seconds > est.estimate(attack_job("senn", "senn_concept", 50, 100)).seconds


def test_fallbacks_a_similar_model_and_the_cost_table_scaled_to_this_machine():
    table = {"cnn": {"saliency": 0.001, "lime": 0.03}}
    est = quiet(table=table)
    lime = lipschitz_jobs("cnn", ["lime"], 5, 20)["lime"]
    assert est.estimate(lime).seconds == pytest.approx(0.03 * 100) and est.estimate(lime).basis == "cost table"
    sal = lipschitz_jobs("cnn", ["saliency"], 5, 20)["saliency"]
    est.record(sal, 2 * 0.001 * 100, source="probe")        # this machine: twice the table's time
    assert est.estimate(lime).seconds == pytest.approx(2 * 0.03 * 100)
    synthetic_points(est, "attack/senn_concept", "senn")
    robust = est.estimate(attack_job("senn-adv", "senn_concept", 1, 100))
    assert robust.basis == "similar model" and robust.seconds == pytest.approx(float(Job("a", "", 1, 100).features() @ TRUE))
    both = est.estimate([attack_job("senn", "senn_concept", 1, 100), attack_job("senn-adv", "senn_concept", 1, 100)])
    assert both.seconds == pytest.approx(2 * robust.seconds) and both.basis == "similar model"


def test_saved_experiment_runs_seed_their_family(tmp_path):
    import json

    for n, s in ((10, 20.0), (40, 80.0)):
        folder = tmp_path / f"run{n}"
        folder.mkdir()
        (folder / "manifest.json").write_text(json.dumps({"experiment": "demo", "params": {"n": n}, "seconds": s,
                                                          "summary": {}}))
    (tmp_path / "broken").mkdir()
    est = quiet()
    est.record_saved([tmp_path / "run10", tmp_path / "run40", tmp_path / "broken"])
    est.record_saved([tmp_path / "run10"])                 # re-read on every page view: counted once
    e = est.estimate(Job("experiment/demo", "", 20, 1))
    assert e.seconds == pytest.approx(40.0, rel=1e-3) and e.basis == "saved runs" and "from saved runs" in e.describe()
    reads = []
    real = type(tmp_path).read_text
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(tmp_path), "read_text", lambda self, *a, **k: reads.append(self) or real(self, *a, **k))
        est.record_saved([tmp_path / "run10", tmp_path / "run40"])      # unchanged: not read again
        assert reads == []
        (tmp_path / "run40" / "manifest.json").write_text(json.dumps(
            {"experiment": "demo", "params": {"n": 40}, "seconds": 160.0, "summary": {}}))   # a run resumed and grew
        est.record_saved([tmp_path / "run10", tmp_path / "run40"])
        assert reads == [tmp_path / "run40" / "manifest.json"]
    assert est.estimate(Job("experiment/demo", "", 40, 1)).seconds > 80.0


def test_job_of_spec_reads_steps_budget_and_method(test_split):
    from sem_core.serve.service import JobSpec

    x, y, _ = test_split
    assert job_of_spec(JobSpec("cnn", "attack", "saliency_topk", x[:3], {"steps": 7, "method": "ig"})) == \
        Job("attack/saliency_topk/ig", "cnn", 3, 7)
    assert job_of_spec(JobSpec("cnn", "lipschitz", "auto", x[:2], {"explainer": "lime", "budget": 9})) == \
        Job("lipschitz/lime", "cnn", 2, 9)


def test_a_tiny_estimate_reads_as_english():
    from sem_core.serve.estimates import Estimate

    text = Estimate(0.05, 0.02, 0.2, "measured").describe()
    assert "about under" not in text and text.startswith("Estimated time: under 0.1 s") and "up to 0.2 s" in text
    assert Estimate(12.0, 8.0, 18.0, "measured").describe().startswith("Estimated time: about 12 s")
