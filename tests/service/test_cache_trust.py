"""Nothing the cache stored is trusted when read back: an edited tensor, an edited config, an entry moved to
another key, a foreign entry, a FIFO or a symlink in the folder, or a file of someone else's — each is refused (and
the cache's own bad entry removed) or left alone, never shown, never a hang."""
import json
import os
import threading

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from sem_core.serve.cache import ResultCache, to_bytes

KEY, OTHER = "a" * 64, "b" * 64
VALUE = {"x_adv": torch.linspace(0, 1, 16).view(1, 1, 4, 4), "config": {"eps": 0.3, "attack": "senn_concept"},
         "pred": torch.tensor([7])}


@pytest.fixture
def stored(tmp_path):
    cache = ResultCache(folder=tmp_path)
    cache.put(KEY, VALUE)
    return tmp_path


def _fresh(folder):
    return ResultCache(folder=folder).get(KEY)          # a new process: from disk only


def test_an_untouched_entry_reads_back(stored):
    back = _fresh(stored)
    assert torch.equal(back["x_adv"], VALUE["x_adv"]) and back["config"] == VALUE["config"]


def test_an_edited_config_is_removed_and_recomputed(stored):
    meta = stored / f"{KEY}.json"
    doc = json.loads(meta.read_text())
    doc["value"]["__dict__"]["config"]["__dict__"]["eps"] = 0.05
    meta.write_text(json.dumps(doc))
    assert _fresh(stored) is None and not meta.exists()


def test_edited_tensors_are_refused(stored):
    from safetensors.torch import load, save

    path = stored / f"{KEY}.safetensors"
    tensors = load(path.read_bytes())
    tensors = {k: (v.flip(-1) if v.is_floating_point() else v + 1) for k, v in tensors.items()}
    path.write_bytes(save(tensors, metadata={"format": "sem-explorer-result/3"}))
    assert _fresh(stored) is None


def test_an_entry_moved_to_another_key_is_refused(stored):
    for suffix in (".json", ".safetensors"):
        os.replace(stored / f"{KEY}{suffix}", stored / f"{OTHER}{suffix}")
    assert ResultCache(folder=stored).get(OTHER) is None


def test_an_entry_signed_by_another_installation_is_refused(stored, tmp_path_factory, monkeypatch):
    from sem_core import provenance as secret

    mine = secret.installation_secret()
    monkeypatch.setenv("SEM_SECRET_FILE", str(tmp_path_factory.mktemp("other") / "secret"))
    assert secret.installation_secret() != mine
    assert _fresh(stored) is None
    assert oct(os.stat(os.environ["SEM_SECRET_FILE"]).st_mode & 0o777) == "0o600"   # the owner's only


def test_a_fifo_in_the_folder_never_hangs_a_read(tmp_path):
    ResultCache(folder=tmp_path).put(KEY, VALUE)
    (tmp_path / f"{KEY}.safetensors").unlink()
    os.mkfifo(tmp_path / f"{KEY}.safetensors")
    box = []
    t = threading.Thread(target=lambda: box.append(_fresh(tmp_path)), daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive() and box == [None]


def test_a_symlink_entry_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    ResultCache(folder=elsewhere).put(KEY, VALUE)
    folder = tmp_path / "cache"
    folder.mkdir()
    for suffix in (".json", ".safetensors"):
        (folder / f"{KEY}{suffix}").symlink_to(elsewhere / f"{KEY}{suffix}")
    assert ResultCache(folder=folder).get(KEY) is None
    assert (elsewhere / f"{KEY}.json").exists()            # the target is left alone


def test_pruning_removes_only_the_caches_own_files(tmp_path):
    (tmp_path / "notes.json").write_text("{}")               # a shared SEM_CACHE_DIR: someone else's files
    (tmp_path / "data.safetensors").write_bytes(b"x")
    cache = ResultCache(folder=tmp_path, max_disk_bytes=1)
    for i in range(3):
        cache.put(f"{i:064x}", torch.zeros(100))
    cache.prune_disk()
    assert (tmp_path / "notes.json").exists() and (tmp_path / "data.safetensors").exists()
    assert cache.disk_entries() == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from([".json", ".safetensors"]), data=st.data())
def test_any_byte_edit_is_refused_or_harmless(tmp_path_factory, which, data):
    folder = tmp_path_factory.mktemp("c")
    ResultCache(folder=folder).put(KEY, VALUE)
    path = folder / f"{KEY}{which}"
    raw = bytearray(path.read_bytes())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]))
    path.write_bytes(bytes(raw))
    back = _fresh(folder)
    assert back is None or (torch.equal(back["x_adv"], VALUE["x_adv"]) and back["config"] == VALUE["config"]
                            and torch.equal(back["pred"], VALUE["pred"]))
