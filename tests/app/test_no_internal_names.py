"""Human labels everywhere, a verdict on every result (issue 29, point 3).

Every page is opened through the router and, where it has a Run button, run with the smallest settings, so its
result blocks are drawn too; then every text it rendered is read: markdown, captions, alerts, headings, metric labels,
values and help, widget labels, dataframes' and tables' column names and string cells, plotly figures' titles, axis
titles, trace names, tick texts and annotations, and the text inside SVG pictures. No snake_case name (a metric's or an
algorithm's: ``concept_distance_adv``, ``senn_concept``) may appear, and every page with a result says whether the
attack worked in a sentence of ``sem_core.viz.verdicts``.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pytest
from app_helpers import open_page
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest

from sem_core.attacks import ATTACKS
from sem_core.attacks.labels import METRIC_LABELS
from sem_core.viz.verdicts import VERDICT_PHRASES

MACHINE_NAMES = set(METRIC_LABELS) | set(ATTACKS.names())   # never shown, not even as code in a sentence

SNAKE = re.compile(r"(?<![/\w])[a-z]+(?:_[a-z0-9]+)+\b(?![./]\w)")
# What may stay snake_case, each for its reason:
# - a file name or path (the token followed by an extension or a "/", or after a "/": "x_adv.png",
#   "sem_core/experiments/published.json"): what lands in the user's folder from a download button, or a file of this
#   repository a text points to (the regex skips these);
# - "x_t", "h_j": the papers' notation (the target digit x_t, the prototype distance h_j), maths, not a program's name;
# - an inline code span (`save_checkpoint`): a name the reader types, unless it is a metric's or an attack's name.
# - "sem_core": the package's name, in a command a page tells the reader to run ("python -m sem_core experiment …").
ALLOWED = {"x_t", "h_j", "sem_core"}
CODE_SPAN = re.compile(r"`[^`]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)")   # a Markdown link's address ("[Open this digit](concept?src_i=3)"): not shown
# elements that are not prose: Python code a reader copies to reproduce a result (it must name the API), formulas
# (LaTeX subscripts: \sum_j), a model card shown as the JSON file it is (its own keys), the page's script frame
SKIPPED_ELEMENTS = {"code", "latex", "json", "iframe"}
# proto fields that are not text a reader sees: widget ids, URL parameter names, media URLs, figure specs (read
# separately), raw data
HIDDEN_FIELDS = {"id", "formId", "key", "queryParamKey", "queryString", "url", "deferredFileId", "src", "pageScriptHash", "css",
                 "spec", "data", "arrowData", "imgs", "html", "srcdoc", "scriptHash", "urlPathname", "icon"}
PLOTLY_TEXT = {"text", "name", "ticktext", "hovertemplate"}


def _strings(obj: Any, keys: set[str] | None = None, inside: bool = False) -> Iterator[str]:
    """Every string of a JSON-like ``obj``; with ``keys``, only those under one of these keys (at any depth)."""
    if isinstance(obj, str):
        if keys is None or inside:
            yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if keys is None and k in HIDDEN_FIELDS:
                continue
            yield from _strings(v, keys, inside or (keys is not None and k in keys))
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v, keys, inside)


def _frame_strings(df: pd.DataFrame) -> Iterator[str]:
    for c in df.columns:
        yield " ".join(map(str, c)) if isinstance(c, tuple) else str(c)
    yield from (str(i) for i in df.index if isinstance(i, str))
    for col in df.columns:
        yield from (v for v in df[col].tolist() if isinstance(v, str))


_SVG = "data:image/svg+xml;base64,"


def rendered_texts(at: AppTest) -> list[str]:
    """What a reader of the page can read (see the module docstring)."""
    out: list[str] = []
    for node in at._tree:
        kind = getattr(node, "type", None)
        proto = getattr(node, "proto", None)
        if proto is None or kind is None or kind in SKIPPED_ELEMENTS:
            continue
        if kind in ("arrow_data_frame", "dataframe", "table", "arrow_table"):
            value = node.value
            value = value.data if hasattr(value, "data") and not isinstance(value, pd.DataFrame) else value
            if isinstance(value, pd.DataFrame):
                out += list(_frame_strings(value))
            continue
        if kind == "plotly_chart":
            out += list(_strings(json.loads(proto.spec), PLOTLY_TEXT))
            continue
        if kind == "image":
            for img in proto.imgs:
                if img.url.startswith(_SVG):
                    svg = base64.b64decode(img.url[len(_SVG):]).decode()
                    out += re.findall(r"<text[^>]*>([^<]*)</text>", svg)
                out.append(img.caption)
            continue
        out += list(_strings(MessageToDict(proto)))
    return out


def internal_names(at: AppTest) -> dict[str, str]:
    """The snake_case tokens of the page's text that are not allowed (``ALLOWED``), each with the text it is in."""
    found = {}
    for text in rendered_texts(at):
        text = LINK_TARGET.sub("]", text)
        code = " ".join(CODE_SPAN.findall(text))
        tokens = ({m.group(0) for m in SNAKE.finditer(CODE_SPAN.sub(" ", text))} - ALLOWED
                  | {m.group(0) for m in SNAKE.finditer(code)} & MACHINE_NAMES)
        found.update({t: text[:200] for t in tokens})
    return found


