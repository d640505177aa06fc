"""The pages' pickers: a model of a family, a digit (test split, upload or drawing), a target region, and the
digit splits they pick from (one read-only copy per process).

    x_all, y_all, source = test_split_for(name)
    x, y, caption = digit_picker("src", "Source digit x", 9, x_all, y_all)   # x [1,1,28,28] or None
"""
from __future__ import annotations

import streamlit as st

import sem_core
from app_pages.ui.figures import IMAGE_CHART
from app_pages.ui.jobs import get_model, get_split  # get_split: also the pages' (re-exported)
from app_pages.ui.layout import user_errors
from app_pages.ui.state import url_choice, url_number
from sem_core.viz.text import parse_url_number
from sem_core.digit_io import digit_from_array, digit_from_bytes
from sem_core.errors import DataError
from sem_core.viz.digits import (box_mask, class_indices, class_position, closest_digit, mask_from_text, mask_to_text,
                                 points_mask, random_digit)
from sem_core.viz.text import escape_markdown as safe_text

MODEL_LABELS = {"senn": "SENN (self-explaining, 12 concepts)", "senn-k5": "SENN, 5 concepts",
                "protodl": "PrototypeDL (prototypes)", "cnn": "CNN (black box)",
                "senn-adv": "SENN (5 concepts), adversarially trained", "senn-lip": "SENN (5 concepts), Lipschitz-penalised",
                "senn-madry": "SENN (5 concepts), Madry-style adversarial training",
                "protodl-adv": "PrototypeDL, adversarially trained",
                "protodl-li": "PrototypeDL, Li et al.'s loss weights",
                "cnn-smooth": "CNN, smooth (softplus) activations"}


def test_split_for(name: str) -> tuple:
    """The test split of the source the model was trained on (sources are never mixed)."""
    _, card = get_model(name)
    return get_split("test", card["data"]["source"])


def model_choice(family: str, key: str = "model", container=st) -> str:
    """A URL-bound choice among the shipped models of ``family`` (the natural one and its robust variants)."""
    names = sem_core.list_shipped(family)
    return url_choice("Model", key, names, family, container=container, help=model_help(names))


def model_help(names: list[str]) -> str:
    """What each model name means, for a model choice's help tooltip."""
    return " · ".join(f"{n}: {MODEL_LABELS.get(n, n)}" for n in names)


def _random_digit(prefix: str, y_all, avoid: str | None = None) -> None:
    """A random test digit; ``avoid`` names another picker whose class this one must not take (a target
    digit of the source's class would make the concept attack trivial)."""
    other = int(st.session_state[avoid]) if avoid is not None and avoid in st.session_state else None
    st.session_state[prefix], st.session_state[f"{prefix}_i"] = random_digit(y_all, avoid=other)


def digit_picker(prefix: str, title: str, default_class: int, x_all, y_all, avoid: str | None = None):
    """Pick a test digit (class + index, or random), upload one or draw one. Returns (x [1,1,28,28] or None,
    its label or None, a caption); a bad upload is shown as an error and gives None, an empty canvas a hint.
    ``avoid``: the prefix of another picker whose class the Random button never picks."""
    st.markdown(f"**{title}**")
    st.session_state[f"_{prefix}_index"] = None  # the test-split index, for provenance; none for drawn/uploaded
    source = url_choice("Digit from", f"{prefix}_from", ["test split", "upload", "draw"], "test split",
                        widget=st.radio, horizontal=True, label_visibility="collapsed")
    if source == "draw":
        return _drawn_digit(prefix, x_all, y_all)
    if source == "upload":
        file = st.file_uploader("A PNG or JPG of one digit", type=["png", "jpg", "jpeg"], key=f"{prefix}_file")
        if file is None:
            if not _link_names_result(prefix, "uploaded", "upload", y_all):
                st.info("Upload a digit (any size, dark on light or light on dark).")
            return None, None, ""
        with user_errors():
            x = digit_from_bytes(file.getvalue())
            st.image(x[0, 0].numpy(), caption="as the model sees it (28×28)", width=84, clamp=True)
            _note_closest(prefix, x, x_all)
            return x, None, f"uploaded {safe_text(file.name)}"
        return None, None, ""
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    cls = url_choice("Class", prefix, list(range(10)), default_class, container=c1)
    of_class = class_indices(y_all, cls)
    k = url_number(f"Index (of {len(of_class)})", f"{prefix}_i", 0, 0, len(of_class) - 1, integer=True, container=c2)
    c3.button("Random", key=f"{prefix}_rand", help="A random test digit" + (" of another class" if avoid else ""),
              on_click=_random_digit, args=(prefix, y_all, avoid))
    i = int(of_class[int(k)])
    st.session_state[f"_{prefix}_index"] = i
    if f"{prefix}_near" in st.query_params:  # a test digit travels in the link itself
        del st.query_params[f"{prefix}_near"]
    return x_all[i: i + 1], cls, f"test digit #{i} (label {cls})"


