"""The result cache: deterministic keys, a byte-bounded LRU, a disk layer that never unpickles."""
import json

import pytest
import torch

import sem_core
from sem_core.serve.cache import ResultCache, default_cache_dir, from_bytes, nbytes, result_key, to_bytes

SHA = "a" * 64
CFG = {"eps": 0.3, "steps": 100, "lam": 1.0}


def key(x, **kw):
    args = dict(kind="attack", name="senn_concept", config=CFG, seed=0, extra=None)
    args.update(kw)
    return result_key(kw.pop("sha", SHA), x, **{k: v for k, v in args.items() if k != "sha"})


def test_keys_are_deterministic_and_depend_on_everything_that_decides_a_result():
    x = torch.rand(1, 1, 28, 28)
    k = key(x)
    assert k == key(x.clone()) == key(x, config={"lam": 1, "steps": 100, "eps": 0.3})  # order, 1.0 == 1
    assert len(k) == 64 and all(c in "0123456789abcdef" for c in k)
    x2 = x.clone()
    x2[0, 0, 0, 0] += 1e-6
    others = {key(x2), key(x, seed=1), key(x, name="protodl_prototype"), key(x, kind="explain"),
              key(x, config={**CFG, "eps": 0.31}), key(x, extra={"y": 3}), key(x, sha="b" * 64),
              key(torch.cat([x, x]))}
    assert k not in others and len(others) == 8


def test_a_known_key_does_not_change_between_runs():
    """A key is a pure function of its inputs (a stored entry must be found again after a restart)."""
    x = torch.zeros(1, 1, 28, 28)
    assert key(x) == result_key(SHA, torch.zeros(1, 1, 28, 28, dtype=torch.float64), kind="attack",
                                name="senn_concept", config=dict(CFG), seed=0)


def test_lru_is_bounded_in_bytes_and_keeps_recent_entries():
    one = torch.zeros(1000)                       # 4,000 bytes each
    cache = ResultCache(max_bytes=3 * nbytes(one) + 10)
    for i in range(3):
        cache.put(f"{i:064x}", one.clone())
    cache.get(f"{0:064x}")                         # 0 is now the most recent
    cache.put(f"{3:064x}", one.clone())            # evicts 1, the least recent
    assert cache.get(f"{1:064x}") is None
    assert cache.get(f"{0:064x}") is not None and cache.get(f"{3:064x}") is not None
    assert cache.memory_bytes <= cache.max_bytes and len(cache) == 3
    cache.put(f"{9:064x}", torch.zeros(10_000))     # larger than the whole bound: not kept
    assert cache.get(f"{9:064x}") is None


def test_attack_result_round_trips_through_disk(tmp_path, shipped, test_split):
    x, y, _ = test_split
    model = shipped["senn"][0]
    res = sem_core.create_attack(model, "senn_concept", eps=0.3, steps=3, snapshot_every=1)(x[:2], y[:2],
                                                                                             target=x[5:7])
    k = key(x[:2])
    ResultCache(folder=tmp_path).put(k, res)
    back = ResultCache(folder=tmp_path).get(k)                   # a new process: from disk
    assert torch.equal(back.x_adv, res.x_adv) and back.config == res.config
    assert torch.equal(back.snapshots[2].explanation.concepts, res.snapshots[2].explanation.concepts)
    assert type(back.explanations["target"]).__name__ == "SennExplanation"
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".safetensors"]  # no pickle anywhere


def test_disk_entries_rebuild_only_allowed_types(tmp_path):
    from sem_core.serve.cache import _structure_bytes
    from sem_core.provenance import sign

    k = "c" * 64
    weights, meta = to_bytes({"a": torch.ones(2)}, k)
    doc = json.loads(meta)
    doc["value"] = {"__dataclass__": "Popen", "fields": {"args": "rm -rf /"}}
    with pytest.raises(ValueError, match="signature does not match"):
        from_bytes(weights, json.dumps(doc).encode(), k)
    doc["hmac"] = sign(k.encode(), weights, _structure_bytes(doc["value"]))   # even with the secret: an allow-list
    with pytest.raises(ValueError, match="not a cacheable result type"):
        from_bytes(weights, json.dumps(doc).encode(), k)
    (tmp_path / f"{k}.json").write_text(json.dumps(doc))
    (tmp_path / f"{k}.safetensors").write_bytes(weights)
    assert ResultCache(folder=tmp_path).get(k) is None          # refused with a warning, not raised
    (tmp_path / f"{k}.safetensors").write_bytes(b"garbage")
    assert ResultCache(folder=tmp_path).get(k) is None


def test_disk_layer_is_pruned_to_its_bound(tmp_path):
    cache = ResultCache(folder=tmp_path, max_disk_bytes=30_000)
    for i in range(10):
        cache.put(f"{i:064x}", torch.zeros(2000))                 # ~8 kB each
    cache.prune_disk()
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 30_000
    assert cache.disk_entries() >= 1


def test_cache_folder_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEM_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.setenv("SEM_CACHE_DIR", "off")
    assert default_cache_dir() is None
    monkeypatch.delenv("SEM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "sem-explorer" / "results"
