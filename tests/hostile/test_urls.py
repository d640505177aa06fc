"""Hand-edited URLs: every URL-bound control of every page, given hostile values, shows a one-line
plain-text warning (no link, image or code span), no traceback, and keeps its default."""
import re

import pytest

from sem_core.serve.views import CONCEPT, INFLUENCE, LIPSCHITZ, PROTOTYPE, SALIENCY
from tests.app.app_helpers import open_page

# page -> the query parameters its controls are bound to (app_pages/ui/state.py url_number/url_choice/url_classes)
def _setting_keys(view, prefix: str = "") -> list[str]:
    """The URL keys of every setting a page's view shows (a setting added to the algorithm is covered at once)."""
    return [prefix + p.name for p in view.shown()]


URL_KEYS = {
    "concept_attack.py": ["src", "src_from", "src_i", "tgt", "tgt_from", "tgt_i", *_setting_keys(CONCEPT)],
    "prototype_attack.py": [*_setting_keys(PROTOTYPE), "digits", "which"],
    "saliency_attack.py": ["sal_model", "sal_kind", *_setting_keys(SALIENCY, "sal_"), "sal_digit", "sal_digit_from",
                           "sal_digit_i"],
    "influence_attack.py": _setting_keys(INFLUENCE, "inf_"),
    "lipschitz_stability.py": ["lip_model", "lip_n", *_setting_keys(LIPSCHITZ, "lip_")],
    "experiment_results.py": ["exp_folder", "exp_name", "exp_n"],  # exp_folder: results/ holds saved runs
}
HOSTILE = {
    "injection": "x` **Session expired** [Log in](https://evil.example) `",
    "image": "![i](http://127.0.0.1:9/x.png)<img src=x>",
    "inf": "inf",
    "nan": "nan",
    "arabic-indic": "\u0663",  # ٣: Python's float() and int() read it as 3
    "long-negative": "-" + "9" * 3000,
}
LIVE_MARKDOWN = re.compile(r"(?<!\\)[`\[\]()<>!*_]")  # an unescaped character that could start syntax
BARE_ADDRESS = re.compile(r"(?i)https?://|www\.|\w@\w")


def _bound_values(at) -> dict:
    widgets = [*at.number_input, *at.selectbox, *at.radio, *at.multiselect]
    return {w.key: w.value for w in widgets if w.key is not None}


_defaults: dict[str, dict] = {}


def _default_values(page: str) -> dict:
    if page not in _defaults:
        _defaults[page] = _bound_values(open_page(page))
    return _defaults[page]


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("page", URL_KEYS)
def test_hostile_url_values_are_ignored_with_a_plain_warning(page, value):
    keys = URL_KEYS[page]
    default = _default_values(page)
    at = open_page(page, {key: value for key in keys})
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    for key in keys:
        text = next((w for w in warnings if w.startswith(f"Ignored {key}=")), None)
        assert text is not None, f"no warning for {key}: {warnings}"
        assert "\n" not in text and len(text) < 400
        assert not LIVE_MARKDOWN.search(text.split("=", 1)[1]), text  # the key (ours) may hold _
        assert not BARE_ADDRESS.search(text.replace("\\", "")), text
        assert _bound_values(at)[key] == default[key], key
    assert dict(at.query_params).keys().isdisjoint(keys)  # the bad values left the URL
