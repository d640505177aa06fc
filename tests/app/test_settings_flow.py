"""Every setting is declared once: a hyperparameter added to one attack's declaration (here at run time, as a new
``Param`` line in ``SennConceptAttack.settings`` would) appears in the CLI's help, on the page (under "More
settings"), in the URL and in the cache key, with no other edit."""
import pytest

from app_helpers import open_page
from sem_core.attacks.senn_concept import SennConceptAttack
from sem_core.cli.main import build_parser
from sem_core.params import Param
from sem_core.serve.views import CONCEPT, concept_job

NEW = Param("demo_weight", 0.25, "demo weight (a new setting)", "only for this test", lo=0.0, hi=2.0, step=0.05)
RUN = "Run concept attack"


@pytest.fixture
def with_new_setting(monkeypatch):
    monkeypatch.setattr(SennConceptAttack, "settings", SennConceptAttack.settings + (NEW,))
    monkeypatch.setattr(SennConceptAttack, "step", _step_reading_the_new_setting(SennConceptAttack.step))


def _step_reading_the_new_setting(step):
    seen = []

    def wrapped(self, x_adv, pred, ctx):
        seen.append(self.demo_weight)     # the attack object carries the value the page, URL or CLI gave
        return step(self, x_adv, pred, ctx)
    wrapped.seen = seen
    return wrapped


def test_the_cli_help_lists_it_with_default_and_range(with_new_setting, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["attack", "senn", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--demo-weight" in out and "only for this test; default 0.25; in [0, 2]" in out
    args = build_parser().parse_args(["attack", "senn", "--demo-weight", "0.5"])
    assert args.demo_weight == 0.5


def test_the_view_and_the_cache_key_carry_it(with_new_setting, fresh_service, test_split):
    assert "demo_weight" in [p.name for p in CONCEPT.more()] and CONCEPT.defaults()["demo_weight"] == 0.25
    x, y, _ = test_split
    default = concept_job("senn", x[:1], y[:1], x[1:2], **CONCEPT.defaults())
    changed = concept_job("senn", x[:1], y[:1], x[1:2], **{**CONCEPT.defaults(), "demo_weight": 0.5})
    assert default.config["demo_weight"] == 0.25 and changed.config["demo_weight"] == 0.5
    assert fresh_service.keys_for(default) != fresh_service.keys_for(changed)


def test_the_page_shows_it_and_the_url_sets_it(with_new_setting, fresh_service):
    at = open_page("concept_attack.py", {"steps": "3", "demo_weight": "0.5"})
    assert not at.exception
    widget = next(w for w in at.number_input if w.key == "demo_weight")
    assert widget.label == NEW.label and widget.value == 0.5          # from the URL
    next(b for b in at.button if b.label == RUN).click().run()
    assert not at.exception
    res = at.session_state["concept_result"]["res"]
    assert res.config["demo_weight"] == 0.5 and SennConceptAttack.step.seen[-1] == 0.5
    widget.set_value(0.75).run()                                      # a new value, a new job
    next(b for b in at.button if b.label == RUN).click().run()
    assert at.session_state["concept_result"]["res"].config["demo_weight"] == 0.75
    assert SennConceptAttack.step.seen[-1] == 0.75
