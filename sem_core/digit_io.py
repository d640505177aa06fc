"""Uploaded or drawn digits → MNIST-style tensors, and tensors → PNG bytes.

The conversion follows the MNIST recipe (LeCun et al.): white ink on black, the ink's bounding
box scaled so its longer side is 20 px (aspect kept), pasted into a 28×28 canvas so that its
center of mass sits at the center.

Example:
    x = digit_from_bytes(open("seven.png", "rb").read())   # [1,1,28,28] in [0,1]
    png = digit_to_png(x)
"""
from __future__ import annotations

import io
import logging
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps

from .errors import DataError

INK_THRESHOLD = 0.1     # a pixel (after inversion, in [0,1]) counts as ink above this
MIN_SIDE = 8            # smaller images cannot hold a readable digit
MAX_ASPECT = 20         # a longer, thinner picture is a strip, not a digit (and shrinking it would erase it)
MIN_MARK = 4            # px: the ink's bounding box must be at least this tall or wide (one speck is no digit)
MAX_BYTES = 5_000_000   # the app's upload limit
MAX_SIDE = 4096         # pixel budget: at most MAX_SIDE² pixels, checked on the header before decoding
MAX_PIXELS = MAX_SIDE * MAX_SIDE
WORK_SIDE = 1024        # decoded images are shrunk to this first (the digit ends up 20 px tall anyway)
BOX = 20                # MNIST: the digit's longer side, in px
SIZE = 28               # MNIST: the canvas side, in px

# Only these decoders ever see uploaded bytes (Pillow would otherwise also try EPS, which runs
# Ghostscript, PDF, TIFF and dozens more). MPO is the multi-picture JPEG some phones write: its
# first picture is an ordinary JPEG.
DECODERS = ("PNG", "JPEG")
ACCEPTED_FORMATS = ("PNG", "JPEG", "MPO")

_KNOWN_OTHERS = (  # leading bytes -> what the file is, to say so instead of "cannot identify image file"
    (b"%!PS", "a PostScript/EPS document"), (b"\xc5\xd0\xd3\xc6", "an EPS document"),
    (b"%PDF", "a PDF document"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"GIF8", "a GIF image"), (b"BM", "a BMP image"), (b"<svg", "an SVG drawing"), (b"<?xml", "an XML/SVG file"),
    (b"PK\x03\x04", "a ZIP archive"), (b"\x00\x00\x01\x00", "an icon (ICO) file"),
)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)   # ITU-R 601 luma, like PIL "L"
log = logging.getLogger(__name__)


def digit_from_bytes(data: bytes, *, max_bytes: int = MAX_BYTES) -> torch.Tensor:
    """An uploaded PNG or JPEG (any size up to 4096×4096 px, colour, grey or 16-bit grey, any
    background, transparent or not, EXIF-rotated or not) → [1,1,28,28] in [0,1].

    Only the PNG and JPEG decoders are used, and the pixel count is checked on the header before
    anything is decoded. Raises ``DataError`` with a message fit for the user for an empty or too
    large payload, another file type (PDF, EPS, TIFF…), a damaged file, an image larger than
    4096×4096 px or smaller than 8 px, or one without any ink.
    """
    if not data:
        raise DataError("The uploaded file is empty.")
    if len(data) > max_bytes:
        raise DataError(f"The file is too large ({len(data) / 1e6:.1f} MB); the limit is {max_bytes / 1e6:.1f} MB.")
    return digit_from_array(_decode(bytes(data)))


def digit_from_array(arr: np.ndarray) -> torch.Tensor:
    """A drawn canvas or decoded image as a numpy array → [1,1,28,28] in [0,1].

    ``arr``: [H,W] grey, [H,W,2] grey+alpha, [H,W,3] RGB or [H,W,4] RGBA; uint8 (0..255), uint16
    (0..65535, 16-bit), other integers (0..255, or 0..65535 when larger), bool, or float in [0,1].
    Transparent pixels get the backdrop that keeps the opaque part visible (see ``_backdrop``), so
    black strokes and white strokes on a transparent layer both read as a digit, and an RGBA canvas
    with nothing drawn is blank. Raises ``DataError`` for anything it cannot use.
    """
    grey = _to_grey(arr)                                        # [H,W] in [0,1]
    if min(grey.shape) < MIN_SIDE:
        raise DataError(f"The image is too small ({grey.shape[1]}×{grey.shape[0]} px); at least "
                        f"{MIN_SIDE}×{MIN_SIDE} px are needed.")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = 1.0 - grey if border.mean() > 0.5 else grey           # white ink on black, like MNIST
    mask = ink > INK_THRESHOLD
    blank = DataError("The image is blank: no digit was found (draw or upload a digit).")
    if not mask.any() or ink.max() - ink.min() < 0.2:
        raise blank
    rows, cols = np.nonzero(mask)
    crop = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = crop.shape
    if max(h, w) < MIN_MARK:   # scaled to 20 px, a speck would become a solid square "digit"
        raise DataError(f"The only mark is {w}×{h} px: too small to be a digit (draw or upload a digit that fills "
                        f"more of the picture).")
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.LANCZOS),
                       dtype=np.float32) / 255.0
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    canvas[top: top + new_h, left: left + new_w] = small
    if canvas.sum() == 0:                                       # specks that vanish when scaled down
        raise blank
    canvas = _center_of_mass_shift(canvas)
    return torch.from_numpy(canvas.clip(0.0, 1.0)).view(1, 1, SIZE, SIZE)


