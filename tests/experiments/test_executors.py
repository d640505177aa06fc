"""Executors: the registry, in-process = any completion order, Ray = in-process, resume across executors."""
import json
import socket
import sys

import pytest
import torch

from sem_core.errors import SemError, UnknownNameError
from sem_core.experiments import run_experiment
from sem_core.experiments.executors import Executor, InProcessExecutor, create_executor, list_executors
from sem_core.experiments.runner import EXPERIMENTS, Experiment, Outputs

TINY_SENN = dict(n=6, targets=2, steps=3, chunk=2, device="cpu")   # 3 chunks


class Toy(Experiment):
    """A model-free experiment: chunk k of n digits holds their squares plus the seed (no figures)."""

    defaults = {"n": 20, "chunk": 5, "data": "subset"}

    def chunks(self, ctx):
        n, size = ctx.params["n"], ctx.params["chunk"]
        return [{"digits": list(range(i, min(i + size, n)))} for i in range(0, n, size)]

    def run_chunk(self, spec, ctx):
        return {"idx": spec["digits"], "value": [d * d + ctx.params["seed"] for d in spec["digits"]]}

    def finalize(self, results, ctx):
        rows = [{"idx": i, "value": v} for r in results for i, v in zip(r["idx"], r["value"])]
        return Outputs(rows, {"total": sum(r["value"] for r in rows)})

    def verdict(self, summary):
        return "reproduced", "a toy"


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(EXPERIMENTS._items, "toy", Toy)
    return "toy"


class ReversedExecutor(InProcessExecutor):
    """Computes the chunks last-first, as a cluster may finish them out of order."""

    def run(self, exp, ctx, pending):
        order = []
        for item in super().run(exp, ctx, list(reversed(pending))):
            order.append(item[0])
            yield item
        self.order = order


class Interrupt(Exception):
    """Stands for Ctrl-C after some chunks were saved."""


def interrupt_after(saved: int):
    def on_step(done, total):
        if done == saved:
            raise Interrupt
    return on_step


def chunk_results(folder):
    return {p.name: json.loads(p.read_text())["result"] for p in sorted((folder / "chunks").glob("0*.json"))}


def test_registry_lists_the_executors_and_refuses_unknown_names():
    assert list_executors() == ["in-process", "ray"]
    with pytest.raises(UnknownNameError, match="available: in-process, ray"):
        create_executor("dask")
    with pytest.raises(UnknownNameError, match="unknown executor"):
        run_experiment("faithfulness", "unused", n=10, executor="dask")


def test_address_is_only_for_ray_and_must_be_host_port():
    with pytest.raises(SemError, match="--address is for --executor ray"):
        create_executor("in-process", address="10.0.0.1:6379")
    for bad in ("10.0.0.1", "host:99999", "host:port", ":6379", "a b:1"):
        with pytest.raises(SemError, match="--address must be HOST:PORT"):
            create_executor("ray", address=bad)
    assert create_executor("ray", address="ray://head:10001").address == "ray://head:10001"


def test_unreachable_address_is_one_clear_error_not_minutes_of_retries():
    with socket.socket() as s:            # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SemError, match=f"cannot reach a Ray cluster at \"127.0.0.1:{port}\""):
        with create_executor("ray", address=f"127.0.0.1:{port}"):
            pass


def test_missing_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)   # import ray -> ImportError
    with pytest.raises(SemError, match="needs the ray package"):
        with create_executor("ray"):
            pass


def test_chunks_finishing_out_of_order_give_the_in_process_result(tmp_path, toy):
    params = dict(n=20, chunk=5, device="cpu", seed=3)
    a = run_experiment(toy, tmp_path / "a", **params)
    ex = ReversedExecutor()
    b = run_experiment(toy, tmp_path / "b", executor=ex, **params)
    assert ex.order == [3, 2, 1, 0]
    assert chunk_results(tmp_path / "a") == chunk_results(tmp_path / "b")
    assert a["summary"] == b["summary"] == {"total": sum(d * d + 3 for d in range(20))}
    assert (a["executor"], b["executor"]) == ("in-process", "in-process")
    assert json.loads((tmp_path / "a" / "results.json").read_text()) == json.loads((tmp_path / "b" / "results.json").read_text())


