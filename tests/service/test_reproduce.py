"""Reproduce this: a result the service computed travels as a recipe (model hash, digits by index or as exact bytes,
settings, seed, numbers), its snippet and the session script recompute it in a fresh process, and a recipe whose
numbers were changed, or whose model has other weights, is reported, not passed."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sem_core.serve.cache import ResultCache
from sem_core.serve.reproduce import (Recipe, decode_images, fingerprint, images_of, mismatches, recipe_of,
                                      session_script, snippet)
from sem_core.serve.service import AttackService
from sem_core.serve.views import concept_job, lipschitz_job, saliency_job

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def recipes(shipped, test_split):
    x, y, _ = test_split
    svc = AttackService(device="cpu", cache=ResultCache(), loader=lambda name: shipped[name])
    specs = {"concept": concept_job("senn", x[900:901], y[900:901], x[212:213], steps=10),
             "saliency": saliency_job("cnn", "saliency_topk", x[5:7], y[5:7], steps=5),
             "lipschitz": lipschitz_job("cnn", "saliency", x[7:8], budget=8),
             "uploaded": saliency_job("cnn", "saliency_topk", x[8:9] * 0.9, None, steps=3)}
    try:
        return {t: recipe_of(s, shipped[s.model][1], x, svc.submit("a", s).result(300), t) for t, s in specs.items()}
    finally:
        svc.shutdown()


def _run(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "script.py"
    path.write_text(script)
    return subprocess.run([sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


def test_digits_travel_by_index_and_anything_else_as_exact_bytes(recipes, test_split):
    x = test_split[0]
    assert recipes["concept"].x == {"test": [900]} and recipes["concept"].target == {"test": [212]}
    up = recipes["uploaded"].x
    assert "raw" in up and torch.equal(decode_images(up, x), x[8:9] * 0.9)
    mask = torch.zeros(2, 1, 28, 28, dtype=torch.bool)
    mask[:, :, 3:9, 4:6] = True
    assert torch.equal(decode_images(images_of(mask, None), x), mask)
    assert json.loads(recipes["saliency"].to_json())["model_sha256"] == recipes["saliency"].model_sha256


def test_the_session_script_reproduces_every_result_in_a_fresh_process(recipes, tmp_path):
    done = _run(session_script(list(recipes.values())), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("reproduced") == len(recipes), done.stdout


def test_a_snippet_prints_the_recorded_numbers(recipes, tmp_path):
    done = _run(snippet(recipes["concept"]), tmp_path)
    assert done.returncode == 0, done.stderr
    printed = eval(done.stdout.strip().splitlines()[-1])   # the fingerprint dict the snippet prints  # noqa: S307
    assert not mismatches(recipes["concept"].expected, printed)


def test_changed_numbers_or_other_weights_are_reported(recipes, tmp_path):
    edited = Recipe(**{**recipes["saliency"].__dict__, "expected": {
        **recipes["saliency"].expected, "linf": [v + 0.01 for v in recipes["saliency"].expected["linf"]]}})
    other = Recipe(**{**recipes["lipschitz"].__dict__, "model_sha256": "0" * 64})
    done = _run(session_script([edited]), tmp_path)
    assert done.returncode == 1 and "DIFFERS: linf" in done.stdout, done.stdout + done.stderr
    done = _run(session_script([other]), tmp_path)
    assert done.returncode != 0 and "other weights" in done.stderr


def test_fingerprints_of_each_result_kind(recipes):
    assert set(recipes["concept"].expected) >= {"pred_after", "label_kept", "linf", "metric concept_distance_adv"}
    assert set(recipes["lipschitz"].expected) == {"values"}
    assert fingerprint(torch.ones(2, 1, 28, 28)) == {"map abs sum": [784.0, 784.0], "map max": [1.0, 1.0]}
    with pytest.raises(TypeError):
        fingerprint("not a result")
