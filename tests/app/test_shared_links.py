"""A shared link that names a result (``?result=<page>``) reopens the page with that result recomputed from
the URL's parameters; once the controls move on, the URL stops naming it."""
from app_helpers import open_page


def test_a_link_with_result_shows_the_result_without_a_click():
    at = open_page("concept_attack.py", {"steps": "4", "eps": "0.2", "result": "concept"})
    assert not at.exception and not at.error
    res = at.session_state["concept_result"]["res"]
    assert res.config["eps"] == 0.2 and res.config["steps"] == 4
    assert at.query_params["result"] in ("concept", ["concept"])
    at.number_input(key="eps").set_value(0.25).run()            # the view moves away from the result on screen
    assert "result" not in at.query_params
    assert at.session_state["concept_result"]["res"].config["eps"] == 0.2  # nothing recomputed behind the user's back


def test_same_link_same_result():
    runs = [open_page("prototype_attack.py", {"steps": "3", "digits": "4", "result": "proto"}) for _ in range(2)]
    a, b = (at.session_state["proto_result"]["res"] for at in runs)
    assert (a.x_adv == b.x_adv).all()                            # deterministic: the link reproduces the numbers


def test_without_result_in_the_link_nothing_runs():
    at = open_page("concept_attack.py", {"steps": "4"})
    assert "concept_result" not in at.session_state


def test_a_link_to_a_result_on_an_uploaded_digit_says_why_the_digit_is_missing():
    at = open_page("concept_attack.py", {"result": "concept", "src_from": "upload"})
    assert not at.exception
    said = " ".join(i.value for i in at.info)
    assert "cannot travel in a link" in said and "uploaded digit" in said, said
