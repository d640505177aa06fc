"""Device choice: SEM_DEVICE and the argument override the automatic CUDA → MPS → CPU order; bad or
absent devices are SemErrors. CUDA and MPS are faked with monkeypatch, so every branch runs on a CPU machine."""
import pytest
import torch

from sem_core.device import describe_device, model_device, resolve_device
from sem_core.errors import SemError


@pytest.fixture
def machine(monkeypatch):
    """fake(cuda=..., mps=...): pretend which accelerators this machine has; SEM_DEVICE starts unset."""
    monkeypatch.delenv("SEM_DEVICE", raising=False)

    def fake(*, cuda: bool, mps: bool = False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return fake


@pytest.mark.parametrize("cuda,mps,expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_default_order_is_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert resolve_device() == torch.device(expected)


@pytest.mark.parametrize("value", ["cpu", ""])
def test_sem_device_overrides_the_automatic_choice(machine, monkeypatch, value):
    machine(cuda=True)
    monkeypatch.setenv("SEM_DEVICE", value)
    assert resolve_device() == torch.device(value or "cuda")  # an empty SEM_DEVICE means "choose for me"


def test_explicit_argument_wins_over_sem_device(machine, monkeypatch):
    machine(cuda=True)
    monkeypatch.setenv("SEM_DEVICE", "definitely-not-a-device")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(SemError, match="unknown device 'definitely-not-a-device'"):
        resolve_device()  # without an argument the bad variable is read and refused


@pytest.mark.parametrize("name", ["gpu0", "cuda:x", "tpu:0"])
def test_unknown_device_names_are_sem_errors(machine, name):
    machine(cuda=True)
    with pytest.raises(SemError, match=f"unknown device '{name}'"):
        resolve_device(name)


@pytest.mark.parametrize("name,missing", [("cuda", "CUDA"), ("cuda:1", "CUDA"), ("mps", "MPS")])
def test_an_absent_accelerator_is_a_sem_error(machine, name, missing):
    machine(cuda=False, mps=False)
    with pytest.raises(SemError, match=f"'{name}' was asked for but {missing} is not available"):
        resolve_device(name)


def test_a_present_accelerator_is_returned_with_its_index(machine):
    machine(cuda=True)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_describe_device_names_the_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev: "Fake GPU 9000")
    assert describe_device(torch.device("cuda")) == "GPU: Fake GPU 9000"
    assert describe_device(torch.device("mps")) == "Apple GPU (MPS)"
    assert describe_device(torch.device("cpu")) == "CPU"


def test_model_device_is_where_the_parameters_are():
    assert model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(torch.nn.Linear(2, 2, device="meta")) == torch.device("meta")  # not a default: read off


@pytest.mark.gpu
def test_real_cuda_is_the_default_and_runs_a_model(monkeypatch):
    monkeypatch.delenv("SEM_DEVICE", raising=False)
    dev = resolve_device()
    assert dev.type == "cuda" and describe_device(dev).startswith("GPU: ")
    model = torch.nn.Linear(2, 2).to(dev)
    assert model_device(model).type == "cuda"
