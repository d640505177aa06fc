"""Provenance records: every key, the checkpoint's real SHA-256, JSON and NPZ round trips."""
import io
import json

import numpy as np
import pytest

import sem_core
from sem_core.digit_io import npz_bytes
from sem_core.provenance import PROVENANCE_KEYS, provenance, sem_core_version, with_provenance


def test_provenance_names_digits_model_hash_attack_seed_and_version():
    card = sem_core.model_card("senn")
    prov = provenance("senn", card, digits={"source": [3], "target": [7]}, source="subset", attack="senn_concept",
                      config={"eps": 0.3, "steps": 10}, seed=4)
    assert set(PROVENANCE_KEYS) <= set(prov)
    assert prov["model_sha256"] == card["sha256"] and len(prov["model_sha256"]) == 64
    assert prov["digits"] == {"source": [3], "target": [7]} and prov["seed"] == 4
    assert prov["sem_core_version"] == sem_core_version() != "unknown"


def test_provenance_travels_in_json_and_npz():
    import torch

    prov = provenance("cnn", sem_core.model_card("cnn"), digits=torch.tensor([1, 2]), source="subset",
                      attack="saliency_topk", config={"k": torch.tensor(50)})
    data = json.loads(with_provenance({"linf": torch.tensor([0.1])}, prov))
    assert data["provenance"]["digits"] == [1, 2] and data["provenance"]["config"] == {"k": 50}
    with np.load(io.BytesIO(npz_bytes(x=np.zeros(2), provenance=np.array([json.dumps(prov)])))) as z:
        assert json.loads(str(z["provenance"][0]))["model"] == "cnn"


def test_user_results_folder_is_outside_the_repository(monkeypatch, tmp_path):
    from app_pages.ui.userdata import SHIPPED_RESULTS, results_dir

    monkeypatch.delenv("SEM_RESULTS_DIR", raising=False)
    monkeypatch.delenv("SEM_USER_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert results_dir() == tmp_path / "sem_explorer" / "results"
    assert SHIPPED_RESULTS.parent not in results_dir().parents
    monkeypatch.setenv("SEM_RESULTS_DIR", str(tmp_path / "r"))
    assert results_dir() == tmp_path / "r"


@pytest.mark.parametrize("tag", ["\x80" * 64, "é", "", "\udcff", "0" * 64])
def test_a_forged_signature_is_refused_not_raised(tag):
    # CI found this: hmac.compare_digest raised TypeError on a tag with a non-ASCII character (a random byte edit of
    # a chunk put one there), so a hostile file crashed the run instead of being recomputed
    from sem_core.provenance import sign, verify

    assert verify(tag, b"payload") is False
    assert verify(sign(b"payload"), b"payload") is True
