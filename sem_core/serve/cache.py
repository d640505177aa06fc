"""A shared result cache: a result computed once, by anyone, is shown at once the next time.

Keys are deterministic SHA-256 digests of what decides a result (``result_key``): the model
checkpoint's SHA-256 (from its card), the bytes of the input digits (float32, shape included), the
job's kind, name and config, the seed, and the per-image extras (label, target images or mask).
Values are results (``AttackResult``, ``LipschitzResult``, tensors, the models' explanation
dataclasses, and dicts/lists of these).

Two layers:
- memory: an LRU bounded in bytes (the tensors' sizes), shared by every session of the process;
- disk (optional): one ``KEY.safetensors`` (every tensor) + ``KEY.json`` (the structure) per entry,
  never a pickle; dataclasses are rebuilt only from an allow-list of result types. The folder is
  ``$SEM_CACHE_DIR``, else ``$XDG_CACHE_HOME/sem-explorer/results``, else
  ``~/.cache/sem-explorer/results``; ``SEM_CACHE_DIR=off`` turns the disk layer off. The disk layer
  is bounded too (oldest entries are removed first). Every disk entry is signed (HMAC-SHA256 under the
  installation's secret, ``provenance.sign``) over its key, its tensors and its structure: an edited, swapped or
  foreign entry is removed and recomputed, never shown. The cache reads, counts and prunes only regular files
  named ``<64 hex digits>.json`` / ``.safetensors`` (no FIFOs, no symlinks, nobody else's files).

Example:
    cache = ResultCache(max_bytes=64 << 20, folder=default_cache_dir())
    key = result_key(card["sha256"], x[:1], kind="attack", name="senn_concept", config=cfg, seed=0)
    cache.put(key, res); cache.get(key)            # the same result (from memory, else from disk)
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import stat
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..provenance import sign, verify

log = logging.getLogger(__name__)
CACHE_FORMAT = "sem-explorer-result/3"   # part of every key: a format change never reads old entries (3: signed)
ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.(json|safetensors)$")   # the only files the cache reads or removes
MAX_ENTRY_BYTES = 64 << 20               # a disk entry larger than this is refused on read


def default_cache_dir() -> Path | None:
    """The disk layer's folder (see the module docstring); None when ``SEM_CACHE_DIR=off``."""
    env = os.environ.get("SEM_CACHE_DIR")
    if env is not None and env.strip().lower() in {"", "off", "none", "0"}:
        return None
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sem-explorer" / "results"


# ------------------------------------------------------------------------------------------ keys
def tensor_digest(t: torch.Tensor | None) -> str:
    """SHA-256 of a tensor's float32 bytes and shape ("none" for None): equal images, equal digests."""
    if t is None:
        return "none"
    t = t.detach().to("cpu", torch.float32).contiguous()
    h = hashlib.sha256(repr(tuple(t.shape)).encode())
    h.update(t.numpy().tobytes())
    return h.hexdigest()


