"""The pages' way to the engine: the attack service, this session's id, submitting jobs and waiting with progress,
time estimates and timing captions, and the models the service loaded.

    res, times = run_job(saliency_job("cnn", "saliency_topk", x, 3, method="saliency", eps=0.1, steps=50, k=50))
    st.caption(timing_caption(times))           # "result from the cache" or "queued 0.00 s, computed 0.21 s"
"""
from __future__ import annotations

import itertools
import os
import time
import weakref
from typing import Any

import streamlit as st

import sem_core
from sem_core.device import describe_device

from .reproduce import remember


@st.cache_resource(show_spinner="Loading model…")
def get_model(name: str):
    """(model, card), loaded once per process by the attack service and shared read-only by every session."""
    return service().model(name)


@st.cache_resource(show_spinner="Loading digits…")
def get_split(split: str, source: str) -> tuple:
    """(x [N,1,28,28], y [N], source) of ``split``: one read-only copy per process (st.cache_data gave every run its
    own 16 MB copy, kept by each session)."""
    x, y, src = sem_core.load_split(split, source)
    return x, y, src


@st.cache_resource
def device_label() -> str:
    """The service's device in words ("CPU", "GPU: NVIDIA H100 …"), for the sidebar."""
    return describe_device(service().device)


def service():
    """The process's attack service (``start_precompute`` fills its cache with the default views)."""
    from sem_core.serve.service import get_service

    return get_service()


def start_precompute() -> None:
    """Precompute the default views in the background, once per process, when the result cache lacks them
    (``SEM_PRECOMPUTE=0`` turns that off). app.py calls it after a page's script has run, and it waits 1 s more
    while the browser draws that page: started by the first page's script, it took a core from that page (home idle
    3.15 s instead of 2.87 s after the server's start; benchmarks/bench_latency.py --start --precompute)."""
    if os.environ.get("SEM_PRECOMPUTE", "1") != "0":
        from sem_core.serve.precompute import precompute_in_background

        precompute_in_background(service(), delay_s=1.0)


class _SessionToken:
    """Lives in a session's state; when Streamlit drops the session, its waiting jobs are cancelled (issue 16).
    ``sid``: the session as the service knows it, Streamlit's session id plus a number of this token's own, so
    the end of one session state never cancels another's jobs (Streamlit's test harness gives every AppTest the
    same session id, and a dropped AppTest's token is finalised whenever the garbage collector gets to it)."""

    _made = itertools.count(1)

    def __init__(self, base: str):
        self.sid = f"{base}#{next(self._made)}"


