"""The Lipschitz, Defenses and Influence pages and the tour read the shared result cache (issue 14): another
session's second Run shows the stored result without computing, and it equals a direct computation."""
import pytest
import torch
from streamlit.testing.v1 import AppTest

import sem_core
from app_helpers import open_page
from sem_core.attacks import compare_models, create_attack
from sem_core.experiments.sampling import pick_digits
from sem_core.lipschitz import lipschitz_by_explainer
from sem_core.serve.precompute import precompute

from tests.service.test_page_jobs import assert_same


def press(page: str, query: dict, label: str, **widgets) -> AppTest:
    """``page`` in a new session (a new AppTest), with URL ``query``, then ``label`` pressed."""
    at = open_page(page, query)
    for key, value in widgets.items():
        at.multiselect(key=key).set_value(value).run()
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def twice(svc, page, query, label, **widgets) -> tuple[AppTest, AppTest]:
    """Run ``page`` in two sessions: the first computes, the second is served by the cache (no new batch)."""
    first = press(page, query, label, **widgets)
    assert "computed" in captions(first) and svc.batches > 0
    batches, hits = svc.batches, svc.cache.hits
    second = press(page, query, label, **widgets)
    assert "result from the cache" in captions(second)
    assert svc.batches == batches and svc.cache.hits > hits
    return first, second


def test_lipschitz_estimates_come_from_the_cache_and_equal_lipschitz_by_explainer(fresh_service):
    names = ["saliency", "occlusion"]
    _, second = twice(fresh_service, "lipschitz_stability.py", {"lip_n": "2", "lip_budget": "4"},
                      "Run Lipschitz estimates", lip_expl_cnn=names)
    out = second.session_state["lip_result"]
    assert list(out["results"]) == names
    cnn, card = fresh_service.model("cnn")
    x, y, _ = sem_core.load_split("test", card["data"]["source"])
    idx = pick_digits(y, 2, seed=0)
    assert torch.equal(out["idx"], idx)
    direct = lipschitz_by_explainer(cnn, names, x[idx], eps=0.1, budget=4)
    for e in names:
        assert_same(direct.results[e], out["results"][e], e)


def test_skipped_explainers_are_still_reported_on_a_cached_rerun(fresh_service):
    query = {"lip_model": "senn", "lip_n": "1", "lip_budget": "3"}
    for _ in range(2):
        at = press("lipschitz_stability.py", query, "Run Lipschitz estimates", lip_expl_senn=["self", "lrp"])
        assert any(e.value.startswith("lrp:") for e in at.error)   # LRP has no rule for SENN's decoder
        assert list(at.session_state["lip_result"]["results"]) == ["self"]
    assert "result from the cache" in captions(at)


def test_defenses_come_from_the_cache_and_equal_compare_models(fresh_service):
    _, second = twice(fresh_service, "defense_comparison.py", {"def_steps": "3"}, "Run on both models")
    cmp = second.session_state["def_result"]["cmp"]
    assert list(cmp.results) == ["senn-k5", "senn-adv"]
    x, y, _ = sem_core.load_split("test", "subset")
    i9, i2 = int(torch.nonzero(y == 9)[0]), int(torch.nonzero(y == 2)[0])
    direct = compare_models({m: fresh_service.model(m)[0] for m in cmp.results}, "senn_concept", x[i9:i9 + 1],
                            torch.tensor([9]), target=x[i2:i2 + 1], eps=0.3, steps=3)
    assert_same(direct.results, cmp.results)
    assert list(second.dataframe[0].value["Model"]) == ["senn-k5", "senn-adv"]


def test_the_influence_attack_comes_from_the_cache_and_equals_the_direct_attacks(fresh_service):
    _, second = twice(fresh_service, "influence_attack.py", {"inf_steps": "2"}, "Run influence attack")
    out = second.session_state["inf_result"]
    cnn, _ = fresh_service.model("cnn")
    x, y, _ = sem_core.load_split("test", "subset")
    i = int(torch.nonzero(y == 7)[0])
    direct = create_attack(cnn, "influence_sign", steps=2, eps=0.1, k=5, data="subset")(x[i:i + 1], torch.tensor([7]))
    base = create_attack(cnn, "influence_random", eps=0.1, k=5, data="subset")(x[i:i + 1], torch.tensor([7]))
    assert_same(direct, out["res"])
    assert_same(base, out["base"])


def test_the_tour_reads_the_attack_pages_precomputed_views_and_caches_its_stability_step(fresh_service):
    precompute(fresh_service, views=["concept", "prototype", "saliency"])   # the attack pages' default views
    batches = fresh_service.batches
    at = press("tour.py", {}, "Run step 1: attack SENN's concepts")
    for label in ("Run step 2: attack PrototypeDL's prototypes", "Run step 3: attack the saliency map"):
        next(b for b in at.button if b.label == label).click().run()
        assert not at.exception
    assert [c.value for c in at.caption].count("result from the cache") == 3 and fresh_service.batches == batches
    _, second = twice(fresh_service, "tour.py", {}, "Run step 4: measure the map's stability")
    res, _ = second.session_state["tour"][4]
    cnn, _ = fresh_service.model("cnn")
    x, y, _ = sem_core.load_split("test", "subset")
    i = int(torch.nonzero(y == 7)[0])
    assert_same(lipschitz_by_explainer(cnn, ["saliency"], x[i:i + 1], eps=0.1, budget=20).results["saliency"], res)


@pytest.mark.parametrize("page, folded", [("lipschitz_stability.py", ["lip_eps", "lip_budget"]),
                                          ("defense_comparison.py", ["def_steps"]),
                                          ("experiment_results.py", ["exp_n"])])
def test_presenter_mode_folds_the_detail_controls(page, folded, monkeypatch):
    monkeypatch.delenv("SEM_RESULTS_DIR", raising=False)           # the shipped runs
    at = AppTest.from_file("../../app.py", default_timeout=120)
    at.query_params["present"] = "1"                              # a link that opens in presenter mode
    at.run().switch_page(f"app_pages/{page}").run()
    assert not at.exception and at.session_state["presenter"] is True
    more = [e for e in at.expander if e.label == "More settings"]
    assert len(more) == 1
    for key in folded:
        assert more[0].number_input(key=key).value is not None
    at.toggle(key="_presenter_toggle").set_value(False).run()
    assert not [e for e in at.expander if e.label == "More settings"]
    assert all(at.number_input(key=key).value is not None for key in folded)
