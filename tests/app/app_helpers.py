"""Reading what an AppTest page drew: its plotly figures as dicts, their arrays as numpy; its images and downloads
(through the ``media`` fixture of conftest.py) as bytes."""
from __future__ import annotations

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest

_SVG_URL, _PNG_URL = "data:image/svg+xml;base64,", "data:image/png;base64,"   # pictures sent inside the page

def figures(at: AppTest) -> list[dict]:
    """Every plotly chart on the page, in page order, as the JSON the browser receives."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def array(value) -> np.ndarray:
    """A figure's ``z``/``x``/``y``: a list, or plotly's typed array ``{"dtype", "bdata", "shape"}``."""
    if isinstance(value, dict):
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype(float)
        shape = value.get("shape")
        return a.reshape([int(n) for n in str(shape).split(",")]) if shape else a
    return np.asarray(value, dtype=float)


def title(fig: dict) -> str:
    return (fig["layout"].get("title") or {}).get("text") or ""


def open_page(page: str, query: dict | None = None, timeout: int = 120) -> AppTest:
    """The app opened through its router on ``app_pages/<page>``, with URL parameters ``query``."""
    at = AppTest.from_file("../../app.py", default_timeout=timeout).run()
    at.switch_page(f"app_pages/{page}")
    at.query_params.update(query or {})
    return at.run()


def open_presenting(page: str, query: dict, timeout: int = 120) -> AppTest:
    """``page`` opened from a link in presenter mode (``?present=1`` on the first visit), with ``query``."""
    at = AppTest.from_file("../../app.py", default_timeout=timeout)
    at.query_params["present"] = "1"
    at.run().switch_page(f"app_pages/{page}")
    at.query_params.update(query)
    return at.run()


def content(media, button) -> bytes:
    """The bytes a download button hands to the browser (a deferred one is generated now, as on a click)."""
    mgr = media[-1]
    if button.proto.deferred_file_id:
        data = mgr._deferred_callables[button.proto.deferred_file_id]["callable"]()
        return data.encode() if isinstance(data, str) else data
    return media_bytes(media, button.proto.url)


def media_bytes(media, url: str) -> bytes:
    """The bytes behind a media URL of the page (an image's ``/media/<id>.png``)."""
    return media[-1]._storage.get_file(url.rsplit("/", 1)[1].split(".")[0]).content


def pictures(at: AppTest, media) -> list[np.ndarray]:
    """Every image (``st.image``) on the page, in page order, decoded to a uint8 array."""
    import io

    from PIL import Image

    def data(url: str) -> bytes:  # a PNG data URL (app_pages.ui.figures.png_data_url) or a media file
        return base64.b64decode(url[len(_PNG_URL):]) if url.startswith(_PNG_URL) else media_bytes(media, url)

    return [np.asarray(Image.open(io.BytesIO(data(img.url))))
            for el in at.get("image") for img in el.proto.imgs if not img.url.startswith(_SVG_URL)]


def svgs(at: AppTest) -> list[str]:
    """Every SVG picture on the page (``st.image`` of an SVG string: a data URL), decoded, in page order."""
    return [base64.b64decode(img.url[len(_SVG_URL):]).decode() for el in at.get("image") for img in el.proto.imgs
            if img.url.startswith(_SVG_URL)]
