"""The Lipschitz & stability page: small runs, the box plot, picking a point, skipped explainers."""
import sys
from pathlib import Path

import pytest
from app_helpers import array, figures
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the page imports app_pages.ui
PAGE = str(ROOT / "app_pages" / "lipschitz_stability.py")


def _run(at):
    next(b for b in at.button if b.label.startswith("Run")).click().run()


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def test_cnn_estimates_box_plot_and_worst_case_pair():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert at.multiselect(key="lip_expl_cnn").value == ["saliency", "gradxinput", "ig", "occlusion"]
    estimate = at.caption[0].value      # calibrated on this machine (sem_core.serve.estimates), the cost table meanwhile
    assert estimate.startswith(("Estimated time: about ", "Estimated time: under 0.1 s", "Time estimate: calibrating")), \
        estimate
    at.number_input(key="lip_n").set_value(2)
    at.number_input(key="lip_budget").set_value(4)
    at.multiselect(key="lip_expl_cnn").set_value(["saliency", "occlusion"]).run()
    _run(at)
    assert not at.exception
    assert any(c.value.startswith("Took ") for c in at.caption)    # the time it took, next to the estimate
    box = figures(at)[0]                                       # one box per chosen explainer, a point per digit
    assert [t["name"] for t in box["data"]] == ["saliency", "occlusion"]
    assert box["layout"]["yaxis"]["type"] == "log"
    pick = at.selectbox(key="lip_pick")                        # every point of the box plot can be picked
    points = {f"{t['name']} · digit #{int(d)} (L̂ = {v:.2f})" for t in box["data"]
              for d, v in zip(array(t["customdata"]), array(t["y"]), strict=True)}
    assert set(pick.options) == points and len(points) == 2 * 2
    values = {label: float(label.rsplit("= ", 1)[1].rstrip(")")) for label in pick.options}
    assert pick.value == max(values, key=values.get)           # the worst case is shown first
    m = _metrics(at)
    assert float(m["L̂(x)"]) == pytest.approx(max(values.values()), abs=0.005) and float(m["L̂(x)"]) > 0
    assert float(m["L̂(x)"]) == pytest.approx(float(m["‖E(x) − E(x′)‖₂"]) / float(m["‖x − x′‖₂"]), rel=2e-3)
    assert float(m["‖x − x′‖∞"]) <= 0.1 + 1e-6

    pick.select_index(0).run()                                 # another explainer + digit
    assert not at.exception
    assert at.subheader[0].value.startswith("Worst case found for saliency")


def test_senn_self_uses_the_concepts_and_lrp_is_skipped_with_an_error():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="lip_model").set_value("senn").run()
    assert at.multiselect(key="lip_expl_senn").value[0] == "self"
    at.number_input(key="lip_n").set_value(2)
    at.number_input(key="lip_budget").set_value(4)
    at.multiselect(key="lip_expl_senn").set_value(["self", "lrp"]).run()
    _run(at)
    assert not at.exception
    assert any(e.value.startswith("lrp:") for e in at.error)  # LRP has no rule for SENN's decoder
    m = _metrics(at)
    assert "‖h(x) − h(x′)‖₂" in m and float(m["L̂(x)"]) > 0



def test_the_default_view_asks_for_the_jobs_precompute_fills(fresh_service, monkeypatch):
    """The default controls (LIPSCHITZ's settings, its n and picks) make precompute's jobs, one per explainer, with
    the same cache keys; the search's declared settings beyond ε and budget are on the page, from the view."""
    from sem_core.errors import SemError
    from sem_core.serve.precompute import default_jobs
    from sem_core.serve.views import LIPSCHITZ

    asked = []

    def submit(session, spec):
        asked.append(spec)
        raise SemError("recorded")

    monkeypatch.setattr(fresh_service, "submit", submit)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert {w.key: w.value for w in at.number_input} == {"lip_n": LIPSCHITZ.own["n"].default,
                                                         **{f"lip_{k}": v for k, v in LIPSCHITZ.defaults().items()}}
    _run(at)
    assert not at.exception
    want = {spec.config["explainer"]: spec for view, spec in default_jobs(fresh_service) if view == "lipschitz"}
    assert asked and all(s.config == want[s.config["explainer"]].config for s in asked)
    assert all(fresh_service.keys_for(s) == fresh_service.keys_for(want[s.config["explainer"]]) for s in asked)


def test_under_a_protocol_only_the_budget_reaches_the_job(fresh_service, monkeypatch):
    from sem_core.errors import SemError

    asked = []
    monkeypatch.setattr(fresh_service, "submit", lambda session, spec: asked.append(spec) or (_ for _ in ()).throw(
        SemError("recorded")))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update({"lip_protocol": "strict", "lip_budget": "7", "lip_eps": "0.3", "lip_restarts": "2"})
    at.run()
    assert not at.exception and any("replaces the slider" in c.value for c in at.caption)
    _run(at)
    assert asked and {s.config["budget"] for s in asked} == {7} and not any("eps" in s.config for s in asked)


def test_a_link_naming_an_expensive_result_waits_for_run(fresh_service, monkeypatch):
    """A link naming the authors' protocol on many digits starts nothing: the page says why and shows Run; a
    cheap or cached result still opens by itself."""
    asked = []
    real = fresh_service.submit
    monkeypatch.setattr(fresh_service, "submit", lambda session, spec: asked.append(spec) or real(session, spec))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update({"lip_protocol": "authors", "lip_n": "50", "lip_budget": "200", "result": "lip"})
    at.run()
    assert not at.exception and not asked and "lip_result" not in at.session_state
    assert any("a link never starts long work by itself" in i.value for i in at.info)


def test_link_affordable_lets_cached_or_quick_results_open_by_themselves(monkeypatch):
    from app_pages.ui import jobs
    from sem_core.serve.estimates import Estimate

    class Svc:
        def __init__(self, hit):
            self.hit = hit

        def peek(self, spec):
            return self.hit

    monkeypatch.setattr(jobs, "service", lambda: Svc(None))
    assert jobs.link_affordable(Estimate(3.0, 2.0, 5.0, "measured"), ["spec"]) == (True, "is quick")
    ok, why = jobs.link_affordable(Estimate(700.0, 500.0, 900.0, "measured"), ["spec"])
    assert not ok and why.startswith("takes about")
    assert not jobs.link_affordable(Estimate(None), ["spec"])[0]          # unknown cost: wait for Run
    monkeypatch.setattr(jobs, "service", lambda: Svc("result"))
    assert jobs.link_affordable(Estimate(700.0, 500.0, 900.0, "measured"), ["spec"]) == (True, "is cached")
