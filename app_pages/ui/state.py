"""A page's state: its controls bound to the URL's query string (so a link reopens the view), and the result it
keeps in the session (so a rerun, or a shared link that names it, shows it again).

    eps = url_number("ε", "eps", 0.3, 0.01, 1.0)          # ?eps=0.5 in a link sets it; ?eps=abc is ignored, with a warning
    if st.button("Run") or link_wants_result("concept", params):
        keep_result("concept", params, res=run_job(spec)[0])
    out = result_or_stop("concept", "Press **Run**.")
"""
from __future__ import annotations

import streamlit as st

from sem_core.viz.text import escape_markdown as safe_text, parse_url_number

from .layout import presenting
from .reproduce import reproduce_this, take_pending


# ---- URL-bound controls: the page state lives in the query string so a link reopens the view ----
def _forget_url_value(key: str) -> None:
    """Drop a rejected URL value before its widget is created, so the widget starts at its default.

    Streamlit seeds a bound widget from the URL of the page load with its own, looser parsing (``float``
    accepts "inf", "1_000" and Arabic-Indic digits; ``int(inf)`` raises), so the value must go from both
    the current and the page-load query parameters. Both are methods of Streamlit's QueryParams object.
    """
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:  # bare mode (no session): nothing was seeded
        return
    with ctx.session_state.query_params() as qp:
        qp.remove_param(key)
        qp.set_initial_query_params_from_current()


def ignore_url_value(key: str, raw, expected: str, default) -> None:
    """The one-line warning for a rejected URL value; the value is echoed as escaped, shortened text."""
    _forget_url_value(key)
    st.warning(f"Ignored {key}={safe_text(raw)} in the URL: expected {expected}; using {default}.")


def url_number(label: str, key: str, default: float, lo: float, hi: float, *, integer: bool = False,
               step: float | None = None, container=st, **kw):
    """A number input bound to the ``key`` query parameter; a hand-edited bad value is ignored with a warning."""
    raw = st.query_params.get(key)
    if raw is not None and parse_url_number(raw, lo, hi, integer=integer) is None:
        ignore_url_value(key, raw, f"{'an integer' if integer else 'a number'} from {lo:g} to {hi:g}", f"{default:g}")
    cast = int if integer else float
    if key in st.session_state and not lo <= st.session_state[key] <= hi:  # e.g. an index after the class changed
        st.session_state[key] = cast(min(max(st.session_state[key], lo), hi))
    return container.number_input(label, min_value=cast(lo), max_value=cast(hi), value=cast(default),
                                  step=cast(step) if step is not None else cast(1) if integer else None,
                                  key=key, bind="query-params", **kw)


def url_choice(label: str, key: str, options: list, default, *, widget=None, container=st, **kw):
    """A choice widget (selectbox by default) bound to the ``key`` query parameter, with a warning for bad values."""
    raw = st.query_params.get(key)
    shown = kw.get("format_func", str)  # Streamlit writes the displayed label into the URL
    if raw is not None and raw not in {str(o) for o in options} | {str(shown(o)) for o in options}:
        expected = ("one of " + ", ".join(safe_text(o) for o in options) if len(options) <= 8
                    else f"one of the {len(options)} choices in its menu")  # a one-line warning, however many
        ignore_url_value(key, raw, expected, safe_text(default))
    widget = widget or container.selectbox
    return widget(label, options, index=options.index(default), key=key, bind="query-params", **kw)


def url_classes(label: str, key: str, default: list[int], *, container=st, **kw) -> list[int]:
    """A multiselect of digit classes 0-9 bound to the repeated ``key`` query parameter (``?key=0&key=2``)."""
    raw = st.query_params.get_all(key)
    if any(v not in {str(c) for c in range(10)} for v in raw):
        ignore_url_value(key, ",".join(raw), "classes 0 to 9", ", ".join(map(str, default)))
    return container.multiselect(label, list(range(10)), default=default, key=key, bind="query-params",
                                 max_selections=10, **kw)


# ---- shared links that name a result: ?result=<page key> reopens the page with its result recomputed ----
def link_wants_result(key: str, params: dict, ready: bool = True, affordable=None) -> bool:
    """True when the page should compute at once: the URL names this page's result (``result=<key>``) and
    this session does not hold it yet (a shared link, a reload). The result is recomputed from the URL's
    parameters, deterministically (fixed seeds). Once the controls move away from the parameters of the
    result on screen, ``result`` leaves the URL, so a copied link never names a result it would not show.
    ``affordable``: a callable returning (ok, why); a link never starts long work by itself (it must be cached
    or estimated under ``jobs.LINK_AUTORUN_LIMIT_S``), else the page says why and waits for its Run button."""
    st.session_state[f"_{key}_controls"] = params    # what the controls say now (``stale_notice`` compares)
    held = st.session_state.get(f"_{key}_params")
    named = st.query_params.get("result") == key
    if named and held is not None and held != params:
        del st.query_params["result"]
        return False
    wants = named and held is None and ready
    if wants and affordable is not None:
        ok, why = affordable()
        if not ok:
            st.info(f"This link names a result that {why}: a link never starts long work by itself, so press "
                    f"**Run** to compute it.")
            return False
    return wants


def keep_result(key: str, params: dict, **result) -> None:
    """Keep the page's ``result`` (as ``st.session_state[f"{key}_result"]``), remember the parameters it was
    computed from, and name it in the URL."""
    st.session_state[f"{key}_result"] = {**result, "recipes": take_pending()}
    st.session_state[f"_{key}_params"] = params
    st.query_params["result"] = key


def result_or_stop(key: str, hint: str) -> dict:
    """The page's kept result, with its "Reproduce this" expander above it (not in presenter mode); without one,
    ``hint`` (what to press) and the page stops here."""
    if f"{key}_result" not in st.session_state:
        st.info(hint)
        st.stop()
    result = st.session_state[f"{key}_result"]
    stale_notice(key)
    reproduce_this(result, hidden=presenting())
    return result


def stale_notice(key: str) -> bool:
    """A banner above a kept result computed with other settings than the controls now show (a control changed
    since its Run); returns whether it is stale."""
    held, now = st.session_state.get(f"_{key}_params"), st.session_state.get(f"_{key}_controls")
    stale = held is not None and now is not None and held != now
    if stale:
        st.warning("**Settings changed.** The result below was computed with the previous settings; press **Run** "
                   "to compute it with the new ones.", icon=":material/history:")
    return stale
