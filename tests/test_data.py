import dataclasses
import hashlib
import logging

import numpy as np
import pytest
import torch

from sem_core import data
from sem_core.data import from_tensors, load_split
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


# --- torchvision datasets beyond MNIST: Fashion-MNIST, CIFAR-10 ------------------------------------------------


@pytest.fixture
def tv_offline(monkeypatch, tmp_path):
    """An empty data root and download servers that refuse connections (a closed local port): really offline."""
    monkeypatch.setenv("SEM_DATA_DIR", str(tmp_path))
    for name, spec in data.TORCHVISION_SOURCES.items():
        monkeypatch.setitem(data.TORCHVISION_SOURCES, name,
                            dataclasses.replace(spec, urls=("http://127.0.0.1:9/",)))
    data._torchvision_cached.cache_clear()
    data._reachable_mirrors.cache_clear()
    yield tmp_path
    data._torchvision_cached.cache_clear()
    data._reachable_mirrors.cache_clear()


@pytest.mark.parametrize("name,folder", [("fashion-mnist", "FashionMNIST/raw"), ("cifar10", "cifar-10-batches-py")])
def test_torchvision_source_offline_is_one_clear_line(tv_offline, name, folder):
    with pytest.raises(DataError) as info:
        load_split("test", name)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{name} is not cached in {tv_offline / folder}")
    assert "unreachable (offline?)" in msg and "SEM_DATA_DIR" in msg


