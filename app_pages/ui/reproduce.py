"""Reproduce this: every result a page shows carries the Python that recomputes it, and the sidebar exports the
whole session as one script that recomputes every result and checks its numbers (``sem_core.serve.reproduce``).

    remember(spec, result)              # run_job does it for every job
    keep_result(...)                    # attaches the recipes of the jobs since the last result
    reproduce_this(result)              # result_or_stop shows it above the result
    session_export()                    # the sidebar's download, once the session has results
"""
from __future__ import annotations

import logging

import streamlit as st

from sem_core.serve.reproduce import Recipe, recipe_of, session_script, snippet

log = logging.getLogger(__name__)
PENDING, SESSION = "_pending_recipes", "_session_recipes"
MAX_SESSION_RECIPES = 50     # the export keeps the session's latest results
MAX_SHOWN = 3                # snippets in one result's expander (a result of many jobs: the first ones)


def remember(spec, result, context) -> None:
    """Record the recipe of ``result`` (a finished job; ``context()``: (the model's card, its test images)): for the
    next kept result and for the session export. A result that cannot be told as a recipe is left out of both, with
    a log line (the page shows it as usual)."""
    try:
        card, test_x = context()
        recipe = recipe_of(spec, card, test_x, result, title_of(spec))
    except Exception as exc:  # noqa: BLE001 - "reproduce this" must never break a page
        log.warning("no recipe for %s/%s: %s", spec.kind, spec.name, exc)
        return
    st.session_state.setdefault(PENDING, []).append(recipe)
    mine = st.session_state.setdefault(SESSION, [])
    mine.append(recipe)
    del mine[:-MAX_SESSION_RECIPES]


def title_of(spec) -> str:
    """A recipe's title in words: "attack senn_concept on senn", "Lipschitz (auto) of saliency on cnn"."""
    if spec.kind.startswith("lipschitz"):
        return f"Lipschitz ({spec.name}) of {spec.config.get('explainer', '?')} on {spec.model}"
    return f"{spec.kind} {spec.name} on {spec.model}"


def start_page() -> None:
    """A page run begins (the sidebar calls it): recipes of another page's jobs never attach to this page's result."""
    st.session_state.pop(PENDING, None)


def take_pending() -> list[Recipe]:
    """The recipes of the jobs run since the last kept result (``keep_result`` stores them with it)."""
    return st.session_state.pop(PENDING, [])


def reproduce_this(result: dict, hidden: bool = False) -> None:
    """The expander with the Python that recomputes ``result`` (nothing for a result without recipes, nor when
    ``hidden``: presenter mode)."""
    recipes = result.get("recipes") or []
    if not recipes or hidden:
        return
    with st.expander("Reproduce this: the Python that recomputes this result", icon=":material/code:"):
        st.markdown("Run it in this project's environment: it loads the same model (its SHA-256 is checked), the same "
                   "digits, settings and seed, and prints the numbers shown here. **Export this session** in the "
                   "sidebar writes one script for every result, which checks them.")
        for r in recipes[:MAX_SHOWN]:
            st.code(snippet(r), language="python")
        if len(recipes) > MAX_SHOWN:
            st.markdown(f"…and {len(recipes) - MAX_SHOWN} more jobs of this result: in the session export.")


def session_export() -> None:
    """The sidebar's download of the session's script: every result of the session when it is clicked (a session
    without results gets a script that says so)."""
    # the list itself, read on the click: a result this run draws below the sidebar is in it too
    recipes = st.session_state.setdefault(SESSION, [])
    st.download_button("Export this session (Python)", lambda: session_script(list(recipes)),
                       file_name="sem-explorer-session.py", mime="text/x-python", on_click="ignore",
                       icon=":material/download:", key="session_export",
                       help="One script that recomputes every result of this session and checks its numbers")
