"""The controls of declared settings: one widget per setting of a page's ``View`` (``sem_core.serve.views``), with the
declaration's label, help, default and range, bound to the URL (``?eps=0.2``). A page writes no default of its own.

    values = settings_controls(CONCEPT, containers={"eps": c1})     # eps in c1, the rest under "More settings"
    spec = concept_job(name, x, y, x_t, **values)
"""
from __future__ import annotations

import math

import streamlit as st

from sem_core.errors import SemError
from sem_core.params import Param
from sem_core.serve.views import View
from sem_core.viz.text import escape_markdown

from .layout import more_settings, presenting
from .state import ignore_url_value, url_choice


def _decimals(param: Param) -> str:
    step = param.step or 0.01
    return f"%.{max(2, -math.floor(math.log10(step)))}f"


def setting_control(param: Param, key: str, container=st, **kw):
    """The widget of one declared setting, bound to the ``key`` query parameter: a menu for choices and yes/no, a
    number input within the declared range otherwise (``kw``: more widget options, e.g. ``disabled``). A hand-edited
    bad URL value is ignored with a warning."""
    help_text = param.help or None
    if param.choices or param.kind is str:
        return url_choice(param.label, key, list(param.choices), param.default, container=container, help=help_text,
                          **kw)
    if param.kind is bool:   # the URL spells it as the menu does: yes / no
        return url_choice(param.label, key, ["no", "yes"], "yes" if param.default else "no", container=container,
                          help=help_text, **kw) == "yes"
    raw = st.query_params.get(key)
    if raw is not None:
        try:
            param.parse(raw)
        except SemError:  # the range ("in [0.01, 1]") as plain text, not Markdown
            ignore_url_value(key, raw, escape_markdown(param.requirement()), f"{param.default:g}")
    integer = param.kind is int
    lo = None if param.lo is None or param.lo_open else param.lo
    if key in st.session_state and not _inside(param, st.session_state[key]):
        del st.session_state[key]      # e.g. a value of another attack's range, after the attack changed
    fmt = {} if integer else {"format": _decimals(param)}
    return container.number_input(param.label, min_value=lo, max_value=param.hi, value=param.default,
                                  step=param.step if param.step is not None else (1 if integer else None),
                                  key=key, bind="query-params", help=help_text, **fmt, **kw)


def _inside(param: Param, value) -> bool:
    try:
        param.check(value)
        return True
    except SemError:
        return False


def settings_controls(view: View, prefix: str = "", containers: dict | None = None) -> dict:
    """Every setting the view shows: the ``main`` ones in ``containers[name]`` (default: the page), the others
    under "More settings", up to four to a row, rows as even as can be (one per row in presenter mode). URL keys: ``prefix + name``. Returns
    {name: value}, what the view's job builder takes."""
    containers = containers or {}
    shown = {q.name: q for q in view.shown()}
    values = {p: setting_control(shown[p], prefix + p, containers.get(p, st)) for p in view.main if p in shown}
    more = view.more()
    if more:
        with more_settings():
            per_row = -(-len(more) // -(-len(more) // 4))      # 5 → 3 + 2, 6 → 3 + 3, 7 → 4 + 3
            cols = [st] * len(more) if presenting() else st.columns(per_row)
            for i, param in enumerate(more):
                values[param.name] = setting_control(param, prefix + param.name, cols[i % len(cols)])
    return values