def has_verdict(at: AppTest) -> bool:
    """Whether one of the verdict sentences is on the page."""
    return any(p in t for t in rendered_texts(at) for p in VERDICT_PHRASES)


def alerts(at: AppTest) -> list[str]:
    """The texts of the page's success, info, warning and error boxes, in that order."""
    return [a.value for kind in (at.success, at.info, at.warning, at.error) for a in kind]


def _click(at: AppTest, label_start: str) -> AppTest:
    next(b for b in at.button if b.label.startswith(label_start)).click().run()
    return at


# page, its URL parameters (the smallest settings), the Run button's label (None: a page without one)
PAGES = [
    ("home.py", {}, None),
    ("concept_attack.py", {"steps": "3", "eps": "0.05"}, "Run concept"),
    ("prototype_attack.py", {"steps": "3", "digits": "4"}, "Run prototype"),
    ("saliency_attack.py", {"sal_steps": "3", "sal_method": "saliency"}, "Run saliency"),
    ("saliency_attack.py", {"sal_steps": "3", "sal_method": "saliency", "sal_kind": "mass-center"}, "Run saliency"),
    ("batch_attack.py", {"b_n": "3", "b_steps": "2"}, "Run batch"),
    ("batch_attack.py", {"b_attack": "Prototype attack (PrototypeDL)", "b_n": "3", "b_steps": "2"}, "Run batch"),
    ("batch_attack.py", {"b_attack": "Saliency attack", "b_n": "2", "b_steps": "2", "b_how": "class"}, "Run batch"),
    ("defense_comparison.py", {"def_steps": "3"}, "Run on both"),
    ("defense_comparison.py", {"def_family": "PrototypeDL: prototype attack", "def_steps": "3"}, "Run on both"),
    ("lipschitz_stability.py", {"lip_n": "2", "lip_budget": "2"}, "Run Lipschitz"),
    ("experiment_results.py", {}, None),
    ("quiz.py", {}, None),
]
# run by their own tests below: the influence page (one sign step) and the tour (its four buttons)
ELSEWHERE = {"influence_attack.py", "tour.py"}
# every other page of app_pages/ (a page added later included) is opened and scanned too
PAGES += [(p.name, {}, None) for p in sorted(Path(__file__).resolve().parents[2].joinpath("app_pages").glob("*.py"))
          if p.name not in {q for q, _, _ in PAGES} | ELSEWHERE]


@pytest.mark.parametrize("page, query, run", PAGES, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(PAGES)])
def test_no_internal_name_on_a_page_and_a_verdict_on_every_result(page, query, run):
    at = open_page(page, query)
    assert not at.exception, at.exception
    assert not internal_names(at), f"{page} before a run"
    if run is None:
        return
    _click(at, run)
    assert not at.exception, at.exception
    assert not internal_names(at), f"{page} after a run"
    assert has_verdict(at), f"{page}: no verdict sentence after a run"


def test_the_batch_table_has_a_verdict_column_and_a_selected_digit_its_sentence():
    at = _click(open_page("batch_attack.py", {"b_n": "3", "b_steps": "2"}), "Run batch")
    table = at.dataframe[0].value
    assert "Did the attack work?" in table.columns and table["Did the attack work?"].str.len().min() > 0
    assert any("worked on" in a or "did not work on any" in a for a in alerts(at))
    at.session_state["b_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception and not internal_names(at)
    assert sum(any(p in a for p in VERDICT_PHRASES) for a in alerts(at)) >= 2   # the batch's and the digit's


def test_the_influence_page_has_a_verdict_and_no_internal_name():
    at = _click(open_page("influence_attack.py", {"inf_steps": "1"}), "Run influence")
    assert not at.exception and not internal_names(at) and has_verdict(at)


def test_every_tour_step_says_whether_it_worked():
    at = open_page("tour.py")
    for n in range(1, 5):
        _click(at, f"Run step {n}")
        assert not at.exception, at.exception
    sentences = [a for a in alerts(at) if any(p in a for p in VERDICT_PHRASES)]
    assert len(sentences) >= 4, sentences
    assert not internal_names(at)
