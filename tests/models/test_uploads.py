"""A model uploaded in the app: weights only (safetensors) for a registered architecture, hash checked, size
limited, finite; listed by name beside the shipped models; anything else refused in one line, nothing kept."""
import json

import pytest
import torch
from safetensors.torch import load as load_st, save as save_st

import sem_core
from sem_core.errors import CheckpointError
from sem_core.models.checkpoint import SHIPPED_DIR, seal
from sem_core.models.hub import accept_upload, uploads_dir


@pytest.fixture(autouse=True)
def _own_uploads(monkeypatch, tmp_path):
    """Each test's uploads in its own folder: the session's model listing stays the shipped one."""
    monkeypatch.setenv("SEM_UPLOADS_DIR", str(tmp_path / "uploads"))


@pytest.fixture
def cnn_files():
    card = (SHIPPED_DIR / "cnn.json").read_bytes()
    return card, (SHIPPED_DIR / json.loads(card)["weights_file"]).read_bytes()


def test_an_uploaded_checkpoint_is_listed_and_loads_like_the_original(cnn_files, test_split):
    name = accept_upload(*cnn_files)
    assert name.startswith("upload-") and name in sem_core.list_shipped()
    x = test_split.images[:4]
    assert torch.equal(sem_core.load_model(name, "cpu")(x), sem_core.load_model("cnn", "cpu")(x))
    assert accept_upload(*cnn_files) == name          # the same weights: the same name, nothing doubled


def _before():
    return sorted(p.name for p in uploads_dir().glob("*")) if uploads_dir().is_dir() else []


@pytest.mark.parametrize("case, message", [
    ("not-json", "not a SEM Explorer card"),
    ("tampered", "SHA-256|sha256|hash"),
    ("too-large", "too large"),
    ("nan-weights", "NaN or Inf|non-finite|finite"),
    ("unknown-architecture", "not registered|unknown model|architecture"),
])
def test_a_bad_upload_is_refused_in_one_line_and_nothing_is_kept(cnn_files, case, message):
    card, weights = cnn_files
    doc = json.loads(card)
    if case == "not-json":
        card = b"<html>"
    elif case == "tampered":
        weights = weights[:-1] + bytes([weights[-1] ^ 1])
    elif case == "too-large":
        weights = weights + b"\0" * 100
    elif case == "nan-weights":
        import hashlib

        tensors = load_st(weights)
        first = next(iter(tensors))
        tensors[first] = torch.full_like(tensors[first], float("nan"))
        weights = save_st(tensors)
        card = json.dumps(seal({**doc, "sha256": hashlib.sha256(weights).hexdigest()})).encode()
    elif case == "unknown-architecture":
        card = json.dumps(seal({**doc, "model": "TotallyUnknownNet", "architecture": "x:TotallyUnknownNet"})).encode()
    before = _before()
    with pytest.raises(CheckpointError, match=message) as info:
        accept_upload(card, weights, **({"max_bytes": len(cnn_files[1])} if case == "too-large" else {}))
    assert "\n" not in str(info.value) and _before() == before


def test_the_pages_helper_takes_the_two_uploaded_files_in_any_order(cnn_files):
    import io

    from app_pages.ui.userdata import add_uploaded_model

    class Upload(io.BytesIO):
        def __init__(self, name, data):
            super().__init__(data)
            self.name = name

    card, weights = cnn_files
    name = add_uploaded_model([Upload("w.safetensors", weights), Upload("c.json", card)])
    assert name in sem_core.list_shipped()
    with pytest.raises(CheckpointError, match="exactly two files"):
        add_uploaded_model([Upload("c.json", card)])
