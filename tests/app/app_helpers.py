"""Reading what an AppTest page drew: its plotly figures as dicts, their arrays as numpy."""
from __future__ import annotations

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest


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
