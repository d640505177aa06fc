"""Views of several jobs: every explainer as one "explain" job each gives explain_all's grid; the defense jobs'
results give compare_models' comparison."""
import torch

from sem_core.explain import explain_all
from sem_core.serve.service import AttackService
from sem_core.serve.memory import is_oom as is_out_of_memory
from sem_core.serve.views import comparison_jobs, comparison_of, explain_jobs, explainer_grid_of


def run_all(svc, jobs):
    results, skipped = {}, {}
    for name, spec in jobs.items():
        try:
            results[name] = svc.submit("test", spec).result(timeout=300)
        except Exception as exc:  # noqa: BLE001 - what the page's run_jobs(skip_errors=True) does with a refusal
            skipped[name] = str(exc)
    return results, skipped


def test_explain_jobs_give_explain_alls_grid(shipped, test_split):
    x = test_split[0][:2]
    model = shipped["cnn"][0]
    target = model(x).argmax(1)
    jobs = explain_jobs("cnn", x, target=target, explainers=["saliency", "gradxinput", "occlusion"])
    assert [(s.kind, s.name, s.config) for s in jobs.values()] == [("explain", e, {}) for e in jobs]
    assert all(torch.equal(s.y, target) for s in jobs.values())
    svc = AttackService(device="cpu", loader=lambda name: shipped[name])
    try:
        maps, skipped = run_all(svc, jobs)
    finally:
        svc.shutdown()
    grid = explainer_grid_of(maps, skipped)
    expected = explain_all(model, x, target=target, explainers=list(jobs))
    assert grid.names == expected.names and grid.skipped == {} and grid.maps.shape == (3, 2, 28, 28)
    assert torch.allclose(grid.maps, expected.maps, atol=1e-6)
    assert torch.allclose(grid.maps.sum((-1, -2)), torch.ones(3, 2), atol=1e-4)        # normalised maps


def test_every_explainer_by_default_and_an_empty_grid():
    from sem_core.explain import list_explainers

    assert list(explain_jobs("cnn", torch.zeros(1, 1, 28, 28))) == list_explainers()
    empty = explainer_grid_of({}, {"lrp": "no rule"})
    assert empty.names == [] and empty.maps.shape[0] == 0 and empty.skipped == {"lrp": "no rule"}


def test_comparison_of_the_defense_jobs(shipped, test_split):
    x, y, _ = test_split
    jobs = comparison_jobs(["senn", "senn-k5"], "senn_concept", x[:1], y[:1], x[1:2], eps=0.3, steps=2)
    svc = AttackService(device="cpu", loader=lambda name: shipped[name])
    try:
        results, _ = run_all(svc, jobs)
    finally:
        svc.shutdown()
    cmp = comparison_of("senn_concept", results)
    assert list(cmp.results) == ["senn", "senn-k5"]
    rows = cmp.table()
    assert [r["model"] for r in rows] == ["senn", "senn-k5"] and all("label kept" in r for r in rows)


def test_out_of_memory_is_recognised():
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch")) and not is_out_of_memory(ValueError("out of range"))
