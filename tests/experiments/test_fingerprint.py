"""Issue 28, point 8: a stored chunk is reused only when the code would compute the same thing.

A temporary copy of sem_core is run three times on one folder: as it is (every chunk computed), after a private
helper of the attack is renamed (another code digest, the same behavioural fingerprint: every chunk reused), and
after the attack is changed to compute something else (both differ: every chunk recomputed).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sem_core.experiments import EXPERIMENTS, integrity
from sem_core.experiments.fingerprint import import_closure

ROOT = Path(__file__).resolve().parents[2]
RUN = """
import json, sys
from sem_core.experiments import run_experiment
m = run_experiment("senn-distances", sys.argv[1], n=2, device="cpu", targets=2, steps=2, chunk=1)
print(json.dumps({k: m[k] for k in ("chunks_total", "chunks_computed", "chunks_reused", "chunks_recomputed",
                                    "code_version", "behaviour", "summary")}))
"""


def _run(copy: Path, out: Path, secret: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(copy), "SEM_SECRET_FILE": str(secret)}
    done = subprocess.run([sys.executable, "-c", RUN, str(out)], cwd=copy, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _edit(path: Path, old: str, new: str, count: int | None = None) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new) if count is None else text.replace(old, new, count))


@pytest.fixture()
def copy(tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(ROOT / "sem_core", dest / "sem_core", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "assets").symlink_to(ROOT / "assets")
    return dest


def test_a_refactor_reuses_chunks_and_a_changed_attack_recomputes_them(copy, tmp_path):
    out, secret = tmp_path / "run", tmp_path / "secret"
    first = _run(copy, out, secret)
    assert first["chunks_computed"] == first["chunks_total"] == 2 and first["behaviour"]

    # a refactor that changes no number: the attack's private helper `_Best` renamed everywhere
    for path in (copy / "sem_core").rglob("*.py"):
        if "_Best" in path.read_text():
            _edit(path, "_Best", "_BestSoFar")
    renamed = _run(copy, out, secret)
    assert renamed["code_version"] != first["code_version"]            # the code digest saw the edit
    assert renamed["behaviour"] == first["behaviour"]                  # the numbers did not move
    assert renamed["chunks_reused"] == 2 and renamed["chunks_computed"] == 0
    assert renamed["summary"] == first["summary"]

    # the attack now computes something else: its concept loss weighted differently
    _edit(copy / "sem_core" / "attacks" / "senn_concept.py", 'dist2 = (h - ctx["h_t"]).pow(2).sum(1)',
          'dist2 = 3 * (h - ctx["h_t"]).pow(2).sum(1)')
    changed = _run(copy, out, secret)
    assert changed["behaviour"] != first["behaviour"]
    assert changed["chunks_recomputed"] == changed["chunks_computed"] == 2 and changed["chunks_reused"] == 0


def test_the_code_digest_covers_what_the_experiment_imports_lazily_too():
    closure = import_closure("sem_core.experiments.senn_lambda")
    # senn_lambda imports the training code inside run_chunk only
    assert {"sem_core.models.train", "sem_core.attacks.senn_concept", "sem_core.lipschitz.core"} <= set(closure)
    assert all(name.startswith("sem_core") for name in closure)


def test_a_chunk_of_other_code_with_the_same_fingerprint_is_reused_and_without_one_is_not():
    key = integrity.chunk_key("x", {}, {}, "3-new", "fp")
    assert integrity.same_code({"code": "3-old", "behaviour": "fp"}, key)
    assert not integrity.same_code({"code": "3-old", "behaviour": "other"}, key)
    assert not integrity.same_code({"code": "3-old"}, key)                        # a chunk from before fingerprints
    assert not integrity.same_code({"code": "3-old", "behaviour": None}, integrity.chunk_key("x", {}, {}, "3-new"))
    assert integrity.same_code({"code": "3-new"}, key)


def test_every_experiment_declares_a_probe_of_known_parameters():
    for name in EXPERIMENTS.names():
        exp = EXPERIMENTS.get(name)()
        assert exp.probe is None or set(exp.probe) <= set(exp.defaults), name


def test_the_fingerprint_does_not_depend_on_the_thread_count():
    """A parallel reduction sums in another order with another thread count: the probe runs on one thread (before
    that, noise-stability's fingerprint differed between a 1-thread and a 2-thread process)."""
    import torch

    from sem_core.experiments import fingerprint, runner

    exp = EXPERIMENTS.get("noise-stability")()
    params = runner.full_params(exp, "noise-stability", 2, 0, {})
    before = torch.get_num_threads()
    digests = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            fingerprint._BEHAVIOUR.clear()
            digests.append(runner.behaviour(exp, "noise-stability", params))
    finally:
        torch.set_num_threads(before)
    assert digests[0] == digests[1] and torch.get_num_threads() == before


def test_the_fingerprint_does_not_depend_on_the_cpu_kernels_the_parent_picks():
    """Which SIMD kernels torch/MKL pick depends on the CPU (on an AVX-512 AMD EPYC every fingerprint of an earlier
    machine came out different); the probe runs in a child with pinned numerics, so a parent started with other
    kernels (ATen AVX2, MKL's AVX2 path: what another machine would pick) gets the same fingerprint."""
    script = ("import json; from sem_core.experiments import runner; "
              "exp = runner.EXPERIMENTS.get('faithfulness')(); "
              "print(runner.behaviour(exp, 'faithfulness', runner.full_params(exp, 'faithfulness', 2, 0, {})))")
    digests = []
    for extra in ({}, {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}):
        env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        digests.append(done.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1] and len(digests[0]) == 16


def test_a_run_records_that_its_fingerprint_is_on_the_canonical_numerics(tmp_path):
    from sem_core.experiments import run_experiment

    m = run_experiment("faithfulness", tmp_path / "f", n=4, device="cpu", chunk=4)
    assert m["behaviour"] and m["behaviour_numerics"] == "canonical"
