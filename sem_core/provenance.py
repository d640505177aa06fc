"""Provenance for every exported result: which digits, which model (name and weights' SHA-256), which
attack configuration, which seed and which version of sem_core produced it; and the seal of what this
installation stores for itself (``sign``/``verify``: HMAC-SHA256 under a per-installation secret).

The secret lives outside every data folder: ``$SEM_SECRET_FILE``, else ``$XDG_CONFIG_HOME/sem_explorer/secret``
(default ``~/.config/sem_explorer/secret``), created on first use with 32 random bytes, readable by its owner
only (0600). Where it cannot be read or created, a random secret for this process is used (with a warning):
records signed then are not trusted by the next process. A record a user or another program could edit (a cache
entry, an app-run experiment folder) carries such a signature, so an edited record is recomputed or flagged,
never shown as it is.

A JSON export carries it under the ``"provenance"`` key; an NPZ export as the ``provenance`` array (one
JSON string), so a figure in a slide or a paper can be traced back and recomputed.

Example:
    prov = provenance("senn", card, digits=[12, 40], source="subset", attack="senn_concept", config=res.config, seed=0)
    json.dumps({**res.to_dict(), "provenance": prov})
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

log = logging.getLogger(__name__)

PROVENANCE_KEYS = ("digits", "data_source", "model", "model_sha256", "attack", "config", "seed", "sem_core_version")


def sem_core_version() -> str:
    """The installed distribution's version, else the one in the checkout's pyproject.toml."""
    try:
        return metadata.version("sem-explorer")
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def _plain(v: Any) -> Any:
    """JSON-able copy of a config value (tensors and numpy scalars become lists/numbers)."""
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def provenance(model: str, card: Mapping[str, Any], *, digits: Mapping[str, Sequence[int] | None] | Sequence[int] | None,
               source: str, attack: str, config: Mapping[str, Any], seed: int = 0) -> dict[str, Any]:
    """The provenance record of one result.

    Args:
        model: the model's shipped name ("senn-adv"); card: its checkpoint card (``load_model_with_card``),
            which gives the weights' SHA-256 and the architecture.
        digits: test-split indices of the digits used, either a list or a mapping role -> indices
            (``{"source": [12], "target": [40]}``); None (or a None role) for drawn/uploaded digits.
        source: the data source of those indices ("subset" or "mnist", the model's test split).
        attack: the attack or estimate's registered name; config: its constructor arguments.
        seed: the random seed of the run.
    """
    return {"digits": _plain(digits), "data_source": source, "model": model, "architecture": card.get("model"),
            "model_sha256": card.get("sha256"), "attack": attack, "config": _plain(dict(config)), "seed": int(seed),
            "sem_core_version": sem_core_version()}


def with_provenance(payload: Mapping[str, Any], prov: Mapping[str, Any]) -> bytes:
    """``payload`` plus ``{"provenance": prov}`` as indented JSON bytes (a download's content)."""
    return json.dumps({**_plain(dict(payload)), "provenance": dict(prov)}, indent=1).encode()


# ---- the seal of records this installation stores for itself
_LOCK = threading.Lock()
_SECRET: dict[str, bytes] = {}


def secret_path() -> Path:
    """Where the installation's secret is kept (see the module docstring)."""
    if os.environ.get("SEM_SECRET_FILE"):
        return Path(os.environ["SEM_SECRET_FILE"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sem_explorer" / "secret"


def installation_secret() -> bytes:
    """The secret (read once per process and path; created 0600 when missing)."""
    path = secret_path()
    with _LOCK:
        if str(path) not in _SECRET:
            _SECRET[str(path)] = _read_or_create(path)
        return _SECRET[str(path)]


def _read_or_create(path: Path) -> bytes:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd) as f:
            text = f.read(200).strip()
        if len(text) < 32:
            raise ValueError("too short")
        return text.encode()
    except (OSError, ValueError) as exc:
        log.warning("no installation secret at %s (%s): stored results are trusted by this process only", path, exc)
        return secrets.token_bytes(32)


def sign(*parts: bytes) -> str:
    """HMAC-SHA256 (hex) of ``parts`` under the installation's secret (each part length-prefixed, so the split
    between parts is signed too)."""
    mac = hmac.new(installation_secret(), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.hexdigest()


def verify(tag: object, *parts: bytes) -> bool:
    """Whether ``tag`` is the signature of ``parts`` (constant-time comparison)."""
    # compared as bytes: compare_digest refuses a str with non-ASCII characters (a hostile edit may put one there)
    return isinstance(tag, str) and hmac.compare_digest(tag.encode("utf-8", "surrogatepass"), sign(*parts).encode())
