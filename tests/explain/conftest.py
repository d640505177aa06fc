"""Tiny hand-made models and MNIST-like inputs for the explainer tests (no checkpoints)."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn


def tiny_cnn(act, pool: bool = True, bias_sign: float = 0.0, seed: int = 0) -> nn.Module:
    """conv-act-(pool) ×2 -> dense-act -> logits, float64, eval mode, like sem_core's CNN.

    pool=False uses stride-2 convs instead of max-pooling. bias_sign < 0 makes every conv bias
    negative, so the black baseline's activations before each pool are 0.
    """
    torch.manual_seed(seed)
    if pool:
        features = [nn.Conv2d(1, 4, 3, padding=1), act(), nn.MaxPool2d(2),
                    nn.Conv2d(4, 6, 3, padding=1), act(), nn.MaxPool2d(2)]
    else:
        features = [nn.Conv2d(1, 4, 3, padding=1, stride=2), act(),
                    nn.Conv2d(4, 6, 3, padding=1, stride=2), act()]
    net = nn.Sequential(*features, nn.Flatten(), nn.Linear(6 * 49, 16), act(), nn.Linear(16, 10))
    if bias_sign:
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, nn.Conv2d):
                    m.bias.copy_(bias_sign * (m.bias.abs() + 0.05))
    return net.double().eval()


def softplus():
    return nn.Softplus(beta=10.0)


MODELS = {
    "relu_pool": lambda: tiny_cnn(nn.ReLU),
    "softplus_pool": lambda: tiny_cnn(softplus),
    "relu_pool_negbias": lambda: tiny_cnn(nn.ReLU, bias_sign=-1.0),
    "relu_strided": lambda: tiny_cnn(nn.ReLU, pool=False),
    "softplus_strided": lambda: tiny_cnn(softplus, pool=False),
}


@pytest.fixture(scope="session")
def models() -> dict[str, nn.Module]:
    return {name: make() for name, make in MODELS.items()}


@pytest.fixture(scope="session")
def linear() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).double().eval()


@pytest.fixture(scope="session")
def digits() -> torch.Tensor:
    """Three MNIST-like images ``[3,1,28,28]`` float64: a black border around random strokes."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 1, 28, 28, generator=g, dtype=torch.float64)
    x[..., :5, :] = 0
    x[..., -4:, :] = 0
    x[..., :, :4] = 0
    return x
