"""Shared fixtures: one torch thread, a fixed seed for every test, the offline test split, the shipped models."""
from __future__ import annotations

import os
import tempfile

import pytest
import torch

import sem_core

# The tests' tensors are tiny and the 2 cores are often shared (Streamlit, Chromium, other jobs): there,
# torch's default of one intra-op thread per core spin-waits and made the suite 3-5x slower.
# A set OMP_NUM_THREADS wins; subprocesses (the CLI entry point, the browser test's server) inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
# The attack service's result cache: a fresh folder per test run (never the user's ~/.cache), and no background
# precomputing of the default views (tests that want it call sem_core.serve.precompute.precompute themselves).
os.environ.setdefault("SEM_CACHE_DIR", tempfile.mkdtemp(prefix="sem-cache-"))
os.environ.setdefault("SEM_PRECOMPUTE", "0")
# The installation secret that signs cache entries: a fresh one per test run, never the user's ~/.config.
os.environ.setdefault("SEM_SECRET_FILE", os.path.join(tempfile.mkdtemp(prefix="sem-secret-"), "secret"))
# Models uploaded in the app during tests go to a fresh folder, never the user's ~/.cache.
os.environ.setdefault("SEM_UPLOADS_DIR", tempfile.mkdtemp(prefix="sem-uploads-"))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def test_split():
    """The offline subset's test split (what the shipped models were evaluated on)."""
    return sem_core.load_split("test", "subset")


@pytest.fixture(scope="session")
def shipped():
    """The shipped models on the CPU, loaded once: name -> (model, card)."""
    return {name: sem_core.load_model_with_card(name, "cpu") for name in sem_core.list_shipped()}


def pytest_collection_modifyitems(config, items):
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs CUDA")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def foreign(test_split):
    """Models this project did not write (``tests/foreign_models.py``), each with a batch of its images:
    name -> (model, x [4,C,H,W], y [4]). The MNIST-shaped ones are trained for a few seconds on the offline
    subset; the colour net is random (its images are random too)."""
    from foreign_models import ColourNet, DuckConcept, DuckPrototype, FunctionalCNN, train_briefly

    x_train, y_train, _ = sem_core.load_split("train", "subset")
    x, y, _ = test_split
    torch.manual_seed(0)
    colour_x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    colour = ColourNet().eval().requires_grad_(False)
    return {
        "functional-cnn": (train_briefly(FunctionalCNN(), x_train, y_train), x[:4], y[:4]),
        "colour-3x32x32": (colour, colour_x, colour(colour_x).argmax(1)),
        "duck-concept": (train_briefly(DuckConcept(), x_train, y_train), x[:4], y[:4]),
        "duck-prototype": (train_briefly(DuckPrototype(), x_train, y_train), x[:4], y[:4]),
    }
