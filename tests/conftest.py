"""Shared fixtures: a fixed seed for every test, the offline test split, tiny fresh models."""
from __future__ import annotations

import pytest
import torch

import sem_core


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
    return {name: sem_core.load_model_with_card(name, "cpu") for name in sem_core.list_models()}


def pytest_collection_modifyitems(config, items):
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs CUDA")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
