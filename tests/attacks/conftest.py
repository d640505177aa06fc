import pytest
import torch

from sem_core.models import create_model


@pytest.fixture(scope="session")
def tiny_senn():
    torch.manual_seed(0)
    return create_model("senn", n_concepts=4).eval().requires_grad_(False)


@pytest.fixture(scope="session")
def tiny_protodl():
    torch.manual_seed(0)
    return create_model("protodl", class_init=True).eval().requires_grad_(False)


@pytest.fixture(scope="session")
def digits(test_split):
    x, y, _ = test_split
    return x[:6], y[:6], x[500:506]
