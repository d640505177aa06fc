"""Uploaded or drawn digits → MNIST-style tensors, and tensors → PNG bytes.

The conversion follows the MNIST recipe (LeCun et al.): white ink on black, the ink's bounding
box scaled so its longer side is 20 px (aspect kept), pasted into a 28×28 canvas so that its
centre of mass sits at the centre.

Example:
    x = digit_from_bytes(open("seven.png", "rb").read())   # [1,1,28,28] in [0,1]
    png = digit_to_png(x)
"""
from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import DataError

INK_THRESHOLD = 0.1     # a pixel (after inversion, in [0,1]) counts as ink above this
MIN_SIDE = 8            # smaller images cannot hold a readable digit
MAX_PIXELS = 25_000_000  # decompression-bomb guard (a 5000×5000 image)
BOX = 20                # MNIST: the digit's longer side, in px
SIZE = 28               # MNIST: the canvas side, in px


def digit_from_bytes(data: bytes, *, max_bytes: int = 5_000_000) -> torch.Tensor:
    """An uploaded PNG/JPG (any size, colour or grey, any background) → [1,1,28,28] in [0,1].

    Raises ``DataError`` for an empty or too large payload, bytes that are not an image,
    a broken file, an image smaller than 8 px, or one without any ink.
    """
    if not data:
        raise DataError("The uploaded file is empty.")
    if len(data) > max_bytes:
        raise DataError(f"The file is too large ({len(data) / 1e6:.1f} MB); the limit is {max_bytes / 1e6:.1f} MB.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise DataError(f"The image is too large ({img.width}×{img.height} px).")
            img.load()
            rgba = np.asarray(img.convert("RGBA"))
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"This file is not an image that can be read (PNG or JPG expected): {exc}") from None
    return digit_from_array(rgba)


def digit_from_array(arr: np.ndarray) -> torch.Tensor:
    """A drawn canvas or decoded image as a numpy array → [1,1,28,28] in [0,1].

    ``arr``: [H,W] grey, [H,W,3] RGB or [H,W,4] RGBA; uint8 in 0..255 or float in [0,1].
    Transparent pixels are composited on white, so an RGBA canvas with nothing drawn is blank.
    """
    grey = _to_grey(arr)                                        # [H,W] in [0,1]
    if min(grey.shape) < MIN_SIDE:
        raise DataError(f"The image is too small ({grey.shape[1]}×{grey.shape[0]} px); at least "
                        f"{MIN_SIDE}×{MIN_SIDE} px are needed.")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = 1.0 - grey if border.mean() > 0.5 else grey           # white ink on black, like MNIST
    mask = ink > INK_THRESHOLD
    if not mask.any() or ink.max() - ink.min() < 0.2:
        raise DataError("The image is blank: no digit was found (draw or upload a digit).")
    rows, cols = np.nonzero(mask)
    crop = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.LANCZOS),
                       dtype=np.float32) / 255.0
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    canvas[top: top + new_h, left: left + new_w] = small
    canvas = _centre_of_mass_shift(canvas)
    return torch.from_numpy(canvas.clip(0.0, 1.0)).view(1, 1, SIZE, SIZE)


def digit_to_png(x: torch.Tensor) -> bytes:
    """A digit [1,1,28,28], [1,28,28] or [28,28] in [0,1] → PNG bytes (8-bit grey, 28×28)."""
    img = torch.as_tensor(x).detach().cpu().float()
    if img.numel() != SIZE * SIZE:
        raise DataError(f"digit_to_png expects one 28×28 image, got shape {list(img.shape)}")
    pixels = (img.reshape(SIZE, SIZE).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def digits_to_png(x: torch.Tensor) -> bytes:
    """Digits [n,1,28,28] in [0,1] → one PNG strip of n 28×28 images side by side (8-bit grey)."""
    x = torch.as_tensor(x).detach().cpu().float()
    if x.ndim != 4 or x.shape[1:] != (1, SIZE, SIZE) or len(x) == 0:
        raise DataError(f"digits_to_png expects images [n,1,28,28], got shape {list(x.shape)}")
    strip = x[:, 0].permute(1, 0, 2).reshape(SIZE, -1)                # [28, n·28]
    pixels = (strip.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def npz_bytes(**arrays) -> bytes:
    """Tensors or arrays by name → the bytes of a compressed ``.npz`` (for downloads)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
                                for k, v in arrays.items()})
    return buf.getvalue()


def _to_grey(arr: np.ndarray) -> np.ndarray:
    """Any image array → grey [H,W] float in [0,1], alpha composited on white."""
    a = np.asarray(arr)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or a.size == 0:
        raise DataError(f"Expected an image array [H,W], [H,W,3] or [H,W,4], got shape {list(a.shape)}.")
    a = a.astype(np.float32)
    if a.max(initial=0.0) > 1.0:
        a = a / 255.0
    if not np.isfinite(a).all():
        raise DataError("The image contains non-finite values.")
    if a.ndim == 2:
        return a
    alpha = a[..., 3] if a.shape[2] == 4 else np.ones(a.shape[:2], np.float32)
    rgb = a[..., :3] if a.shape[2] >= 3 else np.repeat(a, 3, axis=2)
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)    # ITU-R 601 luma, like PIL "L"
    return grey * alpha + (1.0 - alpha)                                # on white


def _centre_of_mass_shift(canvas: np.ndarray) -> np.ndarray:
    """Shift a [28,28] image (integer pixels) so its centre of mass is at the centre."""
    total = canvas.sum()
    ys, xs = np.indices(canvas.shape)
    cy, cx = (ys * canvas).sum() / total, (xs * canvas).sum() / total
    dy, dx = int(round((SIZE - 1) / 2 - cy)), int(round((SIZE - 1) / 2 - cx))
    out = np.zeros_like(canvas)
    src = canvas[max(0, -dy): SIZE - max(0, dy), max(0, -dx): SIZE - max(0, dx)]
    out[max(0, dy): max(0, dy) + src.shape[0], max(0, dx): max(0, dx) + src.shape[1]] = src
    return out
