"""Hostile and awkward uploads: the converter returns a [1,1,28,28] digit in [0,1] or a plain DataError.

Data-driven cases (other file types renamed .png, broken files, bombs) check the message the user
sees; the awkward-but-valid cases (16-bit grey, white ink on transparency, EXIF rotation) check the
digit that comes out; Hypothesis checks the contract on arbitrary small arrays and PNGs.
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw

from sem_core.digit_io import digit_from_array, digit_from_bytes
from sem_core.errors import DataError

FAST = settings(max_examples=80, deadline=None, database=None)


def _encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _seven(mode: str = "L", ink=0, paper=255, size=(120, 120)) -> Image.Image:
    """A thick '7' (horizontal bar on top, diagonal below): not symmetric, so rotations show."""
    img = Image.new(mode, size, paper)
    ImageDraw.Draw(img).line([(20, 20), (100, 20), (45, 105)], fill=ink, width=14)
    return img


def _chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with a valid CRC (for PNGs Pillow cannot write)."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk (8-bit RGB) with a valid CRC, then a tiny IDAT: only the size is hostile."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n0 0 moveto 100 100 lineto stroke\nshowpage\n%%EOF\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = _encode(_seven())
JPEG = _encode(_seven(), "JPEG")

# (bytes uploaded as "digit.png", words the DataError must contain)
HOSTILE = {
    "EPS renamed .png": (EPS, "This file is a PostScript/EPS document, not a PNG or JPEG image"),
    "binary DOS EPS": (b"\xc5\xd0\xd3\xc6" + b"\0" * 60, "an EPS document"),
    "PDF": (PDF, "This file is a PDF document"),
    "TIFF": (_encode(_seven(), "TIFF"), "This file is a TIFF image"),
    "big-endian TIFF header": (b"MM\x00*" + b"\0" * 60, "a TIFF image"),
    "GIF": (_encode(_seven(), "GIF"), "This file is a GIF image"),
    "BMP": (_encode(_seven(), "BMP"), "This file is a BMP image"),
    "WebP": (_encode(_seven(), "WEBP"), "This file is a WebP image"),
    "SVG": (b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>', "an SVG drawing"),
    "text": (b"definitely not a png", "not an image the app can read"),
    "zero bytes": (b"", "The uploaded file is empty"),
    "PNG signature only": (PNG[:8], "not an image the app can read"),
    "truncated PNG": (PNG[: len(PNG) // 2], "The PNG file is damaged or incomplete"),
    "truncated JPEG": (JPEG[: len(JPEG) // 2], "The JPEG file is damaged or incomplete"),
    "PNG with a corrupt chunk": (PNG[:40] + bytes(b ^ 0xFF for b in PNG[40:80]) + PNG[80:], "damaged|not an image"),
    "huge dimensions header": (_png_header(100_000, 100_000), r"The image is too large: at most 4096×4096 px"),
    "just over the pixel limit": (_png_header(5000, 5000), r"too large \(5000×5000 px\): at most 4096×4096"),
    "6 MB payload": (b"\x89PNG" + b"\0" * 6_000_000, r"too large \(6\.0 MB\); the limit is 5\.0 MB"),
    "blank white PNG": (_encode(Image.new("L", (64, 64), 255)), "The image is blank"),
    "4 px PNG": (_encode(_seven().resize((4, 4))), "too small"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_upload_is_a_plain_data_error(case):
    data, message = HOSTILE[case]
    with pytest.raises(DataError, match=message) as info:
        digit_from_bytes(data)
    text = str(info.value)
    assert "BytesIO" not in text and "0x" not in text and "Traceback" not in text
    assert info.value.__cause__ is None      # no decoder exception chained under the message


def test_pillow_never_tries_other_decoders(monkeypatch):
    """Even past the leading-bytes check, Image.open only runs the PNG and JPEG plugins (EPS runs Ghostscript)."""
    import sem_core.digit_io as digit_io

    Image.init()
    asked = []
    for fmt in ("EPS", "PDF", "TIFF", "GIF", "BMP"):
        if fmt in Image.OPEN:
            factory, _ = Image.OPEN[fmt]
            monkeypatch.setitem(Image.OPEN, fmt, (factory, lambda prefix, fmt=fmt: asked.append(fmt) or False))
    monkeypatch.setattr(digit_io, "_what_else", lambda data: None)
    for data in (EPS, _encode(_seven(), "TIFF"), _encode(_seven(), "GIF")):
        with pytest.raises(DataError, match="not an image the app can read"):
            digit_from_bytes(data)
    assert asked == []


def _ink_box(x: torch.Tensor) -> tuple[int, int]:
    """Height and width of the ink's bounding box in a [1,1,28,28] digit."""
    rows = torch.nonzero(x[0, 0].amax(1) > 0.3).flatten()
    cols = torch.nonzero(x[0, 0].amax(0) > 0.3).flatten()
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def test_16_bit_grey_digit_is_read_like_its_8_bit_twin():
    """Mid-grey ink (32768 of 65535) on black in a 16-bit PNG used to come out blank."""
    eight = np.asarray(_seven(ink=128, paper=0), dtype=np.uint16)
    sixteen = Image.fromarray(eight * 256)
    assert sixteen.mode == "I;16"
    x16 = digit_from_bytes(_encode(sixteen))
    x8 = digit_from_bytes(_encode(Image.fromarray(eight.astype(np.uint8))))
    assert x16.max() > 0.4 and torch.allclose(x16, x8, atol=0.02)
    assert torch.allclose(digit_from_array(eight * 256), x8, atol=0.02)       # the array path: uint16 is 16-bit


