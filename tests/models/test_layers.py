"""The channels-last max-pool gives bitwise the values and gradients (first and second order) of PyTorch's."""
import pytest
import torch
import torch.nn.functional as F

from sem_core.models.layers import MaxPool2d, max_pool2d


@pytest.mark.parametrize("act", ["relu", "softplus"])
def test_max_pool_matches_pytorch_bitwise_to_second_order(act):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 8, 3, padding=1)
    nonlin = torch.relu if act == "relu" else (lambda z: F.softplus(z, beta=10))   # relu: many tied zeros
    x = torch.rand(5, 1, 12, 12)
    outs = []
    for pool in (lambda z: F.max_pool2d(z, 2), lambda z: max_pool2d(z, 2)):
        xa = x.clone().requires_grad_(True)
        y = pool(nonlin(conv(xa)))
        (g,) = torch.autograd.grad(y.pow(2).sum(), xa, create_graph=True)
        (g2,) = torch.autograd.grad(g.abs().sum(), xa)
        outs.append((y.detach(), g.detach(), g2))
    for a, b in zip(*outs):
        assert torch.equal(a, b)
    assert outs[0][0].is_contiguous() and outs[1][0].is_contiguous()


def test_indices_and_the_module_match_pytorch():
    z = torch.randn(3, 4, 8, 8).round()   # rounded: ties inside windows
    y, idx = max_pool2d(z, 2, return_indices=True)
    y0, idx0 = F.max_pool2d(z, 2, return_indices=True)
    assert torch.equal(y, y0) and torch.equal(idx, idx0)
    assert torch.equal(MaxPool2d(2)(z), torch.nn.MaxPool2d(2)(z))
