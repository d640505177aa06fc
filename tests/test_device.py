import pytest
import torch

from sem_core.device import describe_device, resolve_device
from sem_core.errors import SemError


def test_env_override(monkeypatch):
    monkeypatch.setenv("SEM_DEVICE", "cpu")
    assert resolve_device() == torch.device("cpu")
    assert describe_device(resolve_device()) == "CPU"


def test_explicit_argument_wins_over_env(monkeypatch):
    monkeypatch.setenv("SEM_DEVICE", "definitely-not-a-device")
    assert resolve_device("cpu") == torch.device("cpu")


def test_bad_device_is_a_clear_error():
    with pytest.raises(SemError, match="unknown device"):
        resolve_device("gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without CUDA")
def test_cuda_requested_without_cuda():
    with pytest.raises(SemError, match="CUDA is not available"):
        resolve_device("cuda")


def test_default_is_cuda_when_present(monkeypatch):
    monkeypatch.delenv("SEM_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    dev = resolve_device()
    if expected:
        assert dev.type == "cuda"
    else:
        assert dev.type in {"cpu", "mps"}