def test_a_run_interrupted_under_one_executor_resumes_under_another(tmp_path, toy):
    params = dict(n=20, chunk=5, device="cpu")
    with pytest.raises(Interrupt):
        run_experiment(toy, tmp_path, on_step=interrupt_after(2), executor=ReversedExecutor(), **params)
    assert sorted(chunk_results(tmp_path)) == ["0002.json", "0003.json"]   # the last two, saved first
    m = run_experiment(toy, tmp_path, **params)
    assert (m["chunks_computed"], m["chunks_reused"], m["chunks_recomputed"]) == (2, 2, 0)


def test_the_base_executor_computes_nothing():
    with pytest.raises(NotImplementedError):
        next(Executor().run(None, None, [(0, {})]))


@pytest.mark.slow
def test_ray_gives_the_in_process_result(tmp_path):
    a = run_experiment("senn-distances", tmp_path / "a", **TINY_SENN)
    b = run_experiment("senn-distances", tmp_path / "b", executor=create_executor("ray", num_cpus=2), **TINY_SENN)
    assert b["executor"] == "ray (local, 2 CPUs)" and b["chunks_computed"] == 3
    assert chunk_results(tmp_path / "a") == chunk_results(tmp_path / "b")
    assert json.loads((tmp_path / "a" / "results.json").read_text()) == json.loads((tmp_path / "b" / "results.json").read_text())
    assert a["summary"] == b["summary"]
    import ray

    assert not ray.is_initialized(), "the local Ray it started is shut down at the end"


@pytest.mark.slow
@pytest.mark.parametrize("first, second", [("in-process", "ray"), ("ray", "in-process")])
def test_ray_and_in_process_resume_each_other(tmp_path, first, second):
    reference = run_experiment("senn-distances", tmp_path / "ref", **TINY_SENN)
    out = tmp_path / "run"
    with pytest.raises(Interrupt):
        run_experiment("senn-distances", out, on_step=interrupt_after(1),
                       executor=create_executor(first, **({"num_cpus": 2} if first == "ray" else {})), **TINY_SENN)
    assert len(chunk_results(out)) == 1
    m = run_experiment("senn-distances", out, executor=create_executor(second, **({"num_cpus": 2} if second == "ray" else {})),
                       **TINY_SENN)
    assert (m["chunks_computed"], m["chunks_reused"], m["chunks_recomputed"]) == (2, 1, 0)
    assert chunk_results(out) == chunk_results(tmp_path / "ref")
    assert m["summary"] == reference["summary"]


def test_cli_refuses_a_bad_executor_setup_before_any_work(tmp_path, capsys):
    from sem_core.cli.main import main

    out = tmp_path / "run"
    assert main(["experiment", "faithfulness", "--n", "10", "--out", str(out), "--address", "10.0.0.1:6379"]) == 2
    assert "--address is for --executor ray" in capsys.readouterr().err
    assert main(["experiment", "faithfulness", "--n", "10", "--out", str(out), "--executor", "spark"]) == 2
    assert "invalid choice: 'spark'" in capsys.readouterr().err
    assert not out.exists()


def test_a_ray_task_rebuilds_the_context_from_weights_and_cards(test_split):
    """What travels to a Ray worker: parameters, cards, weights as tensors, the split; the rebuilt models
    compute exactly what the driver's do."""
    from sem_core.models.hub import load_model_with_card
    from sem_core.experiments.executors import portable_context, rebuild_context
    from sem_core.experiments.runner import Context

    ctx = Context(params={"n": 3, "seed": 0}, device="cpu", models={"protodl": load_model_with_card("protodl", "cpu")},
                  data={"test": test_split}, out=None)
    recipe = portable_context(ctx)
    assert all(isinstance(t, torch.Tensor) for t in recipe["models"]["protodl"][1].values())
    rebuilt = rebuild_context(recipe, "cpu")
    x = test_split[0][:4]
    assert torch.equal(rebuilt.model("protodl")(x), ctx.model("protodl")(x))
    assert rebuilt.params == ctx.params and rebuilt.models["protodl"][1] == ctx.models["protodl"][1]
    assert rebuilt.test_split()[0] is test_split[0] and rebuilt.out is None