def test_cached_fashion_mnist_is_read_from_torchvision_files(tv_offline):
    raw = tv_offline / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = (torch.arange(2 * 28 * 28) % 256).to(torch.uint8).view(2, 28, 28)
    labels = torch.tensor([9, 0], dtype=torch.uint8)
    for prefix in ("t10k", "train"):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", imgs, 0x0803)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 0x0801)
    x, y, src = load_split("train", "fashion-mnist")
    assert src == "fashion-mnist" and y.tolist() == [9, 0] and y.dtype == torch.int64
    assert x.shape == (2, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal((x[:, 0] * 255).round().to(torch.uint8), imgs)


def test_cached_cifar10_is_read_from_pickled_batches(tv_offline, monkeypatch):
    """Tiny batches in CIFAR's own format; the class checks them against our md5s instead of the real ones."""
    tv = pytest.importorskip("torchvision")
    folder = tv_offline / "cifar-10-batches-py"
    folder.mkdir()
    rows = (np.arange(2 * 3072) % 256).astype(np.uint8).reshape(2, 3072)  # CIFAR rows: R plane, G plane, B plane
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, fname in enumerate(names):
        _pickle(folder / fname, {"data": rows, "labels": [i % 10, 3]})
    _pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})
    md5 = {f: hashlib.md5((folder / f).read_bytes()).hexdigest() for f in names + ["batches.meta"]}
    monkeypatch.setattr(tv.datasets.CIFAR10, "train_list", [[f, md5[f]] for f in names[:5]])
    monkeypatch.setattr(tv.datasets.CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(tv.datasets.CIFAR10, "meta",
                        {"filename": "batches.meta", "key": "label_names", "md5": md5["batches.meta"]})
    x, y, src = load_split("test", "cifar10")
    assert src == "cifar10" and y.tolist() == [5, 3]
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert torch.equal((x * 255).round().to(torch.uint8), torch.from_numpy(rows.reshape(2, 3, 32, 32)))
    assert len(load_split("train", "cifar10").labels) == 10  # five batches of two


def test_data_dir_is_one_folder_per_dataset_or_the_shared_root(monkeypatch, tmp_path):
    monkeypatch.delenv("SEM_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.data_dir() == tmp_path / ".cache" / "sem_explorer" / "mnist"  # unchanged for MNIST
    assert data.data_dir("cifar10") == tmp_path / ".cache" / "sem_explorer" / "cifar10"
    monkeypatch.setenv("SEM_DATA_DIR", str(tmp_path / "root"))
    assert data.data_dir("fashion-mnist") == data.data_dir() == tmp_path / "root"


def test_unknown_source_mentions_npz_paths():
    with pytest.raises(DataError, match=r"fashion-mnist, cifar10, or the path of a \.npz file"):
        load_split("test", "imagenet")


def _pickle(path, obj):
    import pickle

    path.write_bytes(pickle.dumps(obj))


# --- a user's own data: from_tensors and .npz files --------------------------------------------------------------


def test_from_tensors_keeps_nchw_floats_and_copies():
    x = torch.rand(4, 3, 8, 8)
    y = torch.tensor([0, 1, 2, 1], dtype=torch.int32)
    split = from_tensors(x, y)
    assert split.source == "user tensors"
    assert torch.equal(split.images, x) and split.images.dtype == torch.float32
    assert split.labels.tolist() == [0, 1, 2, 1] and split.labels.dtype == torch.int64
    x.zero_()
    assert split.images.max() > 0  # a copy, not a view of the caller's tensor


def test_from_tensors_converts_grayscale_channels_last_uint8_and_float64():
    gray = np.arange(2 * 5 * 5, dtype=np.uint8).reshape(2, 5, 5)
    assert from_tensors(gray, [0, 1]).images.shape == (2, 1, 5, 5)
    hwc = np.random.default_rng(0).integers(0, 256, (2, 6, 7, 3), dtype=np.uint8)
    x = from_tensors(hwc, np.array([3, 4]), source="mine").images
    assert x.shape == (2, 3, 6, 7) and x.dtype == torch.float32
    assert torch.allclose(x, torch.from_numpy(hwc).permute(0, 3, 1, 2).float() / 255)
    x64 = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    assert from_tensors(x64, [0]).images.dtype == torch.float32


@pytest.mark.parametrize("images,labels,message", [
    (np.zeros((2, 4), np.uint8), [0, 1], r"images must be \[N,C,H,W\], \[N,H,W,C\] or grayscale \[N,H,W\]; got shape \(2, 4\)"),
    (np.zeros((1, 1, 2, 2, 2), np.uint8), [0], r"got shape \(1, 1, 2, 2, 2\)"),
    (np.zeros((0, 1, 4, 4), np.uint8), [], r"no images \(N = 0\)"),
    (np.zeros((2, 1, 4, 4), np.int64), [0, 1], r"images must be uint8 \(0..255\) or float in \[0, 1\]; got torch.int64"),
    (np.full((1, 1, 2, 2), 255.0), [0], r"must lie in \[0, 1\], found min 255, max 255; divide 0..255 values by 255"),
    (np.full((1, 1, 2, 2), -0.5), [0], r"found min -0.5.*rescale"),
    (np.full((1, 1, 2, 2), np.nan), [0], r"images contain NaN or inf"),
    (np.array([["a"]]), [0], r"images must be numeric .*got dtype <U1"),
    (np.zeros((2, 1, 4, 4), np.uint8), [0], r"labels must be 1-D with one entry per image \(\[2\]\); got shape \(1,\)"),
    (np.zeros((2, 1, 4, 4), np.uint8), np.zeros((2, 10)), r"labels must be 1-D .*got shape \(2, 10\)"),
    (np.zeros((2, 1, 4, 4), np.uint8), np.array([0.0, 1.0]), r"labels must be integer class indices; got torch.float64"),
    (np.zeros((2, 1, 4, 4), np.uint8), [0, -1], r"labels must be class indices ≥ 0; found -1"),
])
def test_from_tensors_refuses_bad_input_in_one_line(images, labels, message):
    with pytest.raises(DataError, match=message) as info:
        from_tensors(images, labels, source="mine")
    assert str(info.value).startswith("mine: ") and "\n" not in str(info.value)


def _sha12(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_npz_unsplit_set_is_the_test_split_and_names_the_file(tmp_path, monkeypatch):
    imgs = np.random.default_rng(1).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    path = tmp_path / "mine.npz"
    np.savez(path, images=imgs, labels=np.array([1, 2, 3]))
    monkeypatch.chdir(tmp_path)
    x, y, src = load_split("test", "mine.npz")  # relative path: the source names the absolute one
    assert src == f"npz:{path.resolve()} (sha256 {_sha12(path)})"
    assert x.shape == (3, 1, 28, 28) and y.tolist() == [1, 2, 3]
    assert torch.allclose(x[:, 0], torch.from_numpy(imgs).float() / 255)
    with pytest.raises(DataError, match="one unsplit set .* served as the test split; for a train split save train_images"):
        load_split("train", path)


def test_npz_with_train_and_test_arrays_serves_each_split(tmp_path):
    path = tmp_path / "both.npz"
    np.savez_compressed(path, train_images=np.zeros((5, 3, 4, 4), np.float32), train_labels=np.arange(5),
                        test_images=np.ones((2, 3, 4, 4), np.float32), test_labels=np.array([7, 8]))
    tr, te = load_split("train", str(path)), load_split("test", str(path))
    assert len(tr.labels) == 5 and tr.images.max() == 0 and te.labels.tolist() == [7, 8] and te.images.min() == 1
    assert tr.source == te.source == f"npz:{path} (sha256 {_sha12(path)})"


@pytest.mark.parametrize("arrays,split,message", [
    ({"images": np.zeros((1, 2, 2)), "test_images": np.zeros((1, 2, 2))}, "test", "mixes 'images'/'labels' with train_/test_"),
    ({"images": np.zeros((1, 2, 2))}, "test", r"no 'labels' array for the test split \(found: images\)"),
    ({"train_images": np.zeros((1, 2, 2)), "train_labels": np.zeros(1, int)}, "test",
     r"no 'test_images' array for the test split \(found: train_images, train_labels\)"),
    ({"images": np.full((1, 2, 2), 3.0), "labels": np.zeros(1, int)}, "test", r"float images must lie in \[0, 1\]"),
])
def test_npz_convention_errors_are_one_line(tmp_path, arrays, split, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as info:
        load_split(split, path)
    assert str(info.value).startswith(f"npz:{path} (sha256 ") and "\n" not in str(info.value)


UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)
    return 0


class _Trap:
    """Unpickling this object would run ``_record_unpickling``."""

    def __reduce__(self):
        return (_record_unpickling, ())


def test_npz_object_array_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, images=np.zeros((1, 2, 2), np.uint8), labels=np.array([_Trap()], dtype=object))
    with pytest.raises(DataError, match="array 'labels' is an object array, which would need unpickling; refused"):
        load_split("test", path)
    assert UNPICKLED == []


@pytest.mark.parametrize("content,message", [
    (None, "cannot read .*missing.npz: No such file"),
    (b"not a zip file at all", "not a readable .npz archive"),
    ("npy", "holds a single .npy array, not an .npz archive"),
])
def test_npz_unreadable_files_are_one_line(tmp_path, content, message):
    path = tmp_path / "missing.npz"
    if content == "npy":
        with path.open("wb") as f:
            np.save(f, np.zeros(3))
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_split("test", path)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- the parsed subset, kept between processes
def _fresh_subset(monkeypatch, folder):
    from sem_core import data

    monkeypatch.setenv("SEM_DATA_DIR", str(folder))
    data._subset_arrays.cache_clear()
    return data._subset_arrays()


def test_the_parsed_subset_is_kept_and_read_back_identical(tmp_path, monkeypatch):
    from sem_core import data

    try:
        parsed = _fresh_subset(monkeypatch, tmp_path)
        [kept] = tmp_path.glob("mnist-subset-*.npz")
        data._subset_arrays.cache_clear()
        calls = []
        monkeypatch.setattr(data, "_parse_subset", lambda: calls.append(1) or parsed)
        again = data._subset_arrays()
        assert calls == [] and all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(parsed, again))
        assert not any(a.flags.writeable for a in again)
        assert kept.name.endswith(f"-seed{data.SUBSET_SEED}.npz")
    finally:
        data._subset_arrays.cache_clear()


def test_an_edited_or_broken_subset_file_is_refused_and_parsed_again(tmp_path, monkeypatch, caplog):
    from sem_core import data

    try:
        parsed = _fresh_subset(monkeypatch, tmp_path)
        [kept] = tmp_path.glob("mnist-subset-*.npz")
        arrays = dict(np.load(kept))
        arrays["x_test"][0, 0, 0, 0] = 0.5                       # one pixel changed, its checksum left as it was
        np.savez(kept, **arrays)
        data._subset_arrays.cache_clear()
        with caplog.at_level("WARNING", logger="sem_core.data"):
            again = data._subset_arrays()
        assert "does not match" in caplog.text
        assert np.array_equal(again[2], parsed[2])               # the real digits, not the edited file's
        kept.write_bytes(b"not an npz")
        data._subset_arrays.cache_clear()
        caplog.clear()
        with caplog.at_level("WARNING", logger="sem_core.data"):
            assert np.array_equal(data._subset_arrays()[3], parsed[3])
        assert "could not be read" in caplog.text
    finally:
        data._subset_arrays.cache_clear()


def test_an_unwritable_cache_folder_only_costs_the_parse(tmp_path, monkeypatch):
    from sem_core import data

    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    try:
        x_train, *_ = _fresh_subset(monkeypatch, blocker / "sub")
        assert x_train.shape == (4000, 1, 28, 28)
    finally:
        data._subset_arrays.cache_clear()
