"""Pages run their attacks through the attack service and its result cache (issues 14 and 15)."""
import pytest
import torch

from app_helpers import open_page
from sem_core.serve.precompute import precompute

RUN = {"concept_attack.py": "Run concept attack", "prototype_attack.py": "Run prototype attack",
       "saliency_attack.py": "Run saliency attack", "lipschitz_stability.py": "Run Lipschitz estimates",
       "defense_comparison.py": "Run on both models", "tour.py": "Run step 4: measure the map's stability"}


def run(page: str, query: dict | None = None):
    at = open_page(page, query)
    next(b for b in at.button if b.label == RUN[page]).click().run()
    assert not at.exception, at.exception
    return at


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_a_result_computed_by_one_session_shows_from_the_cache_in_another(fresh_service):
    query = {"src_i": "3", "steps": "5"}
    first = run("concept_attack.py", query)
    assert "computed" in captions(first) and fresh_service.batches == 1
    second = run("concept_attack.py", query)             # a new AppTest is a new session
    assert "result from the cache" in captions(second) and fresh_service.batches == 1
    other = run("concept_attack.py", {"src_i": "4", "steps": "5"})   # another digit is computed
    assert "computed" in captions(other) and fresh_service.batches == 2


@pytest.mark.parametrize("page, view", [("concept_attack.py", "concept"), ("prototype_attack.py", "prototype"),
                                        ("saliency_attack.py", "saliency"), ("defense_comparison.py", "defenses"),
                                        ("tour.py", "stability"),
                                        pytest.param("lipschitz_stability.py", "lipschitz", marks=pytest.mark.slow)])
def test_precomputed_default_views_are_what_the_pages_ask_for(fresh_service, page, view):
    precompute(fresh_service, views=[view])
    batches = fresh_service.batches
    at = run(page)
    assert "result from the cache" in captions(at)
    assert fresh_service.batches == batches


def test_service_errors_are_shown_as_a_message(fresh_service, monkeypatch):
    fresh_service.queue.max_per_session = 0                     # every submission is refused
    at = open_page("concept_attack.py", {"steps": "5"})
    next(b for b in at.button if b.label == RUN["concept_attack.py"]).click().run()
    assert not at.exception
    assert any("jobs waiting" in e.value for e in at.error)


def test_the_end_of_one_session_state_never_cancels_anothers_jobs():
    """Every AppTest has Streamlit's session id "test session id"; to the service they are separate sessions, so
    when the garbage collector finalises a dropped one, only its own jobs are cancelled."""
    from app_pages.ui.jobs import service
    from sem_core.serve.service import JobSpec

    a, b = open_page("home.py"), open_page("home.py")
    sa, sb = (at.session_state["_sem_session_token"].sid for at in (a, b))
    assert sa != sb and sa.startswith("test session id") and sb.startswith("test session id")
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 8:20, 12:16] = 1.0
    job = service().submit(sb, JobSpec("cnn", "explain", "saliency", x))
    service().release_session(sa)
    assert job.result(60).shape == (1, 1, 28, 28)
