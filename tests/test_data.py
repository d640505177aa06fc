import hashlib
import logging

import pytest
import torch

from sem_core import data
from sem_core.data import load_split
from sem_core.errors import DataError


@pytest.mark.parametrize("split,n", [("train", 4000), ("test", 1000)])
def test_subset_split_is_stratified_and_in_range(split, n):
    x, y, src = load_split(split, "subset")
    assert src == "subset"
    assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (n,) and y.dtype == torch.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.99
    assert torch.equal(y.bincount(), torch.full((10,), n // 10))


# sha256 of x and y bytes: the exact splits the shipped checkpoints were trained and evaluated on
SUBSET_FINGERPRINTS = {"train": "936a7de4f0153202", "test": "0aef37edd4f0682f"}


def test_subset_is_the_split_the_shipped_models_used_and_disjoint():
    splits = {s: load_split(s, "subset") for s in ("train", "test")}
    for split, (x, y, _) in splits.items():
        digest = hashlib.sha256(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest()[:16]
        assert digest == SUBSET_FINGERPRINTS[split], f"the {split} subset changed"
    # no test digit appears in the training part
    flat_tr = {bytes(r.numpy().tobytes()) for r in splits["train"][0].flatten(1)}
    assert not any(bytes(r.numpy().tobytes()) in flat_tr for r in splits["test"][0].flatten(1))


def test_bad_names_say_what_exists():
    with pytest.raises(DataError, match="available: train, test"):
        load_split("val")
    with pytest.raises(DataError, match="available: auto, mnist, subset"):
        load_split("test", "imagenet")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No cached MNIST and no reachable mirror (a closed local port)."""
    monkeypatch.setenv("SEM_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "MNIST_MIRRORS", ["http://127.0.0.1:9/mnist/"])
    data._mnist_cached.cache_clear()
    data._reachable_mirrors.cache_clear()
    yield
    data._mnist_cached.cache_clear()
    data._reachable_mirrors.cache_clear()


def test_auto_falls_back_to_subset_offline_and_says_so(offline, caplog):
    with caplog.at_level(logging.WARNING, logger="sem_core.data"):
        x, y, src = load_split("test", "auto")
    assert src == "subset" and len(y) == 1000
    assert any("offline 5,000-digit subset" in r.getMessage() for r in caplog.records)


def test_mnist_source_offline_raises_clear_error(offline):
    with pytest.raises(DataError, match="no MNIST mirror is reachable"):
        load_split("test", "mnist")


def test_cached_mnist_is_used_without_network(offline, tmp_path):
    """A cache folder in torchvision's layout is read with no download attempt."""
    torchvision = pytest.importorskip("torchvision")
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = (torch.arange(3 * 28 * 28) % 256).to(torch.uint8).view(3, 28, 28)
    labels = torch.tensor([7, 2, 1], dtype=torch.uint8)
    for prefix in ("t10k", "train"):  # torchvision checks that all four files are there
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", imgs, 0x0803)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 0x0801)
    x, y, src = load_split("test", "mnist")
    assert src == "mnist" and y.tolist() == [7, 2, 1]
    assert torch.allclose(x[:, 0] * 255, imgs.float())
    assert torchvision.datasets.MNIST.mirrors  # untouched class attribute still usable


def _write_idx(path, tensor, magic):
    import struct

    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in tensor.shape)
    path.write_bytes(header + tensor.numpy().tobytes())
