"""A real two-process Ray cluster on this machine, joined the secure way (slow): `ray start --head` (Ray 2.60: token
authentication on by default) and a second node with `ray start --address`, both bound to 127.0.0.1; an experiment
run from another folder with `--executor ray --address` takes the token the way Ray documents it (here the head's
~/.ray/auth_token), never disables authentication, and equals the in-process run."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(RAY).exists(), reason="the ray command is not installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([RAY, *args], capture_output=True, text=True, timeout=180, env=env or dict(os.environ))


@pytest.fixture
def cluster():
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}   # Ray's defaults, as a user starts it
    head = _ray("start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                "--include-dashboard=false", "--disable-usage-stats", env=env)
    assert head.returncode == 0, head.stderr[-2000:]
    try:
        node = _ray("start", f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                    "--disable-usage-stats", env={**env, "RAY_AUTH_MODE": "token"})
        assert node.returncode == 0, node.stderr[-2000:]
        yield f"127.0.0.1:{port}"
    finally:
        _ray("stop", "--force")


def test_an_experiment_joins_a_token_authenticated_cluster_and_equals_the_in_process_run(cluster, tmp_path):
    from sem_core.experiments.executors import ray_token_source

    assert ray_token_source() is not None, "the head wrote no token where Ray documents it"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PYTHONPATH"] = str(ROOT)                               # the driver imports sem_core; the cluster gets it shipped
    args = ["experiment", "faithfulness", "--n", "8", "--json", "--device", "cpu"]
    on_ray = subprocess.run([sys.executable, "-m", "sem_core", *args, "--executor", "ray", "--address", cluster,
                             "--out", str(tmp_path / "ray")], cwd=elsewhere, capture_output=True, text=True,
                            timeout=600, env=env)
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    here = subprocess.run([sys.executable, "-m", "sem_core", *args, "--out", str(tmp_path / "local")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    assert here.returncode == 0, here.stderr[-3000:]
    a, b = json.loads(on_ray.stdout), json.loads(here.stdout)
    assert a["executor"].startswith(f"ray ({cluster}, 2 CPUs") and "RAY_AUTH_MODE" not in env
    rows_a = json.loads((tmp_path / "ray" / "results.json").read_text())
    rows_b = json.loads((tmp_path / "local" / "results.json").read_text())
    assert _close(rows_a, rows_b)
    assert a["verdict"] == b["verdict"]


def _close(x, y) -> bool:
    """Leaf for leaf equal, numbers within the documented relative tolerance 1e-6."""
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return len(x) == len(y) and all(_close(u, v) for u, v in zip(x, y))
    if isinstance(x, float) and isinstance(y, (int, float)):
        return x == pytest.approx(y, rel=1e-6, abs=1e-12)
    return x == y


def test_without_the_token_the_refusal_says_how_to_give_it(cluster, tmp_path):
    """A fresh process (Ray keeps its authentication state per process) with no token anywhere: one line that
    says how to give it, exit 2, authentication left on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT))                # no ~/.ray/auth_token in this home
    res = subprocess.run([sys.executable, "-m", "sem_core", "experiment", "faithfulness", "--n", "4", "--executor",
                          "ray", "--address", cluster, "--out", str(tmp_path / "run"), "--json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 2, res.stderr[-2000:]
    error = json.loads(res.stdout.strip().splitlines()[-1])["error"]
    assert "RAY_AUTH_TOKEN=<token> or RAY_AUTH_TOKEN_PATH=<file>" in error and not (tmp_path / "run").exists()
