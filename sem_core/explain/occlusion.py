"""Occlusion (Zeiler & Fergus 2014) through captum's ``Occlusion``, black patches."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import SemError
from .base import register_explainer
from .superpixels import scale_to_image


@register_explainer("occlusion", differentiable=False,
                    summary="drop in S_t when a black window covers each pixel (Zeiler & Fergus 2014)")
def occlusion(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *,
              create_graph: bool = False, window: int = 4, stride: int = 2,
              per_eval: int = 64) -> torch.Tensor:
    """Occlusion: pixel i gets the mean over windows W ∋ i of S_t(x) − S_t(x with W set to 0).

    Args: window side in pixels of a 28×28 image (default 4), stride likewise (default 2) -> 13×13
    windows on 28×28. Both scale with the image: on H×W a window is ⌈window·H/28⌉ rows × ⌈window·W/28⌉
    columns and moves by ⌈stride·H/28⌉ rows, ⌈stride·W/28⌉ columns (``scale_to_image``; exactly the given
    sizes on 28×28, about the same 13×13 windows on every size); a window spans all C channels and sets
    them to 0 (black). A window wider than 28 does not fit any image and raises ``SemError``.
    per_eval: windows evaluated per forward (each forward sees B·per_eval images).
    Batched (one captum call for the batch). ``[B,C,H,W]`` -> same, signed, logit units.
    Example: ``maps = explain(model, x, "occlusion", window=4, stride=2)``  # [B,C,H,W]
    """
    from captum.attr import Occlusion

    if window < 1 or stride < 1:
        raise SemError(f"occlusion needs window >= 1 and stride >= 1; got {window}, {stride}")
    channels, height, width = x.shape[1:]
    shape = (channels, scale_to_image(window, height), scale_to_image(window, width))
    if shape[1] > height or shape[2] > width:
        raise SemError(f"occlusion window {window} ({shape[1]}×{shape[2]} px) does not fit images of shape "
                       f"{tuple(x.shape)}; use window <= 28")
    strides = (channels, scale_to_image(stride, height), scale_to_image(stride, width))
    with torch.no_grad():
        return Occlusion(model).attribute(x.detach(), sliding_window_shapes=shape, strides=strides, baselines=0.0,
                                          target=target, perturbations_per_eval=per_eval)
