"""Uploaded and drawn digits become MNIST-style tensors; bad input is a DataError."""
import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import sem_core
from sem_core.digit_io import digit_from_array, digit_from_bytes, digit_to_png
from sem_core.errors import DataError


def _png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _drawn_one(size=200, offset=(0, 0)) -> Image.Image:
    """A thick black vertical stroke ('1') on white, off-center by ``offset``."""
    img = Image.new("RGB", (size, size), "white")
    ox, oy = offset
    ImageDraw.Draw(img).rectangle([90 + ox, 30 + oy, 110 + ox, 170 + oy], fill="black")
    return img


def _center_of_mass(x: torch.Tensor) -> tuple[float, float]:
    img = x.reshape(28, 28)
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    return float((ys * img).sum() / img.sum()), float((xs * img).sum() / img.sum())


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_black_on_white_becomes_white_on_black_and_centerd(fmt):
    x = digit_from_bytes(_png(_drawn_one(offset=(50, -20)), fmt))
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    img = x[0, 0]
    assert img[0].max() < 0.05 and img[:, 0].max() < 0.05            # black background
    assert img.max() > 0.9                                            # white ink
    cy, cx = _center_of_mass(x)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
    rows = torch.nonzero(img.amax(1) > 0.1).flatten()
    assert 18 <= len(rows) <= 21                                      # longer side scaled to 20 px


def test_rgba_canvas_with_transparent_background():
    canvas = np.zeros((150, 150, 4), np.uint8)                        # nothing drawn = transparent
    canvas[30:120, 60:80] = (0, 0, 0, 255)                            # black opaque stroke
    x = digit_from_array(canvas)
    assert x[0, 0, 0].max() < 0.05 and x.max() > 0.9


def test_drawn_canvas_stroke_becomes_a_centerd_digit():
    """What the draw tab's canvas returns: RGBA 280×280, an 18 px black stroke (a 7) off to the top left."""
    img = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
    ImageDraw.Draw(img).line([(20, 30), (140, 30), (70, 170)], fill=(0, 0, 0, 255), width=18, joint="curve")
    x = digit_from_array(np.asarray(img))
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert x[0, 0, 0].max() < 0.05 and x[0, 0, :, 0].max() < 0.05 and x.max() > 0.9   # white ink on black
    cy, cx = _center_of_mass(x)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
    rows = torch.nonzero(x[0, 0].amax(1) > 0.1).flatten()
    assert 18 <= len(rows) <= 21                                      # the taller side scaled to 20 px


def test_light_on_dark_is_not_inverted():
    img = Image.new("L", (60, 60), 0)
    ImageDraw.Draw(img).ellipse([15, 10, 45, 50], outline=255, width=6)
    x = digit_from_bytes(_png(img))
    assert x[0, 0, 0].max() < 0.05 and x.max() > 0.9


def test_scaled_mnist_digit_round_trips_through_the_cnn(test_split):
    x_all, y_all, _ = test_split
    cnn = sem_core.load_model("cnn", "cpu")
    for i in range(5):
        x, y = x_all[i], int(y_all[i])
        big = Image.fromarray((x[0].numpy() * 255).astype(np.uint8)).resize((100, 100), Image.BILINEAR)
        inverted = Image.eval(big, lambda v: 255 - v)                 # like a scan: dark ink on paper
        back = digit_from_bytes(_png(inverted))
        with torch.no_grad():
            assert int(cnn(back).argmax(1)) == y
            assert int(cnn(x[None]).argmax(1)) == y


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is not an image at all" * 10, "not an image"),
    (_png(_drawn_one())[:200], "damaged or incomplete"),              # truncated PNG
    (_png(Image.new("RGB", (64, 64), "white")), "blank"),
    (_png(Image.new("RGB", (64, 64), (90, 90, 90))), "blank"),
    (_png(_drawn_one(size=200).resize((5, 5))), "too small"),
])
def test_bad_uploads_raise_data_error(data, message):
    with pytest.raises(DataError, match=message):
        digit_from_bytes(data)


def test_huge_payload_is_refused_before_decoding():
    with pytest.raises(DataError, match="too large"):
        digit_from_bytes(b"\x89PNG" + b"\0" * 6_000_000)
    with pytest.raises(DataError, match="too large"):
        digit_from_bytes(_png(_drawn_one()), max_bytes=100)


def test_empty_canvas_is_blank():
    with pytest.raises(DataError, match="blank"):
        digit_from_array(np.zeros((280, 280, 4), np.uint8))
    with pytest.raises(DataError, match="Expected an image array"):
        digit_from_array(np.zeros((10,), np.uint8))


def test_png_round_trip(test_split):
    x = test_split[0][:1]
    png = digit_to_png(x)
    back = np.asarray(Image.open(io.BytesIO(png)), dtype=np.float32) / 255
    assert back.shape == (28, 28)
    assert np.abs(back - x[0, 0].numpy()).max() <= 0.5 / 255 + 1e-6
    assert digit_to_png(x[0, 0]) == png
    with pytest.raises(DataError):
        digit_to_png(torch.zeros(2, 1, 28, 28))


def test_npz_bytes_round_trip():
    from sem_core.digit_io import npz_bytes
    x = torch.rand(2, 1, 28, 28)
    data = np.load(io.BytesIO(npz_bytes(x=x, y=np.array([3, 4]))))
    assert np.array_equal(data["x"], x.numpy()) and data["y"].tolist() == [3, 4]


def test_digits_to_png_is_a_strip():
    from sem_core.digit_io import digits_to_png
    x = torch.rand(3, 1, 28, 28)
    strip = np.asarray(Image.open(io.BytesIO(digits_to_png(x))), dtype=np.float32) / 255
    assert strip.shape == (28, 84)
    assert np.abs(strip[:, 28:56] - x[1, 0].numpy()).max() <= 0.5 / 255 + 1e-6
