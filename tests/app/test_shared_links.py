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


def test_a_link_to_an_uploaded_digit_offers_the_closest_test_digit():
    """The page that kept a result on an uploaded digit named its closest test digit in the URL (``src_near``); the
    link says why the digit is missing and its button runs the result on that test digit."""
    at = open_page("concept_attack.py", {"result": "concept", "src_from": "upload", "src_near": "123", "steps": "4"})
    assert not at.exception and "concept_result" not in at.session_state
    said = " ".join(i.value for i in at.info)
    assert "cannot travel in a link" in said and "#123" in said, said
    at.button(key="src_use_near").click().run()
    assert not at.exception and at.radio[0].value == "test split"
    assert at.session_state["_src_index"] == 123                          # that test digit, and its result at once
    assert at.session_state["concept_result"]["captions"][0].startswith("test digit #123 ")


def test_the_closest_test_digit_is_the_nearest_in_pixels(test_split):
    from sem_core.viz.digits import closest_digit

    x_all = test_split[0]
    assert closest_digit(x_all[40:41] + 0.01, x_all) == 40


def test_a_region_attack_link_reopens_its_region_and_result():
    query = {"sal_steps": "3", "sal_kind": "targeted region"}
    at = open_page("saliency_attack.py", query)
    next(b for b in at.button if b.label.startswith("Run")).click().run()
    held = at.session_state["sal_result"]
    link = {**query, "result": "sal", "sal_region": at.query_params["sal_region"]}   # what a copied link holds
    again = open_page("saliency_attack.py", link)
    assert not again.exception and again.radio(key="sal_region_how").value == "the region in the link"
    got = again.session_state["sal_result"]                                  # computed without a click
    assert (got["mask"] == held["mask"]).all() and (got["res"].x_adv == held["res"].x_adv).all()


def test_a_defenses_link_reopens_its_result():
    at = open_page("defense_comparison.py", {"def_steps": "3", "result": "def"})
    assert not at.exception and not at.error
    cmp = at.session_state["def_result"]["cmp"]
    assert list(cmp.results) == ["senn-k5", "senn-adv"] and next(iter(cmp.results.values())).config["steps"] == 3


def test_a_batch_link_reopens_its_result_and_leaves_the_url_once_the_controls_move():
    at = open_page("batch_attack.py", {"b_n": "3", "b_steps": "2", "result": "batch"})
    assert not at.exception and not at.error
    assert len(at.session_state["batch_result"]["idx"]) == 3
    at.number_input(key="b_n").set_value(4).run()
    assert "result" not in at.query_params and any("Settings changed" in w.value for w in at.warning)
