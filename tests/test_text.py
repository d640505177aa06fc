"""sem_core.viz.text: user-typed text is echoed as plain Markdown text, URL numbers are parsed strictly."""
import math
import re
import string

import pytest
from hypothesis import given, strategies as st

from sem_core.viz.text import ECHO_LIMIT, escape_markdown, parse_url_number

PUNCT = set(string.punctuation)
AUTOLINK = re.compile(r"(?i)https?://|www\.|mailto:|xmpp:|[\w.+-]@[\w-]")  # what GFM turns into a link


def unescape(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md).replace("\u2060", "")


@given(st.text())
def test_escaped_text_has_no_live_markdown(value):
    md = escape_markdown(value)
    i = 0
    while i < len(md):  # every ASCII punctuation character is backslash-escaped
        if md[i] == "\\":
            assert i + 1 < len(md) and md[i + 1] in PUNCT, md
            i += 2
            continue
        assert md[i] not in PUNCT, md
        i += 1
    assert "\n" not in md and "\r" not in md
    assert not AUTOLINK.search(re.sub(r"\\(.)", r"\1", md)), md  # the word joiner breaks bare addresses
    shown = unescape(md)
    assert len(shown) <= ECHO_LIMIT
    assert shown.rstrip("…") == "".join(c if c.isprintable() else " " for c in value)[: len(shown.rstrip("…"))]


@pytest.mark.parametrize("value, expected", [
    ("x` **Session expired** [Log in](https://evil.example) `",
     "x\\` \\*\\*Session expired\\*\\* \\[Log in\\]\\(https\u2060\\:\\/…"),
    ("![i](a.png)", "\\!\\[i\\]\\(a\\.png\\)"),
    ("www.evil.example", "www\u2060\\.evil\\.example"),
    ("line\nbreak", "line break"),
    ("plain 9", "plain 9"),
])
def test_escape_known_answers(value, expected):
    assert escape_markdown(value) == expected


@given(st.text(), st.floats(-1e6, 1e6), st.floats(0, 1e6), st.booleans())
def test_url_number_is_a_finite_in_bounds_value_or_none(raw, lo, width, integer):
    hi = lo + width
    v = parse_url_number(raw, lo, hi, integer=integer)
    assert v is None or (math.isfinite(v) and lo <= v <= hi and (not integer or type(v) is int))


@given(st.floats(0.01, 1.0))
def test_url_number_reads_back_what_streamlit_writes(x):
    assert parse_url_number(repr(x), 0.01, 1.0) == x


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "1e309", "-1e309", "\u0663", "1_000", " 5", "0x10", "5 ", "",
                                 "5.5", "1001", "-1", "9" * 100, "+", "."])
def test_url_number_rejects(raw):
    assert parse_url_number(raw, 0, 1000, integer=True) is None


@pytest.mark.parametrize("raw, integer, expected", [("7", True, 7), ("7.0", True, 7), ("1e2", True, 100),
                                                    ("0.3", False, 0.3), (".5", False, 0.5), ("-0", True, 0)])
def test_url_number_accepts(raw, integer, expected):
    assert parse_url_number(raw, 0, 1000, integer=integer) == expected


def test_status_notices_say_when_an_attack_did_not_do_its_job():
    from sem_core.viz.text import status_notice

    assert status_notice(("ok", "ok")) is None
    level, text = status_notice(("no-gradient",))
    assert level == "error" and text.startswith("The attack could not move this digit") and "not a finding" in text
    level, text = status_notice(("ok", "label-lost", "no-gradient"))
    assert level == "error" and text.startswith("1 of 3 digits: the attack could not move them")
    assert status_notice(("no-improvement",))[0] == "info"


def test_the_change_is_described_as_the_pictures_show_it():
    from sem_core.viz.text import change_sentence, change_visibility

    # thresholds read off SENN's 9 at ε 0.05 / 0.1 / 0.2 / 0.3 (sem_core/viz/text.py); PGD's rounding stays below
    assert [change_visibility(v) for v in (0.05, 0.10000002, 0.15, 0.2, 0.30000004)] == [
        "hard to see", "hard to see", "faint", "visible", "visible"]
    assert change_sentence(0.3, 9, True, "SENN") == ("Every pixel moved by at most 0.30: you can see the speckle, yet "
                                                     "SENN still says **9**.")
    assert "hard to see (a faint grain in the background at most), and the model still says **4**" in \
        change_sentence(0.06, 4, True)
    assert "now says **7**" in change_sentence(0.3, 7, False)


def test_file_stems_name_page_model_digit_attack_and_eps():
    from sem_core.viz.text import file_stem

    assert file_stem("concept", model="senn", digit=9, target=2, eps=0.3) == "concept-senn-digit9-to2-eps0.3"
    assert file_stem("saliency", model="cnn", attack="saliency_topk", digit=3, eps=0.1) == \
        "saliency-cnn-saliency-topk-digit3-eps0.1"
    assert re.fullmatch(r"[a-z0-9.-]+", file_stem("x y", model="My_Model*", extra="nat. 4 (#0)"))