@pytest.mark.parametrize("colour_type, channels", [(4, 2), (6, 4)], ids=["grey+alpha", "RGBA"])
def test_16_bit_png_with_alpha_is_read_like_its_8_bit_twin(colour_type, channels):
    """Pillow decodes 16-bit LA/RGBA PNGs to 8 bits per channel (it has no 16-bit alpha mode): the
    digit keeps its ink and place, only the 8 low bits of precision go (invisible at 28×28)."""
    ink = np.asarray(_seven("L", ink=255, paper=0), dtype=np.uint16) * 257          # white ink, 0..65535
    planes = [ink] * (channels - 1) + [ink]                                         # opaque only on the stroke
    h, w = ink.shape
    rows = b"".join(b"\x00" + np.stack(planes, -1)[i].astype(">u2").tobytes() for i in range(h))
    png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
           + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))
    x = digit_from_bytes(png)
    assert x[0, 0, 0].max() < 0.05 and x.max() > 0.9
    assert torch.allclose(x, digit_from_bytes(_encode(_seven())), atol=0.1)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_white_ink_on_a_transparent_background_is_a_digit(mode):
    """The transparent pixels are white underneath: composited on white, the ink vanished."""
    opaque = _seven("L", ink=255, paper=0)                      # where the stroke is
    img = Image.new(mode, opaque.size, (255,) * len(mode))
    img.putalpha(opaque)                                        # white everywhere, opaque only on the stroke
    x = digit_from_bytes(_encode(img))
    reference = digit_from_bytes(_encode(_seven()))
    assert x[0, 0, 0].max() < 0.05 and x.max() > 0.9
    assert torch.allclose(x, reference, atol=0.1)


def test_black_ink_on_a_transparent_background_is_a_digit():
    img = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    img.putalpha(_seven("L", ink=255, paper=0))
    assert torch.allclose(digit_from_bytes(_encode(img)), digit_from_bytes(_encode(_seven())), atol=0.1)


def test_a_picture_with_a_transparent_margin_keeps_its_paper():
    """Mostly opaque: white paper with a black 7, a transparent frame around it; the frame continues the paper."""
    img = _seven("RGBA", ink=(0, 0, 0, 255), paper=(255, 255, 255, 255), size=(120, 120))
    framed = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    framed.paste(img, (20, 20))
    x = digit_from_bytes(_encode(framed))
    assert torch.allclose(x, digit_from_bytes(_encode(_seven())), atol=0.1)


@pytest.mark.parametrize("orientation, transpose", [
    (3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_270), (8, Image.Transpose.ROTATE_90),
], ids=["180", "90-clockwise", "90-counter-clockwise"])
def test_exif_rotated_jpeg_is_turned_upright(orientation, transpose):
    """A phone stores the sensor's pixels and an EXIF orientation; the digit is the one displayed."""
    sensor = _seven().transpose(_inverse(transpose))     # what the camera stored; exif_transpose applies `transpose`
    exif = Image.Exif()
    exif[0x0112] = orientation
    x = digit_from_bytes(_encode(sensor, "JPEG", exif=exif, quality=95))
    upright = digit_from_bytes(_encode(_seven(), "JPEG", quality=95))
    stored = digit_from_bytes(_encode(sensor, "JPEG", quality=95))           # the same pixels without the tag
    assert (x - upright).abs().mean() < 0.03
    assert (stored - upright).abs().mean() > 0.1                             # so the test can tell


