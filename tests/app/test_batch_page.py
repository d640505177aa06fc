"""The Batch page: many digits through the attack service, distributions, a table, one digit's view."""
import pytest

from app_helpers import figures, open_page, title


@pytest.mark.parametrize("query, first_title, n", [
    ({"b_n": "6", "b_steps": "3"}, "Concept distance to the target", 6),
    ({"b_attack": "Prototype attack (PrototypeDL)", "b_n": "4", "b_steps": "3", "b_how": "random sample"},
     "Distance to the own class's prototypes", 4),
    ({"b_attack": "Saliency attack", "b_n": "3", "b_steps": "2", "b_class": "3", "b_how": "class"},
     "Map similarity after the attack", 3),
])
def test_batch_page_runs_and_shows_distributions_and_table(query, first_title, n):
    at = open_page("batch_attack.py", query)
    assert not at.exception
    at.button(key="b_run").click().run()
    assert not at.exception, at.exception
    assert title(figures(at)[0]).startswith(first_title)
    table = at.dataframe[0].value
    assert len(table) == n and table["label kept"].dtype == bool
    assert at.subheader[0].value.startswith(f"{n} digits")


def test_batch_page_concept_pairs_use_the_chosen_classes(test_split):
    at = open_page("batch_attack.py", {"b_n": "3", "b_steps": "2", "b_class": "4", "b_target": "7",
                                       "b_how": "class pairs"})
    at.button(key="b_run").click().run()
    table = at.dataframe[0].value
    assert (table["label"] == 4).all() and (test_split[1][list(table["target digit"])] == 7).all()
    assert not at.exception


@pytest.mark.parametrize("query, page, charts", [
    ({"b_n": "3", "b_steps": "2"}, "concept?", 3 + 3),       # x, x*, x_t, then x, x*, x_t concept bars
    ({"b_attack": "Prototype attack (PrototypeDL)", "b_n": "3", "b_steps": "2", "b_how": "class"}, "prototype?", 2),
    ({"b_attack": "Saliency attack", "b_n": "3", "b_steps": "2", "b_how": "class"}, "saliency?", 3),
])
def test_a_selected_row_opens_that_digit(query, page, charts):
    at = open_page("batch_attack.py", query)
    at.button(key="b_run").click().run()
    before = len(figures(at))
    at.session_state["b_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}  # a click on row 1
    at.run()
    assert not at.exception, at.exception
    index = int(at.dataframe[0].value["test digit"][1])
    texts = [m.value for m in at.markdown]
    assert any(t.startswith(f"**Test digit #{index}**") for t in texts)
    link = next(t for t in texts if t.startswith("[Open this digit"))
    assert f"({page}" in link
    assert len(figures(at)) - before == charts


def test_the_default_view_asks_for_the_jobs_precompute_fills(fresh_service, monkeypatch):
    """The page's default controls (BATCH's settings, own numbers and picks) make precompute's batch job: the same
    digits, targets, config and so the same cache keys, so the first Run of the default view is served from the cache."""
    from sem_core.errors import SemError
    from sem_core.serve.precompute import default_jobs

    asked = []

    def submit(session, spec):
        asked.append(spec)
        raise SemError("recorded")     # shown as a message; nothing runs

    monkeypatch.setattr(fresh_service, "submit", submit)
    at = open_page("batch_attack.py")
    at.button(key="b_run").click().run()
    assert not at.exception and [e.value for e in at.error] == ["recorded"]
    (want,) = [spec for view, spec in default_jobs(fresh_service) if view == "batch"]
    (spec,) = asked
    assert (spec.model, spec.name, spec.config) == (want.model, want.name, want.config)
    assert fresh_service.keys_for(spec) == fresh_service.keys_for(want)


def test_each_family_shows_its_attacks_declared_settings_and_a_link_that_carries_them():
    at = open_page("batch_attack.py", {"b_attack": "Prototype attack (PrototypeDL)", "b_n": "3", "b_steps": "2",
                                       "b_how": "class", "b_xi": "0.5"})
    assert not at.exception
    keys = {w.key for w in at.number_input} | {w.key for w in at.selectbox}
    assert {"b_eps", "b_steps", "b_lam", "b_xi", "b_alpha", "b_random_start", "b_n", "b_class", "b_seed"} <= keys
    assert at.number_input(key="b_eps").value == 0.3 and at.number_input(key="b_xi").value == 0.5   # URL wins
    assert at.number_input(key="b_target").disabled and not at.number_input(key="b_class").disabled
    at.button(key="b_run").click().run()
    at.session_state["b_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    link = next(m.value for m in at.markdown if m.value.startswith("[Open this digit"))
    assert "&xi=0.5&" in link and "&steps=2&" in link and "&random_start=no" in link

    at = open_page("batch_attack.py", {"b_attack": "Saliency attack"})
    assert not at.exception
    assert at.number_input(key="b_eps").value == 0.1 and at.number_input(key="b_steps").value == 50  # saliency's own
    assert at.selectbox(key="b_method").value == "saliency" and at.number_input(key="b_k").value == 50


def test_a_saliency_batch_is_judged_against_its_random_baseline(fresh_service):
    """Each digit of a saliency batch gets a verdict against the random step of the same ε on that digit, as on
    the saliency page (issue 29: every result block has a verdict sentence; "not judged" was the batch's)."""
    at = open_page("batch_attack.py", {"b_attack": "Saliency attack", "b_n": "4", "b_steps": "3", "b_how": "class"})
    at.button(key="b_run").click().run()
    assert not at.exception, at.exception
    said = [e.value for kind in ("success", "info", "warning") for e in getattr(at, kind)]
    assert any(t.startswith("The top-k attack worked on") or t.startswith("The top-k attack did not work")
               for t in said), said
    assert "random change's by more than 0.05" in " ".join(said)
    column = at.dataframe[0].value["Did the attack work?"].tolist()
    assert len(column) == 4 and not any("not judged" in str(v) for v in column)
    at.session_state["b_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}   # one digit's view
    at.run()
    assert not at.exception
    one = " ".join(e.value for kind in ("success", "info", "warning") for e in getattr(at, kind))
    assert "after a random change of the same size" in one and "not known" not in one
