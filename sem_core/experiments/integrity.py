"""Experiment folders are verified, not trusted: parameter checks, sealed chunks, manifest checks, safe writes.

Used by the runner (resume), the report and ``load_results`` (the Experiments page):

- ``check_params``: every ``--param`` is a known key of the experiment, of its default's type, finite, and
  a whole number >= 1 where it counts something; refused with a message that quotes the input safely.
- ``seal_chunk`` / ``open_chunk``: a chunk file records the digest of the run's parameters and models,
  the experiment code's version, its index and spec, a SHA-256 of its own content and an HMAC of that under
  the installation's secret (``provenance.sign``); ``open_chunk`` raises ``BadChunk`` (the reason, one line)
  for a chunk that is unparsable, edited, truncated, of another run, of the wrong length, or not signed by this
  installation (edited with its checksum recomputed, or copied from elsewhere), so it is recomputed, never reused.
- ``check_manifest``: the fields a manifest must have (and plain file names for its figures).
- ``folder_lock``, ``write_atomic``: one writer per folder (O_EXCL lock file holding its pid); writes go
  to a temp file unique to the writer, renamed into place, removed on failure.

    check_params("faithfulness", {"n": 1000, "chunk": 250}, {"chunk": 0})   # SemError: chunk ... >= 1
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import SemError

log = logging.getLogger(__name__)

CHUNK_FORMAT = 3       # bump when the chunk layout or the meaning of a spec changes (3: code digest + behaviour)
COUNTS = {"n", "targets", "chunk", "steps", "budget", "epochs", "k", "train_limit", "sample"}   # whole numbers >= 1
NON_NEGATIVE = {"eps", "lam", "xi", "alpha", "xi_values", "alpha_values", "eps_values", "lambdas", "train_seeds", "seed"}
RANGES = {"classes": (0, 9)}                                                            # digit classes
ECHO = 60              # characters of user input quoted back in a message
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


class BadChunk(Exception):
    """A chunk file that must not be reused; ``str(exc)`` says why."""


def show(value: Any) -> str:
    """``value`` quoted for a one-line message: JSON with every control and non-ASCII character escaped, cut
    to ``ECHO`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = ascii(value)
    return text if len(text) <= ECHO else text[: ECHO - 1] + "…"


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, str):
        return "a text"
    return "a value"


def _check_value(key: str, value: Any, default: Any, where: str, label: str = "") -> None:
    """One parameter against its default's type; raises SemError naming the key (``label``) and the value."""
    def bad(want: str) -> SemError:
        return SemError(f"{where}: parameter {label or key} must be {want}, got {show(value)}")

    if isinstance(default, list):
        if not isinstance(value, list) or not value:
            raise bad("a non-empty list like " + show(default))
        element = default[0] if default else None
        for i, v in enumerate(value):
            _check_value(key, v, element, where, f"{key}[{i}]")
        return
    if key in COUNTS:
        if value is None and default is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad("a whole number >= 1")
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:  # no default type to go by (None): any finite scalar
        ok = value is None or isinstance(value, (str, bool, int)) or (isinstance(value, float) and math.isfinite(value))
    if not ok:
        raise bad(_kind(default) + (" (finite)" if isinstance(default, float) else ""))
    if key in NON_NEGATIVE and isinstance(value, (int, float)) and value < 0:
        raise bad(f"{_kind(default)} >= 0")
    if key in RANGES and isinstance(value, int):
        lo, hi = RANGES[key]
        if not lo <= value <= hi:
            raise bad(f"a whole number from {lo} to {hi}")


def check_params(name: str, defaults: dict[str, Any], params: dict[str, Any]) -> None:
    """Refuse unknown keys (listing the known ones) and values that do not fit the defaults' types."""
    unknown = [k for k in params if k not in defaults]
    if unknown:
        raise SemError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(show(k) for k in unknown)} "
                       f"for experiment {name}; known: {', '.join(sorted(defaults))}")
    for key, value in params.items():
        _check_value(key, value, defaults[key], f"experiment {name}")


def digest(obj: Any) -> str:
    """SHA-256 of ``obj``'s canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def code_version(exp: Any) -> str:
    """The chunk format and a digest of the source of every sem_core module the experiment ``exp`` imports
    (``fingerprint.code_digest``; independent of git: an edited attack, model or experiment changes it)."""
    from .fingerprint import code_digest

    return code_digest(exp, CHUNK_FORMAT)


def chunk_key(name: str, params: dict[str, Any], models: dict[str, str], code: str,
              behaviour: str | None = None) -> dict[str, str | None]:
    """What a reusable chunk must have been computed with: experiment, parameters, model weights, and code: the same
    code digest, or else the same behavioural fingerprint (``fingerprint``; None: the experiment has none)."""
    return {"experiment": name, "params": digest(params), "models": digest(models), "code": code,
            "behaviour": behaviour}


def same_code(stored: dict[str, Any], key: dict[str, Any]) -> bool:
    """Whether a chunk or manifest recorded with ``stored`` (its "code" and "behaviour") may stand for the code of
    ``key``: the same code digest, or a fingerprint that is not None and the same (the code moved, the numbers not)."""
    if stored.get("code") == key["code"]:
        return True
    return key.get("behaviour") is not None and stored.get("behaviour") == key["behaviour"]


def seal_chunk(index: int, key: dict[str, str], spec: Any, result: Any, seconds: float) -> str:
    """A chunk file's text: its content, the SHA-256 of that content, and the HMAC of the SHA-256 under this
    installation's secret (nobody without it can write a chunk this installation will reuse)."""
    from ..provenance import sign

    body = {"format": CHUNK_FORMAT, "index": index, "key": key, "spec": spec, "result": result, "seconds": seconds}
    checksum = digest(body)
    return json.dumps({**body, "checksum": checksum, "hmac": sign(checksum.encode())})


_WHAT = {"experiment": "another experiment", "params": "other parameters", "models": "other model weights"}


def open_chunk(raw: bytes, index: int, key: dict[str, str], spec: Any) -> tuple[Any, float]:
    """(result, seconds) of a chunk file's bytes that passes every check; else raises BadChunk(why)."""
    try:
        stored = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadChunk("it is not valid JSON (truncated or garbage)") from None
    if not isinstance(stored, dict) or "checksum" not in stored:
        raise BadChunk("it has no checksum (written by an older version, or not a chunk)")
    from ..provenance import verify

    body = {k: v for k, v in stored.items() if k not in ("checksum", "hmac")}
    if stored["checksum"] != digest(body):
        raise BadChunk("its content does not match its checksum (edited or truncated)")
    if not verify(stored.get("hmac"), str(stored["checksum"]).encode()):
        raise BadChunk("it is not signed by this installation (edited with a new checksum, or made elsewhere)")
    if stored.get("format") != CHUNK_FORMAT or not isinstance(stored.get("key"), dict):
        raise BadChunk(f"it has chunk format {show(stored.get('format'))}, not {CHUNK_FORMAT}")
    for part, what in _WHAT.items():
        if stored["key"].get(part) != key[part]:
            raise BadChunk(f"it was computed with {what}")
    if not same_code(stored["key"], key):
        raise BadChunk("it was computed by other code (another code digest, and the behavioural fingerprint differs "
                       "or is missing)")
    if stored.get("index") != index or stored.get("spec") != spec:
        raise BadChunk("it holds another chunk (index or spec differ)")
    result, seconds = stored.get("result"), stored.get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise BadChunk("its seconds are not a number")
    if isinstance(spec, dict) and isinstance(spec.get("digits"), list):
        if not isinstance(result, dict):
            raise BadChunk("its result is not a table of columns")
        n = len(spec["digits"])
        wrong = [k for k, v in result.items() if isinstance(v, list) and len(v) != n]
        if wrong:
            raise BadChunk(f"its column {show(wrong[0])} has {len(result[wrong[0]])} values for {n} digits")
    return result, float(seconds)


# ---- manifests -----------------------------------------------------------------------------------------
_MANIFEST_FIELDS = {"experiment": str, "paper": str, "claim": str, "params": dict, "data_source": str,
                    "device": str, "chunks_computed": int, "chunks_reused": int, "seconds": (int, float),
                    "summary": dict, "verdict": str, "verdict_reason": str, "figures": dict, "command": str}


def plain_file_name(name: Any) -> bool:
    """A file name with no folder part, not hidden (no '/', '\\', '..')."""
    return isinstance(name, str) and bool(_NAME.fullmatch(name)) and ".." not in name


def check_manifest(manifest: Any, path: Path) -> dict[str, Any]:
    """``manifest`` when it has every field the report and the app read, of the right type; else SemError
    naming ``path`` and the first problem."""
    def bad(why: str) -> SemError:
        return SemError(f"{path} is not a readable experiment manifest ({why})")

    if not isinstance(manifest, dict):
        raise bad("not a JSON object")
    for key, kind in _MANIFEST_FIELDS.items():
        if key not in manifest:
            raise bad(f"no {key}")
        if not isinstance(manifest[key], kind) or isinstance(manifest[key], bool):
            raise bad(f"{key} has the wrong type")
    if not plain_file_name(manifest["experiment"]):
        raise bad(f"experiment name {show(manifest['experiment'])} is not a plain name")
    for opt, kind in (("compute_seconds_total", (int, float)), ("notes", str), ("chunks_recomputed", int)):
        if opt in manifest and (not isinstance(manifest[opt], kind) or isinstance(manifest[opt], bool)):
            raise bad(f"{opt} has the wrong type")
    n = manifest["params"].get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool)):
        raise bad("params.n is not a whole number")
    training = manifest["summary"].get("training_seconds_total")
    if training is not None and (not isinstance(training, (int, float)) or isinstance(training, bool)):
        raise bad("summary.training_seconds_total is not a number")
    for stem, entry in manifest["figures"].items():
        if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
            raise bad(f"figure {show(stem)} is not a table of file names")
        if not plain_file_name(stem) or not all(plain_file_name(entry[k]) for k in ("html", "json", "png") if k in entry):
            raise bad(f"figure {show(stem)} names a file outside its folder")
        if "html" not in entry:
            raise bad(f"figure {show(stem)} has no html")
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    """The checked manifest at ``path``; SemError (naming the file) when it is missing, unparsable or incomplete."""
    try:
        manifest = json.loads(Path(path).read_bytes().decode())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else f"not valid JSON: {str(exc).splitlines()[0][:80]}"
        raise SemError(f"{path} is not a readable experiment manifest ({why})") from None
    return check_manifest(manifest, path)


# ---- writing -------------------------------------------------------------------------------------------
def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to a temp file unique to this writer (pid + random suffix), then rename it to ``path``;
    the temp file is removed when anything fails. An OS error becomes a SemError naming ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_bytes(data if isinstance(data, bytes) else data.encode())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SemError(f"could not write {path}: {exc.strerror or exc}") from None
        raise


def prepare_folder(out: Path, what: str = "output folder") -> None:
    """Create ``out`` (and parents); SemError when it is an existing file or cannot be created."""
    if out.exists() and not out.is_dir():
        raise SemError(f"the {what} {out} is an existing file; choose a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SemError(f"cannot create the {what} {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise SemError(f"cannot write to the {what} {out} (permission denied)")


def _lock_holder(path: Path) -> str:
    try:
        pid = path.read_text(errors="replace").strip()
    except OSError:
        pid = ""
    return pid if re.fullmatch(r"[0-9]{1,10}", pid) else "unknown"


def _alive(pid: str) -> bool:
    if pid == "unknown":
        return True                       # not ours to judge: keep refusing
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _take_lock(path: Path, out: Path) -> int:
    """The open lock file; a stale lock (its pid is no running process) is removed once and taken."""
    for attempt in range(2):
        try:
            return os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _lock_holder(path)
            if attempt == 0 and not _alive(pid):
                log.warning("taking over %s: its run (pid %s) has ended without releasing it", path, pid)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            raise SemError(f"another run is writing to {out} (pid {pid}); wait for it or remove {path} if it "
                           "crashed") from None
        except OSError as exc:
            raise SemError(f"cannot write to {out}: {exc.strerror or exc}") from None
    raise SemError(f"another run took {path} at the same moment; try again")


@contextlib.contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold ``out``/.lock (created with O_EXCL, holding this pid) for the block; a second writer gets a SemError. A
    lock whose process is gone (killed before it could release it) is taken over, with a warning."""
    path = out / ".lock"
    fd = _take_lock(path, out)
    mine = str(os.getpid())
    with os.fdopen(fd, "w") as f:
        f.write(mine)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if path.read_text() == mine:
                path.unlink()


# ---- the seal of a finished folder ---------------------------------------------------------------------
SEAL_FILE = "seal.json"
SEAL_STATES = {"signed": "signed by this installation",
               "published": "published with this version of the code (its digest is in sem_core/experiments/"
                            "published.json)",
               "foreign": "sealed on another installation and not published with this code",
               "unsealed": "not sealed (a run from before seals)"}
#: the states whose numbers may be shown: what this installation computed, or what the code it runs publishes
VERIFIED = ("signed", "published")
#: the digests of the committed results/ folders (``publish``): code, so an edit of results/ alone cannot pass
PUBLISHED_FILE = Path(__file__).with_name("published.json")


def _sealed_files(out: Path, manifest: dict[str, Any]) -> list[str]:
    """The files a seal covers: the manifest, the rows, and each figure's plotly JSON and PNG (its HTML is left out:
    ``report`` rebuilds it from the JSON, and the repository ignores it)."""
    names = ["manifest.json", "results.json", "results.csv"]
    names += [entry[k] for entry in manifest.get("figures", {}).values() if isinstance(entry, dict)
              for k in ("json", "png") if isinstance(entry.get(k), str)]
    return [n for n in dict.fromkeys(names) if plain_file_name(n) and (Path(out) / n).is_file()]


def _digest_list(digests: dict[str, str]) -> bytes:
    return json.dumps(digests, sort_keys=True, separators=(",", ":")).encode()


def folder_digest(digests: dict[str, str]) -> str:
    """The SHA-256 of a seal's file list: one value that changes with any file of the folder."""
    return hashlib.sha256(_digest_list(digests)).hexdigest()


def published() -> dict[str, str]:
    """{folder name: ``folder_digest``} of the results published with this code (empty when there are none)."""
    try:
        data = json.loads(PUBLISHED_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SemError(f"{PUBLISHED_FILE} is not readable ({type(exc).__name__}): reinstall the package") from None
    return {str(k): str(v) for k, v in data.get("folders", {}).items()}


def publish(folders: list[Path]) -> Path:
    """Record the ``folder_digest`` of each finished, sealed folder in ``PUBLISHED_FILE`` (a maintainer's step with
    ``report --publish``: the committed results/ and results/cards/ then read as "published" on every
    installation)."""
    entries = {}
    for out in folders:
        manifest = read_manifest(Path(out) / "manifest.json")
        check_seal(out, manifest)           # an edited file is refused before it is published
        seal = json.loads((Path(out) / SEAL_FILE).read_bytes().decode())
        parent = Path(out).resolve().parent.name   # a card (results/cards/NAME) is named cards/NAME
        entries[f"{parent}/{Path(out).name}" if parent == "cards" else Path(out).name] = folder_digest(seal["files"])
    write_atomic(PUBLISHED_FILE, json.dumps({"format": 1, "folders": dict(sorted(entries.items()))}, indent=1) + "\n")
    return PUBLISHED_FILE


def require_verified(out: Path, manifest: dict[str, Any]) -> str:
    """``check_seal``'s state when its numbers may be shown (``VERIFIED``); else a SemError saying why and how to get
    numbers that can be trusted (rerun the experiment here)."""
    state = check_seal(out, manifest)
    if state not in VERIFIED:
        name = manifest.get("experiment", "NAME") if isinstance(manifest.get("experiment"), str) else "NAME"
        raise SemError(f"{Path(out).name}: {SEAL_STATES[state]}, so its numbers cannot be verified and are not shown; "
                       f"rerun it here: python -m sem_core experiment {name[:40]} --out DIR")
    return state


def seal_folder(out: Path, manifest: dict[str, Any]) -> None:
    """Write ``seal.json``: the SHA-256 of every file of the finished run (``_sealed_files``) and an HMAC over that
    list under the installation's secret (``provenance.sign``), so an edit to any of them is found on reading."""
    from ..provenance import sign

    digests = {n: hashlib.sha256((Path(out) / n).read_bytes()).hexdigest() for n in _sealed_files(out, manifest)}
    write_atomic(Path(out) / SEAL_FILE, json.dumps({"format": 1, "files": digests, "hmac": sign(_digest_list(digests))},
                                                   indent=1))


def check_seal(out: Path, manifest: dict[str, Any]) -> str:
    """"signed", "published", "foreign" or "unsealed" (``SEAL_STATES``) for a finished folder; a SemError naming the
    file when a sealed file was edited, removed or added to the manifest after the run (its numbers cannot be
    trusted)."""
    from ..provenance import verify

    path = Path(out) / SEAL_FILE
    if not path.exists():
        return "unsealed"
    try:
        seal = json.loads(path.read_bytes().decode())
        digests = seal["files"]
        assert isinstance(digests, dict) and all(isinstance(v, str) for v in digests.values())
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AssertionError, RecursionError):
        raise SemError(f"{path} is not a readable seal: the folder's numbers cannot be checked") from None
    for name in sorted(set(_sealed_files(out, manifest)) | set(digests)):
        file = Path(out) / name
        if name not in digests or not plain_file_name(name) or not file.is_file() or (
                hashlib.sha256(file.read_bytes()).hexdigest() != digests[name]):
            raise SemError(f"{file} was changed after the run (it does not match {SEAL_FILE}): not shown")
    if verify(seal.get("hmac"), _digest_list(digests)):
        return "signed"
    return "published" if folder_digest(digests) in published().values() else "foreign"