def _canonical(value: Any) -> Any:
    """A JSON-able, order-independent form of a config (floats by repr, so 0.3 and 0.30 agree)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else repr(value)  # 1.0 and 1 agree; nan/inf by repr
    if isinstance(value, torch.Tensor):
        return {"tensor": tensor_digest(value)}
    return repr(value)


def result_key(model_sha256: str, x: torch.Tensor, *, kind: str, name: str, config: dict[str, Any], seed: int,
               extra: Any = None) -> str:
    """The cache key (64 hex digits) of one result.

    Args:
        model_sha256: the checkpoint's weights digest (``card["sha256"]``).
        x: the input digits [B,1,28,28] (their bytes decide the key, not where they came from).
        kind / name / config: the job ("attack", "senn_concept", {"eps": 0.3, ...}).
        seed: the job's seed.
        extra: anything else that decides the result (a label, target images, a mask).
    """
    payload = {"format": CACHE_FORMAT, "model": model_sha256, "x": tensor_digest(x), "kind": kind, "name": name,
               "config": _canonical(config), "seed": int(seed), "extra": _canonical(extra)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- serialisation (never pickle)
def _allowed_types() -> dict[str, type]:
    """The dataclasses a disk entry may rebuild: results and explanations, nothing else."""
    from ..attacks.base import AttackResult, Snapshot
    from ..explain.influence import InfluenceExplanation
    from ..explain.sanity import SanityResult
    from ..lipschitz.result import LipschitzResult
    from ..models.protodl import ProtoExplanation
    from ..models.senn import SennExplanation

    return {c.__name__: c for c in (AttackResult, Snapshot, LipschitzResult, ProtoExplanation, SennExplanation,
                                    InfluenceExplanation, SanityResult)}


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        ref = f"t{len(tensors)}"
        tensors[ref] = obj.detach().cpu().contiguous()
        return {"__tensor__": ref}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__dataclass__": type(obj).__name__,
                "fields": {f.name: _encode(getattr(obj, f.name), tensors) for f in dataclasses.fields(obj)}}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("cached dicts need string keys")
        return {"__dict__": {k: _encode(v, tensors) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_encode(v, tensors) for v in obj], "tuple": isinstance(obj, tuple)}
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot cache a {type(obj).__name__}")


def _decode(obj: Any, tensors: dict[str, torch.Tensor], types: dict[str, type]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dataclass__" in obj:
            cls = types.get(obj["__dataclass__"])
            if cls is None:
                raise ValueError(f"type {obj['__dataclass__']!r} is not a cacheable result type")
            return cls(**{k: _decode(v, tensors, types) for k, v in obj["fields"].items()})
        if "__dict__" in obj:
            return {k: _decode(v, tensors, types) for k, v in obj["__dict__"].items()}
        if "__list__" in obj:
            items = [_decode(v, tensors, types) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
        if "__float__" in obj:
            return float(obj["__float__"])
        raise ValueError("unknown entry in a cached structure")
    return obj


def _structure_bytes(structure: Any) -> bytes:
    return json.dumps(structure, allow_nan=False, sort_keys=True, separators=(",", ":")).encode()


def to_bytes(value: Any, key: str = "") -> tuple[bytes, bytes]:
    """(safetensors bytes, JSON bytes) of a result, signed for ``key`` (``provenance.sign`` over the key, the
    tensors' bytes and the structure); raises TypeError for what cannot be cached."""
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(value, tensors)
    weights = save_safetensors(tensors, metadata={"format": CACHE_FORMAT})
    tag = sign(key.encode(), weights, _structure_bytes(structure))
    meta = json.dumps({"format": CACHE_FORMAT, "hmac": tag, "value": structure}, allow_nan=False).encode()
    return weights, meta


def from_bytes(weights: bytes, meta: bytes, key: str = "") -> Any:
    """The result ``to_bytes`` wrote for ``key``; raises ValueError for anything else (another format, another
    key, an edited tensor or structure: the signature does not match)."""
    doc = json.loads(meta)
    if not isinstance(doc, dict) or doc.get("format") != CACHE_FORMAT:
        raise ValueError("not a cache entry of this version")
    if not verify(doc.get("hmac"), key.encode(), weights, _structure_bytes(doc.get("value"))):
        raise ValueError("its signature does not match (edited, moved or written by another installation)")
    return _decode(doc["value"], load_safetensors(weights), _allowed_types())


def _regular(path: Path) -> bool:
    """A regular file, not a symlink (nor a FIFO, device or folder): the only kind the cache reads or removes."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def nbytes(obj: Any) -> int:
    """Bytes held by the tensors inside ``obj`` (results, dicts, lists, dataclasses), plus a small overhead."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size() + 64
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return 64 + sum(nbytes(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    if isinstance(obj, dict):
        return 64 + sum(nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return 64 + sum(nbytes(v) for v in obj)
    return 32


# ------------------------------------------------------------------------------------- the cache
class ResultCache:
    """An LRU of results bounded in bytes, over an optional bounded disk folder; thread-safe.

    Args:
        max_bytes: memory bound (default 256 MB); the least recently used entries go first.
        folder: the disk layer's folder (None: memory only). Use ``default_cache_dir()`` for the user's.
        max_disk_bytes: disk bound (default 2 GB); the oldest files go first when it is passed.
    """

    def __init__(self, max_bytes: int = 256 << 20, folder: str | Path | None = None, max_disk_bytes: int = 2 << 30):
        self.max_bytes, self.max_disk_bytes = int(max_bytes), int(max_disk_bytes)
        self.folder = Path(folder) if folder is not None else None
        self._mem: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.disk_hits = 0
        self._disk_written = 0

    # -- memory
    @property
    def memory_bytes(self) -> int:
        """Bytes of the tensors held in memory."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._mem)

    def _remember(self, key: str, value: Any) -> None:
        size = nbytes(value)
        with self._lock:
            if key in self._mem:
                self._bytes -= self._mem.pop(key)[1]
            if size > self.max_bytes:
                return
            self._mem[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, old) = self._mem.popitem(last=False)
                self._bytes -= old

    def clear_memory(self) -> None:
        """Drop every entry held in memory (the disk copies stay)."""
        with self._lock:
            self._mem.clear()
            self._bytes = 0

    # -- both layers
    def get(self, key: str) -> Any | None:
        """The result under ``key`` (memory first, then disk), or None."""
        with self._lock:
            hit = self._mem.get(key)
            if hit is not None:
                self._mem.move_to_end(key)
                self.hits += 1
                return hit[0]
        value = self._read(key)
        if value is None:
            self.misses += 1
            return None
        self.disk_hits += 1
        self._remember(key, value)
        return value

    def contains(self, key: str) -> bool:
        """Whether ``key`` is cached in memory or on disk (nothing is loaded)."""
        with self._lock:
            if key in self._mem:
                return True
        return self.folder is not None and _regular(self.folder / f"{key}.json")

    def put(self, key: str, value: Any, *, disk: bool = True) -> None:
        """Store ``value`` under ``key`` in memory and (``disk`` and a folder set) on disk."""
        self._remember(key, value)
        if disk and self.folder is not None:
            self._write(key, value)

    def disk_entries(self) -> int:
        """The number of entries stored on disk."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        return sum(1 for p in self.folder.glob("*.json") if ENTRY_NAME.match(p.name) and _regular(p))

    # -- disk
    def _paths(self, key: str) -> tuple[Path, Path]:
        if self.folder is None or len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key[:80]!r}")
        return self.folder / f"{key}.safetensors", self.folder / f"{key}.json"

    def _read(self, key: str) -> Any | None:
        if self.folder is None:
            return None
        try:
            weights, meta = self._paths(key)
            if not (_regular(meta) and _regular(weights)):   # a FIFO would block the read; a link points elsewhere
                return None
            if weights.stat().st_size > MAX_ENTRY_BYTES or meta.stat().st_size > MAX_ENTRY_BYTES:
                return None
            return from_bytes(weights.read_bytes(), meta.read_bytes(), key)
        except (OSError, ValueError, KeyError, TypeError, SafetensorError, RecursionError) as exc:
            log.warning("result cache: removed the unusable entry %s (%s); it will be recomputed", key[:12], exc)
            self._remove(key)
            return None

    def _remove(self, key: str) -> None:
        """Delete the entry ``key``'s files (regular files of the cache's naming only)."""
        for path in self._paths(key):
            if _regular(path):
                path.unlink(missing_ok=True)

    def _write(self, key: str, value: Any) -> None:
        try:
            weights_bytes, meta_bytes = to_bytes(value, key)
        except TypeError as exc:
            log.warning("result cache: not written to disk (%s)", exc)
            return
        weights, meta = self._paths(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tag = uuid.uuid4().hex  # unique temp names: concurrent writers never share a file
            for path, data in ((weights, weights_bytes), (meta, meta_bytes)):  # the card last: it marks the entry
                tmp = path.with_name(f".{path.name}.{tag}.tmp")
                tmp.write_bytes(data)
                tmp.replace(path)
        except OSError as exc:
            log.warning("result cache: cannot write to %s (%s)", self.folder, exc)
            return
        self._disk_written += len(weights_bytes) + len(meta_bytes)
        if self._disk_written > self.max_disk_bytes // 20:  # prune now and then, not at every write
            self._disk_written = 0
            self.prune_disk()

    def prune_disk(self) -> None:
        """Remove the oldest disk entries until the folder is within ``max_disk_bytes``."""
        if self.folder is None or not self.folder.is_dir():
            return
        entries = []
        for meta in self.folder.glob("*.json"):
            weights = meta.with_suffix(".safetensors")
            if not ENTRY_NAME.match(meta.name) or not _regular(meta):   # only the cache's own files
                continue
            try:
                size = meta.stat().st_size + (weights.stat().st_size if weights.exists() else 0)
                entries.append((meta.stat().st_mtime, size, meta, weights))
            except OSError:
                continue
        total = sum(e[1] for e in entries)
        for _, size, meta, weights in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_disk_bytes:
                break
            for p in (meta, weights):
                if _regular(p):
                    p.unlink(missing_ok=True)
            total -= size
