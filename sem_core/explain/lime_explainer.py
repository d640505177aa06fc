"""LIME (Ribeiro et al. 2016) on grid superpixels: captum's ``Lime`` or the authors' ``lime``."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from .base import register_explainer
from ..errors import SemError
from .superpixels import captum_per_image, image_segments, superpixel_attribution

KERNEL_WIDTH = 0.25  # lime's LimeImageExplainer default, on cosine distance to "all on"


def _cosine_kernel(kernel_width: float):
    """lime's image kernel for captum: exp(−d²/2w²), d = cosine distance of z to all-ones."""

    def similarity(original, perturbed, interpretable, **kwargs) -> float:
        z = interpretable.float().flatten()
        norm = z.norm() * math.sqrt(z.numel())
        d = 1.0 - (z.sum() / norm).item() if norm > 0 else 1.0
        return math.exp(-(d ** 2) / (2 * kernel_width ** 2))

    return similarity


def _lime_captum(model, x, target, segments, samples, seed):
    from captum._utils.models.linear_model import SkLearnRidge
    from captum.attr import Lime

    lime = Lime(model, interpretable_model=SkLearnRidge(alpha=1.0), similarity_func=_cosine_kernel(KERNEL_WIDTH))
    return captum_per_image(lime, x, target, segments, samples, seed)


def _quiet_lime_class():
    from lime.lime_image import LimeImageExplainer

    class QuietLimeImageExplainer(LimeImageExplainer):
        """lime's explainer with a vectorised, progress-bar-free ``data_labels``.

        Draws exactly the same random masks as lime 0.2 (same RNG calls, first row all on)
        and evaluates them in one ``classifier_fn`` call. ``fudged``: an [H,W,C] image of hidden
        values that replaces lime's own (lime computes superpixel means for 3 channels only).
        """

        fudged: np.ndarray | None = None

        def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples,
                        batch_size=10):
            fudged_image = fudged_image if self.fudged is None else self.fudged
            n_features = np.unique(segments).shape[0]
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape(
                (num_samples, n_features))
            data[0, :] = 1
            keep = data[:, segments][..., None] == 1  # [N,H,W,1], the same in every channel
            imgs = np.where(keep, image[None], fudged_image[None])
            return data, np.asarray(classifier_fn(imgs))

    return QuietLimeImageExplainer


def _lime_image(image: torch.Tensor) -> np.ndarray:
    """One image [C,H,W] as lime takes it: [H,W] for grayscale (lime makes it RGB), else [H,W,C]."""
    image = image.detach().double().cpu()
    return (image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)).numpy()


