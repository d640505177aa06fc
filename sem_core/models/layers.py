"""Shared building blocks: the injectable activation (ReLU <-> softplus surrogate), a fast CPU max-pool."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = ("relu", "softplus")


def make_activation(kind: str = "relu", beta: float = 10.0) -> nn.Module:
    """A fresh activation module. ``softplus`` with large ``beta`` is the smooth surrogate of ReLU
    used by the saliency attacks (Ghorbani et al., paper 003, Sec. 4)."""
    if kind == "relu":
        return nn.ReLU()
    if kind == "softplus":
        return nn.Softplus(beta=beta)
    raise ValueError(f"unknown activation '{kind}'; available: {', '.join(ACTIVATIONS)}")


def max_pool2d(x: torch.Tensor, *args, **kwargs):
    """``F.max_pool2d(x, *args, **kwargs)`` computed in channels-last memory for a 4-d CPU tensor.

    PyTorch's CPU max-pool kernel is several times slower on NCHW than on channels-last memory
    (``benchmarks/bench_attacks.py --profile`` shows it; one [100,32,28,28] pool: ~20 ms vs ~3 ms with the
    two layout copies). A max and its index are exact, so the values, the indices and the gradients of
    every order are bitwise those of the NCHW kernel (tested). Output (and indices) come back NCHW-contiguous.
    """
    if x.device.type != "cpu" or x.dim() != 4:
        return F.max_pool2d(x, *args, **kwargs)
    out = F.max_pool2d(_ChannelsLast.apply(x), *args, **kwargs)
    return tuple(o.contiguous() for o in out) if isinstance(out, tuple) else out.contiguous()


class _ChannelsLast(torch.autograd.Function):
    """``x`` in channels-last memory, whose gradient goes back NCHW-contiguous: a channels-last gradient
    reaching the layer before (softplus) would take PyTorch's scalar, not its vectorised, kernel and differ in
    the last bit. Differentiable to any order (its backward is one differentiable copy)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous()


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` through ``max_pool2d`` above: the same module (no weights, same checkpoints), faster on CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          ceil_mode=self.ceil_mode, return_indices=self.return_indices)