def _decode(data: bytes) -> np.ndarray:
    """PNG/JPEG bytes → an oriented uint8 array ([H,W], [H,W,3] or [H,W,4]) at most WORK_SIDE px a side."""
    other = _what_else(data)
    if other:
        raise DataError(f"This file is {other}, not a PNG or JPEG image. Upload a PNG or JPEG picture of one digit.")
    not_image = DataError("This file is not an image the app can read (or it is too damaged to tell). "
                          "Upload a PNG or JPEG picture of one digit.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # our own, lower limit follows
            img = Image.open(io.BytesIO(data), formats=DECODERS)
    except Image.DecompressionBombError:
        raise DataError(f"The image is too large: at most {MAX_SIDE}×{MAX_SIDE} px are accepted.") from None
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: any decoder failure means "not an image"
        log.debug("Image.open failed: %r", exc)
        raise not_image from None
    with img:
        if img.format not in ACCEPTED_FORMATS:
            raise not_image
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise DataError(f"The image is too large ({w}×{h} px): at most {MAX_SIDE}×{MAX_SIDE} px are accepted.")
        _check_shape(w, h)
        try:
            if img.format != "PNG":
                img.draft(img.mode, (WORK_SIDE, WORK_SIDE))   # a big JPEG decodes at 1/2, 1/4 or 1/8 scale
            img.load()
            upright = ImageOps.exif_transpose(img)            # phone photos: apply the EXIF orientation
            pixels = _normalised(upright)
        except Exception as exc:  # noqa: BLE001 - untrusted bytes: truncated or corrupt data
            log.debug("decoding failed: %r", exc)
            raise DataError(f"The {img.format} file is damaged or incomplete and cannot be read. "
                            f"Re-save it as PNG or JPEG and upload it again.") from None
    return pixels


def _check_shape(w: int, h: int) -> None:
    """Refuse, with the picture's own size, an image too small or too long and thin to hold a digit (before it is
    shrunk, so the message never names the shrunk size)."""
    if min(w, h) < MIN_SIDE:
        raise DataError(f"The image is too small ({w}×{h} px); at least {MIN_SIDE}×{MIN_SIDE} px are needed.")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise DataError(f"The image is too long and thin ({w}×{h} px) to hold one digit; crop it around the digit "
                        f"(at most {MAX_ASPECT}:1).")


def _normalised(img: Image.Image) -> np.ndarray:
    """Any decoded mode → uint8 L, RGB or RGBA (16-bit grey scaled, not clipped), shrunk to WORK_SIDE."""
    if img.mode.startswith("I"):                                # 16-bit grey PNG: 0..65535
        grey16 = np.asarray(img, dtype=np.float64)
        img = Image.fromarray((grey16.clip(0, 65535) / 257.0).round().astype(np.uint8))
    elif img.mode not in ("L", "RGB", "RGBA") or "transparency" in img.info:   # palette, 1-bit, CMYK, tRNS
        has_alpha = "A" in img.mode or "a" in img.mode or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    if max(img.size) > WORK_SIDE:
        img.thumbnail((WORK_SIDE, WORK_SIDE), Image.LANCZOS)
    return np.asarray(img)


def _what_else(data: bytes) -> str | None:
    """What a non-PNG/JPEG file is, from its first bytes (None when it is not a recognised other type)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
        return "a HEIC/AVIF photo (export it as JPEG)"
    head = data[:16].lstrip()
    return next((what for magic, what in _KNOWN_OTHERS if head.startswith(magic)), None)


def digit_to_png(x: torch.Tensor) -> bytes:
    """A digit [1,1,28,28], [1,28,28] or [28,28] in [0,1] → PNG bytes (8-bit grey, 28×28)."""
    img = torch.as_tensor(x).detach().cpu().float()
    if img.numel() != SIZE * SIZE:
        raise DataError(f"digit_to_png expects one 28×28 image, got shape {list(img.shape)}")
    return png_bytes((img.reshape(SIZE, SIZE).clamp(0, 1) * 255).round().to(torch.uint8).numpy())


def digits_to_png(x: torch.Tensor) -> bytes:
    """Digits [n,1,28,28] in [0,1] → one PNG strip of n 28×28 images side by side (8-bit grey)."""
    x = torch.as_tensor(x).detach().cpu().float()
    if x.ndim != 4 or x.shape[1:] != (1, SIZE, SIZE) or len(x) == 0:
        raise DataError(f"digits_to_png expects images [n,1,28,28], got shape {list(x.shape)}")
    strip = x[:, 0].permute(1, 0, 2).reshape(SIZE, -1)                # [28, n·28]
    return png_bytes((strip.clamp(0, 1) * 255).round().to(torch.uint8).numpy())


def png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 pixels [H,W] (grey) or [H,W,3] (RGB) → PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG")
    return buf.getvalue()


def npz_bytes(**arrays) -> bytes:
    """Tensors or arrays by name → the bytes of a compressed ``.npz`` (for downloads)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
                                for k, v in arrays.items()})
    return buf.getvalue()