def _segment_means(image: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """lime's "mean" hide values for any channel count: each superpixel of ``image`` [H,W,C] set to its mean, per
    channel."""
    fudged = np.empty_like(image)
    for s in np.unique(seg):
        fudged[seg == s] = image[seg == s].mean(axis=0)
    return fudged


def _lime_classifier(model, x: torch.Tensor, output: str):
    """lime's ``classifier_fn``: images [N,H,W,C'] (C' = 3 for grayscale: lime's gray2rgb) -> [N,classes] numpy."""

    def classify(imgs: np.ndarray) -> np.ndarray:
        if x.shape[1] == 1:
            batch = torch.as_tensor(imgs[..., 0], dtype=x.dtype, device=x.device)[:, None]  # [N,1,H,W]
        else:
            batch = torch.as_tensor(imgs, dtype=x.dtype, device=x.device).permute(0, 3, 1, 2)  # [N,C,H,W]
        with torch.no_grad():
            out = model(batch)
            return (out.softmax(1) if output == "probs" else out).double().cpu().numpy()

    return classify


def _lime_package(model, x, target, segments, samples, seed, *, features: int = 0, output: str = "logits",
                  hide: str = "black"):
    """lime's LimeImageExplainer per image. ``segments``: one [H,W] map for the batch or a list of one per image.

    features: keep the ``features`` largest |w| (lime's ``num_features``; 0 = every superpixel); output:
    "logits" or "probs" (softmax, what a Keras ``model.predict`` returns); hide: "black" (hide_color=0) or
    "mean" (hide_color=None: a hidden superpixel takes its mean value per channel, lime's default).
    ``x`` [B,C,H,W] -> maps [B,C,H,W], the same in every channel.
    """
    explainer_cls, classify = _quiet_lime_class(), _lime_classifier(model, x, output)
    per_image = isinstance(segments, list)
    maps = torch.zeros_like(x)
    for i in range(x.shape[0]):  # lime explains one image at a time
        label, image = int(target[i]), _lime_image(x[i])
        seg_i = segments[i] if per_image else segments
        seg = seg_i.cpu().numpy()
        explainer = explainer_cls(kernel_width=KERNEL_WIDTH, random_state=seed)
        hide_color = None if hide == "mean" else 0
        if hide == "mean" and x.shape[1] not in (1, 3):  # lime's own means assume 3 channels
            explainer.fudged, hide_color = _segment_means(image, seg), 0
        explanation = explainer.explain_instance(
            image, classify, labels=(label,), top_labels=None, hide_color=hide_color, num_samples=samples,
            batch_size=samples,
            num_features=features or 100_000, segmentation_fn=lambda image, seg=seg: seg, random_seed=seed)
        weights = torch.zeros(int(seg.max()) + 1, dtype=x.dtype)
        for s, w in explanation.local_exp[label][:features or None]:
            weights[s] = w
        maps[i] = weights.to(x.device)[seg_i.to(x.device)]  # [H,W] -> every channel
    return maps


def quickshift_segments(x: torch.Tensor) -> list[torch.Tensor]:
    """Quickshift superpixels per image as the authors ran them (robust_interpret ``scripts/main_mnist.py``:
    lime's ``SegmentationAlgorithm('quickshift', kernel_size=1, max_dist=200, ratio=0.1)``), on the image as
    their script fed it: scaled to [−1,1] (2x − 1) and made RGB by lime (``gray2rgb``; a colour image is used as
    it is). ``x`` [B,C,H,W] in [0,1] with C = 1 or 3 (quickshift works in Lab colour; other channel counts raise
    ``SemError``) -> B LongTensors [H,W] of segment ids 0..S−1 (5–9 segments on MNIST digits)."""
    from skimage.color import gray2rgb
    from skimage.segmentation import quickshift

    if x.shape[1] not in (1, 3):
        raise SemError(f"quickshift segmentation needs 1 or 3 channels; got images of shape {tuple(x.shape)}")
    out = []
    for img in x.detach().double().cpu().numpy():
        rgb = gray2rgb(2.0 * img[0] - 1.0) if img.shape[0] == 1 else 2.0 * img.transpose(1, 2, 0) - 1.0
        seg = quickshift(rgb, kernel_size=1, max_dist=200, ratio=0.1)
        out.append(torch.as_tensor(np.unique(seg, return_inverse=True)[1].reshape(seg.shape), dtype=torch.long))
    return out


_BACKENDS = {"captum": _lime_captum, "lime": _lime_package}


@register_explainer("lime", differentiable=False,
                    summary="LIME on 4×4-pixel grid superpixels (Ribeiro et al. 2016)")
def lime(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *,
         create_graph: bool = False, samples: int = 200, seed: int = 0, cell: int = 4,
         backend: str = "lime", segmentation: str = "grid", features: int = 0, output: str = "logits",
         hide: str = "black") -> torch.Tensor:
    """LIME: a kernel-weighted ridge fit g(z) = w·z + b of S_t(x ⊙ z) over random on/off masks z
    of superpixels; each pixel gets its superpixel's weight w_s (logit units).

    Off superpixels are black (lime ``hide_color=0``; 0 in every channel); both backends use lime's setup: ridge
    α = 1, kernel exp(−d²/2·0.25²) on the cosine distance between z and all-on.
    Args: samples (default 200) masks per image; seed: the same seed is used for every image, so
    a batch gives the one-by-one maps; cell (default 4) superpixel side in pixels of a 28×28 image -> 49
    features; on H×W the cells are ⌈cell·H/28⌉ × ⌈cell·W/28⌉ pixels (about the same 7×7 grid on every size; a grid
    of fewer than 2 superpixels raises ``SemError``);
    backend: "lime" (default: the authors' package, reference; as fast as captum on CPU, 132 vs
    133 ms/image at 200 samples) or "captum". Both loop over images (captum does so internally
    too); the ``samples`` masked images of one image go through the model in one forward.
    The authors' settings (robust_interpret ``scripts/main_mnist.py``, ``explainers.py`` ``lime_wrapper``),
    backend "lime" only: segmentation "quickshift" (``quickshift_segments``), features 10 (lime's
    ``num_features``: the 10 largest |w| kept, the others 0), output "probs" (the softmax), hide "mean" (each
    channel of a hidden superpixel takes that channel's mean over the superpixel).
    Shapes: ``[B,C,H,W]`` -> same, constant per superpixel and identical in the C channels (one superpixel covers
    all channels). Example: ``maps = explain(model, x, "lime", samples=200)``  # [B,C,H,W]
    """
    authors_options = {"segmentation": (segmentation, ("grid", "quickshift")), "output": (output, ("logits", "probs")),
                       "hide": (hide, ("black", "mean"))}
    for key, (value, allowed) in authors_options.items():
        if value not in allowed:
            raise SemError(f"lime {key} must be one of {', '.join(allowed)}; got {value!r}")
    if int(features) != features or features < 0:
        raise SemError(f"lime features must be an integer >= 0 (0 = all superpixels); got {features}")
    if (segmentation, features, output, hide) == ("grid", 0, "logits", "black"):
        return superpixel_attribution("lime", _BACKENDS, backend, model, x, target, samples, seed, cell)
    if backend != "lime":
        raise SemError("lime's segmentation/features/output/hide options need backend 'lime' (the authors' package)")
    if samples < 2:
        raise SemError(f"lime needs samples >= 2; got {samples}")
    segments = quickshift_segments(x) if segmentation == "quickshift" else image_segments("lime", x.shape, cell)
    return _lime_package(model, x.detach(), target, segments, samples, seed, features=int(features), output=output,
                         hide=hide)
