import json
import subprocess
import sys

import pytest

import sem_core
from sem_core.cli.main import main


def test_eval_json_has_the_fields(capsys):
    assert main(["eval", "--model", "protodl", "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "protodl" and out["data_source"] == "subset" and out["n"] == 1000
    assert 0.94 <= out["accuracy"] <= 1.0
    assert out["accuracy"] == pytest.approx(out["card_accuracy"], abs=0.005)


def test_unknown_model_lists_the_available_ones(capsys):
    assert main(["eval", "--model", "alexnet", "--json"]) == 2
    captured = capsys.readouterr()
    assert f"available: {', '.join(sem_core.list_shipped())}" in json.loads(captured.out)["error"]
    assert "error:" in captured.err


@pytest.mark.slow
def test_train_cli_writes_a_loadable_checkpoint(tmp_path, capsys, monkeypatch):
    from sem_core.models import train as train_mod

    real = train_mod.train_model
    monkeypatch.setattr(train_mod, "train_model", lambda *a, **k: real(*a, **{**k, "limit": 96}))
    rc = main(["train", "--model", "senn", "--epochs", "1", "--data", "subset", "--out", str(tmp_path),
               "--concepts", "3", "--json", "--device", "cpu"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["data_source"] == "subset" and out["n_train"] == 96
    card = json.loads((tmp_path / "senn.json").read_text())
    assert card["config"]["n_concepts"] == 3 and card["seed"] == 0 and card["train_seconds"] > 0
    assert {"torch", "python"} <= set(card["versions"])


@pytest.mark.slow
def test_module_entry_point_runs():
    res = subprocess.run([sys.executable, "-m", "sem_core", "eval", "--model", "cnn", "--json", "--device", "cpu"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["model"] == "cnn"


def test_eval_verify_remeasures_the_cards_claim(capsys, tmp_path):
    import json
    import shutil

    from sem_core.cli.main import main
    from sem_core.models.checkpoint import SHIPPED_DIR, write_card

    assert main(["eval", "--model", "cnn", "--verify", "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True
    card = json.loads((SHIPPED_DIR / "cnn.json").read_text())
    shutil.copy(SHIPPED_DIR / card["weights_file"], tmp_path / card["weights_file"])
    write_card(tmp_path / "cnn.json", {**card, "test_accuracy": 0.999})   # a sealed but false claim
    assert main(["eval", "--model", str(tmp_path / "cnn.json"), "--verify", "--json", "--device", "cpu"]) == 2
    assert "the card's claim does not hold" in json.loads(capsys.readouterr().out)["error"]
