import hashlib
import json

import pytest
import torch

import sem_core
from sem_core.errors import CheckpointError
from sem_core.models import create_model
from sem_core.models.checkpoint import SHIPPED_DIR, load_checkpoint, save_checkpoint, seal
from sem_core.models.train import accuracy


@pytest.mark.parametrize("name", sem_core.list_models())
def test_round_trip_gives_identical_logits(tmp_path, name):
    model = create_model(name).eval()
    card_path = save_checkpoint(model, tmp_path, {"test_accuracy": 0.5, "seed": 1})
    loaded, card = load_checkpoint(card_path)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(loaded(x), model(x))
    assert card["model"] == name and card["seed"] == 1
    assert (tmp_path / f"{name}.safetensors").read_bytes()[:8] != b"\x80\x02\x8a\n"  # not a pickle


@pytest.fixture
def saved(tmp_path):
    return save_checkpoint(create_model("cnn"), tmp_path, {})


def test_shape_mismatch_is_named(saved):
    card = json.loads(saved.read_text())
    card["config"]["hidden"] = 64  # architecture now disagrees with the weights
    saved.write_text(json.dumps(seal(card)))
    with pytest.raises(CheckpointError, match=r"head\.0\.weight"):
        load_checkpoint(saved)


def test_tampered_weights_are_detected(saved):
    weights = saved.with_suffix(".safetensors")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(saved)


def test_garbage_weights_file_is_a_clear_error(saved):
    weights = saved.with_suffix(".safetensors")
    weights.write_bytes(b"not a safetensors file")
    card = json.loads(saved.read_text())
    card["sha256"] = hashlib.sha256(b"not a safetensors file").hexdigest()   # the hash matches, the bytes are junk
    saved.write_text(json.dumps(seal(card)))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(saved)


def test_missing_and_foreign_cards(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint card at .*nope.json"):
        load_checkpoint(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not a valid JSON card"):
        load_checkpoint(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(CheckpointError, match="not a SEM Explorer card"):
        load_checkpoint(tmp_path / "y.json")


def test_load_model_unknown_name_lists_models():
    with pytest.raises(sem_core.UnknownNameError, match=f"available: {', '.join(sem_core.list_shipped())}"):
        sem_core.load_model("vgg")


MIN_ACCURACY = {"cnn": 0.97, "senn": 0.95, "protodl": 0.94}  # per architecture; robust variants too


@pytest.mark.parametrize("name", sem_core.list_shipped())
def test_shipped_checkpoint_matches_its_card(shipped, test_split, name):
    model, card = shipped[name]
    assert not model.training
    assert card["data"]["source"] == "subset" and card["data"]["n_train"] == 4000
    assert (SHIPPED_DIR / f"{name}.safetensors").stat().st_size <= 5 * 1024 * 1024
    x, y, _ = test_split
    acc = accuracy(model, x, y)
    assert abs(acc - card["test_accuracy"]) <= 0.005
    assert acc >= MIN_ACCURACY[card["model"]]


@pytest.mark.parametrize("name", sem_core.list_shipped("protodl"))
def test_shipped_protodl_every_class_owns_a_prototype(shipped, name):
    model, card = shipped[name]
    assert set(model.prototype_classes().tolist()) == set(range(10))
    assert card["prototype_classes"] == model.prototype_classes().tolist()


def test_shipped_senn_grounding_is_saved(shipped):
    model, _ = shipped["senn"]
    g = model.grounding
    assert g.shape == (model.config.n_concepts, 8) and (g >= 0).all() and (g < 4000).all()


def test_the_architecture_check_builds_each_config_once(monkeypatch):
    """Every page run lists the shipped models: reading a card again reuses its skeleton's shapes."""
    from sem_core.models import checkpoint as ck

    ck._architecture.cache_clear()
    built = []
    real = ck.build_architecture
    monkeypatch.setattr(ck, "build_architecture", lambda cls, cfg: built.append(cls.__name__) or real(cls, cfg))
    path = ck.Path(__file__).resolve().parents[2] / "assets" / "models" / "cnn.json"
    first, second = ck.read_card(path), ck.read_card(path)
    assert first == second and built == ["CNN"]
    bad = {**first, "tensors": {**first["tensors"], "extra.weight": {"shape": [1], "dtype": "float32"}}}
    with pytest.raises(ck.CheckpointError, match="extra.weight"):   # a cached skeleton still catches a mismatch
        ck._check_architecture("bad.json", bad)
