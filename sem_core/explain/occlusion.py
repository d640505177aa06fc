"""Occlusion (Zeiler & Fergus 2014) through captum's ``Occlusion``, black patches."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import SemError
from .base import register_explainer


@register_explainer("occlusion", differentiable=False,
                    summary="drop in S_t when a black window covers each pixel (Zeiler & Fergus 2014)")
def occlusion(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *,
              create_graph: bool = False, window: int = 4, stride: int = 2,
              per_eval: int = 64) -> torch.Tensor:
    """Occlusion: pixel i gets the mean over windows W ∋ i of S_t(x) − S_t(x with W set to 0).

    Args: window side in pixels (default 4), stride in pixels (default 2) -> 13×13 windows on
    28×28; per_eval: windows evaluated per forward (each forward sees B·per_eval images).
    Batched (one captum call for the batch). ``[B,1,28,28]`` -> same, signed, logit units.
    """
    from captum.attr import Occlusion

    if window < 1 or stride < 1:
        raise SemError(f"occlusion needs window >= 1 and stride >= 1; got {window}, {stride}")
    with torch.no_grad():
        return Occlusion(model).attribute(
            x.detach(), sliding_window_shapes=(x.shape[1], window, window),
            strides=(x.shape[1], stride, stride), baselines=0.0, target=target,
            perturbations_per_eval=per_eval)
