"""The Lipschitz, Defenses and Influence pages' service jobs equal the direct computations they replace
(issue 14: every page reads the shared result cache), and their results survive the cache's disk layer."""
import dataclasses

import pytest
import torch

from sem_core.attacks import compare_models, create_attack
from sem_core.serve.cache import ResultCache
from sem_core.errors import SemError
from sem_core.lipschitz import lipschitz_by_explainer
from sem_core.serve.service import AttackService, ServiceError
from sem_core.serve.views import comparison_jobs, influence_jobs, lipschitz_job


def assert_same(a, b, path="result"):
    """Bitwise equal results: tensors, dataclasses, dicts and lists, field by field."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a.cpu(), b.cpu()), path
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            assert_same(u, v, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


@pytest.fixture
def svc(shipped, tmp_path):
    s = AttackService(device="cpu", loader=lambda name: shipped[name], cache=ResultCache(folder=tmp_path))
    yield s
    s.shutdown()


def from_disk(svc, spec):
    """``spec``'s result read back from the disk layer only (the memory layer emptied first)."""
    svc.cache.clear_memory()
    before = svc.cache.disk_hits
    out = svc.peek(spec)
    assert svc.cache.disk_hits == before + len(spec.x)
    return out


@pytest.mark.parametrize("model, explainer, protocol", [("cnn", "saliency", None), ("cnn", "occlusion", None),
                                                        ("senn", "self", None), ("cnn", "gradxinput", "strict")])
def test_lipschitz_jobs_equal_lipschitz_by_explainer(svc, shipped, test_split, model, explainer, protocol):
    x = test_split[0][:2]
    direct = lipschitz_by_explainer(shipped[model][0], [explainer], x, eps=0.1, budget=4, protocol=protocol)
    spec = lipschitz_job(model, explainer, x, eps=0.1, budget=4, protocol=protocol)
    assert_same(direct.results[explainer], svc.submit("s", spec).result(120))
    assert_same(direct.results[explainer], from_disk(svc, spec))


def test_a_lipschitz_job_passes_its_seed_to_the_search(svc, shipped, test_split):
    x = test_split[0][:1]
    direct = lipschitz_by_explainer(shipped["cnn"][0], ["occlusion"], x, eps=0.1, budget=4, seed=3)
    res = svc.submit("s", lipschitz_job("cnn", "occlusion", x, eps=0.1, budget=4, seed=3)).result(120)
    assert_same(direct.results["occlusion"], res)
    assert res.config["seed"] == 3


def test_an_unknown_protocol_is_refused_at_submission(svc, test_split):
    with pytest.raises(SemError, match="nope"):
        svc.submit("s", lipschitz_job("cnn", "saliency", test_split[0][:1], eps=0.1, budget=4, protocol="nope"))
    spec = lipschitz_job("cnn", "saliency", test_split[0][:1], eps=0.1, budget=4, protocol="strict")
    bad = dataclasses.replace(spec, config={**spec.config, "steps": 3})
    with pytest.raises(ServiceError, match="protocol"):
        svc.submit("s", bad)


def test_comparison_jobs_equal_compare_models(svc, shipped, test_split):
    x, y, _ = test_split
    i9, i2 = int(torch.nonzero(y == 9)[0]), int(torch.nonzero(y == 2)[0])
    models = ["senn-k5", "senn-adv"]
    cmp = compare_models({m: shipped[m][0] for m in models}, "senn_concept", x[i9:i9 + 1], torch.tensor([9]),
                         target=x[i2:i2 + 1], eps=0.3, steps=3)
    jobs = comparison_jobs(models, "senn_concept", x[i9:i9 + 1], 9, x[i2:i2 + 1], eps=0.3, steps=3)
    assert list(jobs) == models
    for m, spec in jobs.items():
        assert_same(cmp.results[m], svc.submit("s", spec).result(120), m)


def test_influence_jobs_equal_the_direct_attacks_and_survive_the_disk(svc, shipped, test_split):
    x, y, _ = test_split
    cnn = shipped["cnn"][0]
    jobs = influence_jobs("cnn", x[:1], int(y[0]), eps=0.1, steps=2, k=5, data="subset")
    sign = create_attack(cnn, "influence_sign", steps=2, eps=0.1, k=5, data="subset")(x[:1], y[:1])
    base = create_attack(cnn, "influence_random", eps=0.1, k=5, data="subset")(x[:1], y[:1])
    assert_same(sign, svc.submit("s", jobs["sign"]).result(300))
    assert_same(base, svc.submit("s", jobs["random"]).result(300))
    assert_same(sign, from_disk(svc, jobs["sign"]))      # InfluenceExplanation is an allowed cached type
    assert svc.influence_ready("cnn", "subset")           # the page's estimate then leaves out the one-time setup
    assert not svc.influence_ready("cnn", "mnist")        # built over the subset's training digits only