def _to_grey(arr: np.ndarray) -> np.ndarray:
    """Any image array → grey [H,W] float32 in [0,1], transparent pixels on their backdrop."""
    a = np.asarray(arr)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 2, 3, 4)) or a.size == 0:
        raise DataError(f"Expected an image array [H,W], [H,W,2], [H,W,3] or [H,W,4], got shape {list(a.shape)}.")
    a = _unit_range(a)
    if a.ndim == 2:
        return a
    channels = a.shape[2]
    grey = a[..., :3] @ _LUMA if channels >= 3 else a[..., 0]
    if channels in (1, 3):
        return grey
    alpha = a[..., -1]
    return grey * alpha + _backdrop(grey, alpha) * (1.0 - alpha)


def _unit_range(a: np.ndarray) -> np.ndarray:
    """Pixel values → float32 in [0,1]: uint16 as 16-bit, other integers as 8-bit (16-bit when above 255)."""
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 65535:
            raise DataError(f"Pixel values must lie in 0..255 (8-bit) or 0..65535 (16-bit), got {lo}..{hi}.")
        scale = 65535.0 if a.dtype == np.uint16 or hi > 255 else 255.0
        return (a / scale).astype(np.float32)
    if not np.issubdtype(a.dtype, np.floating):
        raise DataError(f"Unsupported pixel type {a.dtype}; expected integers or floats.")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise DataError("The image contains non-finite values.")
    lo, hi = float(a.min()), float(a.max())
    if lo < 0.0 or hi > 255.0:
        raise DataError(f"Pixel values must lie in [0, 1] (or 0..255), got {lo:g}..{hi:g}.")
    return a / 255.0 if hi > 1.0 else a


def _backdrop(grey: np.ndarray, alpha: np.ndarray) -> float:
    """The grey (0 black or 1 white) to put behind transparent pixels so the opaque part stays visible.

    Mostly transparent (strokes on an empty layer): the opposite of the strokes' mean brightness, so
    white ink lands on black and black ink on white. Mostly opaque (a picture with a transparent
    margin): the picture's own mean brightness, so the margin continues its paper.
    """
    opaque = float(alpha.sum())
    if opaque == 0.0:
        return 1.0                                              # nothing there: blank either way
    light = float((grey * alpha).sum()) / opaque > 0.5
    strokes = opaque < 0.5 * alpha.size
    return 0.0 if light == strokes else 1.0


def _center_of_mass_shift(canvas: np.ndarray) -> np.ndarray:
    """Shift a [28,28] image (integer pixels) so its center of mass is at the center."""
    total = canvas.sum()
    ys, xs = np.indices(canvas.shape)
    cy, cx = (ys * canvas).sum() / total, (xs * canvas).sum() / total
    dy, dx = int(round((SIZE - 1) / 2 - cy)), int(round((SIZE - 1) / 2 - cx))
    out = np.zeros_like(canvas)
    src = canvas[max(0, -dy): SIZE - max(0, dy), max(0, -dx): SIZE - max(0, dx)]
    out[max(0, dy): max(0, dy) + src.shape[0], max(0, dx): max(0, dx) + src.shape[1]] = src
    return out