def _note_closest(prefix: str, x, x_all) -> None:
    """Name the test digit closest to an uploaded or drawn ``x`` in the URL (``<prefix>_near``), so that a link to a
    result on it can offer that test digit where the digit itself cannot travel."""
    st.query_params[f"{prefix}_near"] = str(closest_digit(x, x_all))


def _use_test_digit(prefix: str, cls: int, k: int) -> None:
    """The picker ``prefix`` switched to the test digit ``k`` of class ``cls`` (a button's callback)."""
    st.session_state[f"{prefix}_from"] = "test split"
    st.session_state[prefix], st.session_state[f"{prefix}_i"] = cls, k


def _link_names_result(prefix: str, how: str, verb: str, y_all) -> bool:
    """On a link that names a result (``?result=…``) made with a digit that cannot travel in a URL: say so in one
    line, and offer the test digit closest to it when the link names one (``<prefix>_near``); returns whether it
    said so."""
    if st.query_params.get("result") is None:
        return False
    near = parse_url_number(st.query_params.get(f"{prefix}_near"), 0, len(y_all) - 1, integer=True)
    if near is None:
        st.info(f"This link names a result computed on an {how} digit. The digit itself cannot travel in a link (only "
                f"the settings do): {verb} it again here, or choose **test split** to run on a test digit.")
        return True
    cls, k = class_position(y_all, near)
    st.info(f"This link names a result computed on an {how} digit. The digit itself cannot travel in a link (only "
            f"the settings do): {verb} it again here, or use the test digit closest to it, #{near} (a {cls}).")
    st.button(f"Use the closest test digit (#{near}, a {cls})", key=f"{prefix}_use_near", on_click=_use_test_digit,
              args=(prefix, cls, k), icon=":material/swap_horiz:")
    return True


def picked_index(prefix: str) -> int | None:
    """The test-split index of the digit ``digit_picker(prefix, ...)`` returned (None: drawn or uploaded)."""
    return st.session_state.get(f"_{prefix}_index")


def _drawn_digit(prefix: str, x_all, y_all):
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
        if not _link_names_result(prefix, "drawn", "draw", y_all):
            st.info("Draw a digit in the box above (nothing drawn yet).")
        return None, None, ""
    st.image(x[0, 0].numpy(), caption="as the model sees it (28×28)", width=84, clamp=True)
    _note_closest(prefix, x, x_all)
    return x, None, "drawn digit"


def region_picker(x, prefix: str):
    """A target region [28,28] bool over the digit ``x``: two range sliders, a box/lasso on the image, or the region a
    link carries (``<prefix>_region``, written by ``link_region`` with the result; the default when present)."""
    from sem_core.viz.maps import region_overlay

    linked = mask_from_text(st.query_params.get(f"{prefix}_region"))
    hows = ["sliders", "a box or lasso on the image"] + (["the region in the link"] if linked is not None else [])
    how = st.radio("Target region from", hows, horizontal=True, key=f"{prefix}_region_how",
                   index=2 if linked is not None else 0)
    if how == "the region in the link":
        mask = linked
        st.plotly_chart(region_overlay(x, mask, height=300), width="content", key=f"{prefix}_region_fig",
                        config=IMAGE_CHART)
    elif how == "sliders":
        rows = st.slider("Rows (top, bottom; bottom excluded)", 0, 28, (0, 10), key=f"{prefix}_rows")
        cols = st.slider("Columns (left, right; right excluded)", 0, 28, (0, 10), key=f"{prefix}_cols")
        mask = box_mask(rows, cols)
        st.plotly_chart(region_overlay(x, mask, height=300), width="content", key=f"{prefix}_region_fig",
                        config=IMAGE_CHART)
    else:
        ev = st.plotly_chart(region_overlay(x, None, selectable=True, height=300), on_select="rerun",
                             selection_mode=("box", "lasso"), key=f"{prefix}_region_sel")
        mask = points_mask(ev.selection.points)
    st.caption(f"{int(mask.sum())} pixels in the target region (red).")
    return mask


def link_region(prefix: str, mask) -> None:
    """Put the target region of a kept result into the URL (``<prefix>_region``), so a copied link reopens it."""
    st.query_params[f"{prefix}_region"] = mask_to_text(mask)
