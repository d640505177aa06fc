"""Hostile checkpoint cards: every bad card is a CheckpointError with a message that says what is wrong.

Each case edits one field of a valid card (a fresh CNN saved in a temporary folder) and names the
words the error must contain. Nothing here may be a KeyError, TypeError, MemoryError or a silent load.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sem_core
from sem_core.cli.main import main
from sem_core.errors import CheckpointError
from sem_core.models import create_model
from sem_core.models.checkpoint import load_checkpoint, read_card, save_checkpoint, seal

DATA = {"source": "subset", "n_train": 4000, "n_test": 1000, "description": "the offline subset"}


def _save(folder: Path, **card) -> Path:
    return save_checkpoint(create_model("cnn"), folder, {"data": DATA, "test_accuracy": 0.98, **card})


def _edit(card_path: Path, change) -> Path:
    """The card with ``change`` applied and sealed again (as a deliberate edit would be), so each case reaches the
    check it is about; an unsealed edit is refused first (``test_an_unsealed_edit_is_refused``)."""
    card = json.loads(card_path.read_text())
    change(card)
    try:
        card = seal(card)
    except (TypeError, ValueError, RecursionError):   # a value JSON cannot canonicalise: the seal check says so
        pass
    card_path.write_text(json.dumps(card))
    return card_path


def _parent(card, keys):
    for k in keys[:-1]:
        card = card[k]
    return card


def _set(*keys_and_value):
    *keys, value = keys_and_value
    return lambda card: _parent(card, keys).__setitem__(keys[-1], value)


def _delete(*keys):
    return lambda card: _parent(card, keys).__delitem__(keys[-1])


# (what is changed, the words the CheckpointError must contain)
BAD_CARDS = {
    "no sha256": (_delete("sha256"), r"no weights hash \('sha256'\).*re-save.*python -m sem_core train --model cnn"),
    "sha256 not hex": (_set("sha256", "abc"), "64 hexadecimal digits"),
    "sha256 a number": (_set("sha256", 12), "64 hexadecimal digits"),
    "absolute weights path": (_set("weights_file", "/etc/shadow"), "plain file name"),
    "weights path with ..": (_set("weights_file", "../cnn.safetensors"), "plain file name"),
    "weights path with a trailing newline": (_set("weights_file", "cnn.safetensors\n"), r"plain file name.*\\n'"),
    "control characters in the model name": (_set("model", "evil\x1b[31mred"), r"model 'evil\\x1b\[31mred'"),
    "weights in a subfolder": (_set("weights_file", "sub/cnn.safetensors"), "plain file name"),
    "weights path ..": (_set("weights_file", ".."), "plain file name"),
    "weights path with a backslash": (_set("weights_file", "..\\cnn.safetensors"), "plain file name"),
    "weights path not a string": (_set("weights_file", ["cnn.safetensors"]), "plain file name"),
    "unknown config key": (_set("config", "depth", 3), r"unknown config keys .*depth.*known keys: channels, hidden, act, beta"),
    "config value of the wrong type": (_set("config", "hidden", "128"), r"config 'hidden' = '128'"),
    "config bool for an int": (_set("config", "hidden", True), r"config 'hidden' = True"),
    "config tuple of the wrong length": (_set("config", "channels", [32]), r"config 'channels'"),
    "config not an object": (_set("config", [1, 2]), "'config' must be an object"),
    "negative width": (_set("config", "hidden", -1), "bad config"),
    "unknown activation": (_set("config", "act", "tanh"), "bad config: unknown activation"),
    # 10⁹ hidden units would need 12 TB if built for real: compared on the meta device instead
    "gigantic width": (_set("config", "hidden", 10**9), r"config does not match the card.s tensors: .head\.0\.bias. is float32\[1000000000\]"),
    "unknown model": (_set("model", "vgg"), "unknown model 'vgg'; available: cnn, protodl, senn"),
    "model not a string": (_set("model", ["cnn"]), "unknown model"),
    "tensors malformed": (_set("tensors", {"head.0.weight": 1}), "'tensors' must map"),
    "tensors shape of strings": (_set("tensors", "head.0.weight", "shape", ["a"]), "'tensors' must map"),
    "data a string": (_set("data", "subset"), "malformed data section"),
    "data unknown source": (_set("data", "source", "imagenet"), "malformed data section.*mnist, subset"),
    "data count as text": (_set("data", "n_test", "1000"), "malformed data section"),
    "data without description": (_delete("data", "description"), "malformed data section"),
    "accuracy as text": (_set("test_accuracy", "98%"), r"'test_accuracy' must be a number in \[0, 1\]"),
    "accuracy above 1": (_set("test_accuracy", 98.3), r"'test_accuracy' must be a number in \[0, 1\]"),
    "no data section": (_delete("data"), "card cnn.json has no data section"),
    "no test accuracy": (_delete("test_accuracy"), "card cnn.json has no test_accuracy"),
    "foreign format": (_set("format", "pytorch"), "not a SEM Explorer card"),
    "no tensors": (_delete("tensors"), "lacks the field 'tensors'"),
}


@pytest.mark.parametrize("case", list(BAD_CARDS))
def test_bad_card_is_a_clear_checkpoint_error(tmp_path, case):
    change, message = BAD_CARDS[case]
    card_path = _edit(_save(tmp_path), change)
    with pytest.raises(CheckpointError, match=message):
        sem_core.load_model_with_card(card_path, "cpu")
    with pytest.raises(CheckpointError, match=message):
        sem_core.model_card(card_path)


def test_random_weights_without_a_hash_are_refused_not_evaluated(tmp_path, capsys):
    """The issue's attack: delete sha256, replace the weights, and `eval` reported 0.10 next to the card's 0.98."""
    card_path = _save(tmp_path)
    weights = card_path.with_suffix(".safetensors")
    random_model = create_model("cnn")
    torch.nn.init.normal_(random_model.head[0].weight)
    from safetensors.torch import save_file
    save_file(random_model.state_dict(), str(weights))
    _edit(card_path, _delete("sha256"))
    assert main(["eval", "--model", str(card_path), "--json", "--device", "cpu"]) == 2
    assert "no weights hash" in json.loads(capsys.readouterr().out)["error"]


def test_weights_symlinked_outside_the_folder_are_refused(tmp_path):
    outside = tmp_path / "elsewhere"
    card_path = _save(outside)
    inside = tmp_path / "models"
    inside.mkdir()
    (inside / "cnn.json").write_text(card_path.read_text())
    os.symlink(outside / "cnn.safetensors", inside / "cnn.safetensors")
    with pytest.raises(CheckpointError, match="links outside the card's folder"):
        load_checkpoint(inside / "cnn.json")


def test_a_card_without_data_still_loads_at_the_low_level(tmp_path):
    """save_checkpoint(model, dir, {}) is a valid checkpoint; only the app/CLI entry points need data."""
    card_path = save_checkpoint(create_model("cnn"), tmp_path, {})
    model, card = load_checkpoint(card_path)
    assert "data" not in card and not model.training


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000, "not a valid JSON card"),               # nesting deep enough to blow the parser's stack
    ("\udcff", "not a valid JSON card"),
    ("[1, 2]", "not a SEM Explorer card"),
    ("", "not a valid JSON card"),
])
def test_unparseable_cards(tmp_path, text, message):
    path = tmp_path / "x.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(CheckpointError, match=message):
        read_card(path)


def test_missing_card_path_says_no_card_there(capsys):
    with pytest.raises(CheckpointError, match=r"^no card at /nonexist\.json"):
        sem_core.load_model("/nonexist.json")
    assert main(["eval", "--model", "/nonexist.json", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error.startswith("no card at /nonexist.json") and "--out /" not in error


def test_missing_shipped_model_says_how_to_train_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sem_core.models.hub, "SHIPPED_DIR", tmp_path)
    with pytest.raises(CheckpointError, match=f"train --model senn --data subset --seed 0 --out {tmp_path}"):
        sem_core.load_model("senn")


@pytest.mark.parametrize("name", sem_core.list_models())
def test_every_shipped_card_passes_the_checks(name):
    card = sem_core.model_card(name)
    assert card["data"]["source"] == "subset" and len(card["sha256"]) == 64
    assert card["weights_file"] == f"{name}.safetensors"


# Any JSON value in any field of a good card: the load either succeeds or is a CheckpointError.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = [("model",), ("config",), ("config", "hidden"), ("config", "channels"), ("config", "act"),
          ("config", "beta"), ("tensors",), ("weights_file",), ("sha256",), ("data",), ("data", "source"),
          ("data", "n_train"), ("test_accuracy",), ("format",)]


@pytest.fixture(scope="module")
def good_card(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("good")
    return json.loads(_save(folder).read_text()) | {"_folder": str(folder)}


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_any_value_in_any_field_is_loaded_or_refused_cleanly(good_card, field, value):
    card = json.loads(json.dumps(good_card))
    folder = Path(card.pop("_folder"))
    _set(*field, value)(card)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=folder, delete=False) as f:
        json.dump(card, f)
    try:
        sem_core.load_model_with_card(f.name, "cpu")
    except CheckpointError as exc:
        assert str(exc) and "Traceback" not in str(exc)
    finally:
        os.unlink(f.name)
    assert hashlib.sha256((folder / "cnn.safetensors").read_bytes()).hexdigest() == good_card["sha256"]


@pytest.mark.parametrize("field, value", [("test_accuracy", 0.999), ("config", {"act": "softplus", "beta": 10.0}),
                                          ("data", {**DATA, "description": "edited"})])
def test_an_unsealed_edit_is_refused(tmp_path, field, value):
    """The card is inside the seal: switching the activation or editing the accuracy without re-sealing is refused."""
    path = _save(tmp_path)
    card = json.loads(path.read_text())
    card[field] = {**card[field], **value} if isinstance(value, dict) and field == "config" else value
    path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="was edited after it was saved"):
        load_checkpoint(path)
    del card["card_sha256"]
    path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="is not sealed"):
        read_card(path)