def _inverse(transpose: Image.Transpose) -> Image.Transpose:
    return {Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270, Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
            Image.Transpose.ROTATE_180: Image.Transpose.ROTATE_180}[transpose]


@pytest.mark.parametrize("make", [
    lambda: _seven().convert("1"),                                            # bilevel
    lambda: _seven().convert("P"),                                            # palette
    lambda: _seven("RGB", ink=(200, 0, 0), paper=(255, 255, 240)),            # red ink on cream
    lambda: _seven("CMYK", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0)),           # a print-shop JPEG
])
def test_other_modes_are_read(make):
    img = make()
    x = digit_from_bytes(_encode(img, "JPEG" if img.mode == "CMYK" else "PNG"))
    assert x.shape == (1, 1, 28, 28) and x[0, 0, 0].max() < 0.1 and x.max() > 0.6
    assert max(_ink_box(x)) >= 18


def test_a_large_photo_is_shrunk_not_refused():
    big = _seven(size=(120, 120)).resize((3000, 2000))
    x = digit_from_bytes(_encode(big, "JPEG", quality=70))
    assert max(_ink_box(x)) >= 18 and x[0, 0, 0].max() < 0.05


# ---- properties -------------------------------------------------------------------------------

SHAPES = st.tuples(st.integers(1, 40), st.integers(1, 40))
ARRAYS = st.one_of(
    SHAPES.flatmap(lambda s: hnp.arrays(np.uint8, s)),                                  # L
    SHAPES.flatmap(lambda s: hnp.arrays(np.uint8, (*s, 2))),                            # LA
    SHAPES.flatmap(lambda s: hnp.arrays(np.uint8, (*s, 3))),                            # RGB
    SHAPES.flatmap(lambda s: hnp.arrays(np.uint8, (*s, 4))),                            # RGBA
    SHAPES.flatmap(lambda s: hnp.arrays(np.uint16, s)),                                 # I;16
    SHAPES.flatmap(lambda s: hnp.arrays(np.float32, s, elements=st.floats(0, 1, width=32))),
)


def _is_a_digit(x: torch.Tensor) -> bool:
    return (x.shape == (1, 1, 28, 28) and x.dtype == torch.float32 and bool(torch.isfinite(x).all())
            and 0.0 <= float(x.min()) and float(x.max()) <= 1.0)


def _digit_or_data_error(convert, value) -> None:
    """``convert(value)`` gives a digit or a DataError with a message, never another exception."""
    try:
        x = convert(value)
    except DataError as exc:
        assert str(exc)
    else:
        assert _is_a_digit(x)


@FAST
@given(ARRAYS)
def test_any_small_array_is_a_digit_or_a_data_error(arr):
    _digit_or_data_error(digit_from_array, arr)


@FAST
@given(ARRAYS)
def test_any_small_png_is_a_digit_or_a_data_error(arr):
    data = _encode(Image.fromarray(arr if arr.dtype != np.float32 else (arr * 255).astype(np.uint8)))
    _digit_or_data_error(digit_from_bytes, data)


@FAST
@given(st.binary(max_size=200), st.sampled_from([b"", PNG[:33], JPEG[:20], b"%!PS", b"%PDF"]))
def test_any_bytes_are_a_digit_or_a_data_error(tail, head):
    try:
        x = digit_from_bytes(head + tail)
    except DataError as exc:
        assert str(exc)
    else:
        assert _is_a_digit(x)


@pytest.mark.parametrize("arr, message", [
    (np.full((20, 20), -1, np.int32), "Pixel values must lie in 0..255"),
    (np.full((20, 20), 70_000, np.int64), "Pixel values must lie in 0..255"),
    (np.full((20, 20), np.nan, np.float32), "non-finite"),
    (np.full((20, 20), 300.0), r"Pixel values must lie in \[0, 1\]"),
    (np.zeros((20, 20), np.complex64), "Unsupported pixel type"),
    (np.zeros((20, 20, 5), np.uint8), "Expected an image array"),
])
def test_unusable_arrays(arr, message):
    with pytest.raises(DataError, match=message):
        digit_from_array(arr)