def session_id() -> str:
    """This browser session's id (the service's unit of fairness)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if "_sem_session_token" not in st.session_state:
        ctx = get_script_run_ctx()
        token = st.session_state["_sem_session_token"] = _SessionToken(ctx.session_id if ctx is not None else "bare")
        service().register_session(token.sid)
        weakref.finalize(token, service().release_session, token.sid)
    return st.session_state["_sem_session_token"].sid


def run_job(spec, label: str = "Attacking…") -> tuple[Any, dict[str, float]]:
    """Submit ``spec`` to the attack service and wait, showing its progress or its place in the queue.
    Returns (result, timings: queue_s, compute_s, cached). A cached result returns at once; a rerun of the
    page (another click) cancels the job; a service error (queue full, bad input) raises ``SemError``."""
    handle = service().submit(session_id(), spec)
    if not handle.done():
        bar = st.progress(0.0, text=handle.status())
        shown, at = (0, handle.status()), time.monotonic()
        try:
            while not handle.wait(0.25):
                # only what the reader can see change (a whole percent, a new status line), and once a second
                # anyway: Streamlit notices a rerun or a stop when the script sends something. Every update is a
                # message to the browser and a redraw there; 20 waiting sessions at 10 a second each were 200 a
                # second on the server (benchmarks/bench_load.py)
                now = (int(100 * handle.progress), label if handle.state == "running" else handle.status())
                if now != shown or time.monotonic() - at >= 1.0:
                    bar.progress(now[0] / 100, text=now[1])
                    shown, at = now, time.monotonic()
        except BaseException:  # the script was stopped or rerun: nobody waits for the job any more
            handle.cancel()
            raise
        bar.empty()
    times = handle.timings()
    result = handle.result()
    slot, fragment = st.session_state.pop(ESTIMATE_SLOT, (None, None))
    if slot is not None and fragment == _fragment():   # the estimate before the run does not stay under its result
        slot.empty()
    remember(spec, result, lambda: model_and_split(spec.model))
    return result, {"queue_s": times["queue_s"], "compute_s": times["compute_s"], "cached": handle.cached == handle.n}


def run_jobs(specs: dict, label: str = "Computing", skip_errors: bool = False) -> tuple[dict, dict[str, str], dict]:
    """``run_job`` for each of ``specs`` (name -> JobSpec) in turn, so one session never holds more than one
    waiting job. Returns (results: name -> result, skipped: name -> message, timings summed over the jobs, "cached"
    when every one was). ``skip_errors``: a job the algorithm refuses (e.g. LRP on SENN) is skipped with its
    message and the others still run; a full queue always raises."""
    from sem_core.serve.service import QueueFullError

    results, skipped, total = {}, {}, {"queue_s": 0.0, "compute_s": 0.0, "cached": True}
    for j, (name, spec) in enumerate(specs.items()):
        try:
            results[name], times = run_job(spec, f"{label}: {name} ({j + 1} of {len(specs)})…")
        except QueueFullError:
            raise
        except sem_core.SemError as exc:
            if not skip_errors:
                raise
            skipped[name] = str(exc)
            continue
        total = {"queue_s": total["queue_s"] + times["queue_s"], "compute_s": total["compute_s"] + times["compute_s"],
                 "cached": total["cached"] and times["cached"]}
    return results, skipped, total


def model_and_split(name: str) -> tuple[dict, Any]:
    """(card, test images) of a model: what a recipe names its digits against."""
    _, card = get_model(name)
    return card, get_split("test", card["data"]["source"])[0]


def estimate_caption(jobs, container=st):
    """The time estimate of ``jobs`` (``sem_core.serve.estimates``: calibrated on this machine) as a caption before a
    Run button, cleared once a job of this run finishes (``run_job``); returns the ``Estimate`` (its
    ``took(seconds)`` is the caption under the result)."""
    from sem_core.serve.estimates import get_estimator

    est = get_estimator().estimate(jobs)
    slot = container.empty()
    slot.caption(est.describe())
    # run_job clears it (after the run, "Took …" says what it took): only from the same page run and fragment
    st.session_state[ESTIMATE_SLOT] = (slot, _fragment())
    return est


ESTIMATE_SLOT = "_estimate_slot"   # the sidebar forgets it when a page run begins (layout.sidebar)


def _fragment():
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return None if ctx is None else getattr(ctx, "current_fragment_id", None)


def timing_caption(times: dict[str, Any]) -> str:
    """"from the cache" or "queued 0.0 s, computed 0.2 s" (the load benchmark reads this line)."""
    if times.get("cached"):
        return "result from the cache"
    return f"queued {times['queue_s']:.2f} s, computed {times['compute_s']:.2f} s"


#: a shared link recomputes its result by itself only when it is cached or estimated at most this long
LINK_AUTORUN_LIMIT_S = 20.0


def link_affordable(estimate, specs) -> tuple[bool, str]:
    """(ok, why) for a link's result: ok when every job of ``specs`` is cached (``AttackService.peek``) or the
    ``estimate`` (an ``Estimate``) is known and at most ``LINK_AUTORUN_LIMIT_S`` even at its high end."""
    if all(service().peek(spec) is not None for spec in specs):
        return True, "is cached"
    if estimate is None or estimate.seconds is None:
        return False, "has no time estimate yet on this machine"
    high = estimate.high if estimate.high is not None else estimate.seconds
    if high > LINK_AUTORUN_LIMIT_S:
        return False, f"takes {estimate.describe().removeprefix('Estimated time: ').rstrip('.')} to compute"
    return True, "is quick"
