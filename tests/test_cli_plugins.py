"""Your checkpoint everywhere: `--model CARD.json --plugin FILE` on eval, attack, lipschitz and experiment, the
plug-in by $SEM_PLUGINS and the card by name from $SEM_MODELS_DIR (one fresh process each), clear refusals."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sem_core.cli.main import main, parse_params
from sem_core.experiments import completed_run
from sem_core.models import load_plugin
from sem_core.models.checkpoint import save_checkpoint
from sem_core.models.registry import MODELS

sys.path.insert(0, str(Path(__file__).resolve().parent / "models"))
from plugin_helpers import CARD, isolated_registry, plugin_file  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def card(plugin_file, tmp_path):
    """An untrained SmallCNN saved as runs/small.json by its plug-in."""
    model = load_plugin(plugin_file).SmallCNN(width=2, hidden=8)
    return save_checkpoint(model, tmp_path / "runs", CARD, "small")


def _run(capsys, *argv):
    code = main([*argv, "--json", "--device", "cpu"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    return out


def _subprocess(*argv, **env):
    res = subprocess.run([sys.executable, "-m", "sem_core", *argv, "--json", "--device", "cpu"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_eval_a_card_with_its_plugin_in_a_fresh_process(card, plugin_file):
    out = _subprocess("eval", "--model", str(card), "--plugin", str(plugin_file))
    assert out["model"] == "SmallCNN" and out["n"] == 1000 and out["data_source"] == "subset"
    assert 0.0 <= out["accuracy"] <= 1.0 and out["card_accuracy"] == 0.1


def test_sem_plugins_and_sem_models_dir_in_a_fresh_process(card, plugin_file):
    out = _subprocess("eval", "--model", "small", SEM_PLUGINS=str(plugin_file), SEM_MODELS_DIR=str(card.parent))
    assert out["model"] == "SmallCNN" and out["n"] == 1000


def test_attack_and_lipschitz_take_the_card_and_plugin(capsys, card, plugin_file):
    out = _run(capsys, "attack", "saliency", "--model", str(card), "--plugin", str(plugin_file), "--n", "2",
               "--steps", "2")
    assert out["model"] == str(card) and out["n"] == 2 and out["linf_max"] <= 0.1 + 1e-6
    out = _run(capsys, "lipschitz", "--model", str(card), f"--plugin={plugin_file}", "--n", "2", "--budget", "4")
    assert len(out["values"]) == 2 and out["explainer"] == "saliency"


def test_experiment_takes_the_card_as_its_model(capsys, card, plugin_file, tmp_path):
    out = _run(capsys, "experiment", "saliency-fragility", "--n", "2", "--model", str(card), "--plugin",
               str(plugin_file), "--param", "steps=2", "--param", 'methods=["saliency"]', "--param", 'kinds=["topk"]',
               "--param", "eps_values=[0.1]", "--out", str(tmp_path / "exp"))
    assert out["params"]["model"] == str(card) and out["models"]["cnn"]["model"] == "SmallCNN"
    assert f"--param 'model=\"{card}\"'" in out["command"]
    assert completed_run("saliency-fragility", tmp_path / "exp", **{k: out["params"][k] for k in (
        "n", "steps", "methods", "kinds", "eps_values", "model")}) == out       # the card's hash, not the cnn's
    assert parse_params([f"model={card}"]) == parse_params([f'model="{card}"']) == {"model": str(card)}


def test_without_the_plugin_the_card_is_refused_in_one_line(capsys, card, plugin_file):
    del MODELS._items["SmallCNN"]
    assert main(["eval", "--model", str(card), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert f"architecture '{plugin_file.stem}:SmallCNN'" in error and "pass --plugin FILE" in error


@pytest.mark.parametrize("argv, message", [
    (["eval", "--model", "cnn", "--plugin", "/nonexistent/my_models.py"],
     "plug-in /nonexistent/my_models.py: file not found"),
    (["attack", "senn", "--model", "cnn"], "argument --model: invalid choice: 'cnn' (choose from senn, senn-adv"),
    (["experiment", "lipschitz", "--model", "cnn", "--out", "{tmp}/never"], "experiment lipschitz uses 2 models"),
])
def test_bad_plugin_and_model_arguments_exit_2(capsys, tmp_path, argv, message):
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv] + ["--json"]) == 2
    assert message in json.loads(capsys.readouterr().out)["error"]


CLAMP_SOURCE = '''
import torch.nn as nn

from sem_core.models import register_architecture


class ClampNet(nn.Module):
    """A ReLU network whose ReLU is clamp(min=0): no surrogate sees it, the saliency attack has no gradient."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(784, 16), nn.Linear(16, 10)

    def forward(self, x):
        return self.b(self.a(x.flatten(1)).clamp(min=0))


register_architecture(ClampNet)
'''


def test_an_attack_without_gradient_exits_3_with_one_line_and_its_json(capsys, tmp_path, isolated_registry):
    from plugin_helpers import write_module

    plugin = write_module(tmp_path, CLAMP_SOURCE, "clamp_models")
    card = save_checkpoint(load_plugin(plugin).ClampNet(), tmp_path / "runs", CARD, "clamp")
    code = main(["attack", "saliency", "--model", str(card), "--plugin", str(plugin), "--n", "2", "--steps", "2",
                 "--json", "--device", "cpu"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 3 and out["outcome"] == "no-gradient" and out["status_counts"] == {"no-gradient": 2}
    assert captured.err.strip().startswith("error: the attack could not move any image") and captured.err.count("\n") == 1


def test_the_json_and_the_npz_carry_the_same_provenance(capsys, card, plugin_file, tmp_path):
    import numpy as np

    out = _run(capsys, "attack", "saliency", "--model", str(card), "--plugin", str(plugin_file), "--n", "3",
               "--steps", "2", "--seed", "5", "--save", str(tmp_path / "a.npz"))
    prov = out["provenance"]
    assert prov["model"] == str(card) and prov["model_sha256"] == json.loads(card.read_text())["sha256"]
    assert prov["seed"] == 5 and prov["data_source"] == "subset" and len(prov["digits"]) == 3
    assert prov["attack"] == "saliency_topk" and prov["config"]["eps"] == 0.1 and prov["sem_core_version"]
    with np.load(tmp_path / "a.npz", allow_pickle=False) as f:
        assert json.loads(str(f["provenance"])) == prov
        assert len(f["status"]) == 3 and set(f["status"].tolist()) <= {"ok", "no-improvement", "label-lost"}
        assert f["x"].shape == (3, 1, 28, 28)
    out = _run(capsys, "lipschitz", "--model", str(card), "--plugin", str(plugin_file), "--n", "2", "--budget", "4",
               "--save", str(tmp_path / "l.npz"))
    with np.load(tmp_path / "l.npz", allow_pickle=False) as f:
        assert json.loads(str(f["provenance"])) == out["provenance"] and out["provenance"]["digits"]


def test_an_experiment_stops_when_its_attack_cannot_move_a_digit(capsys, tmp_path, isolated_registry):
    from plugin_helpers import write_module

    plugin = write_module(tmp_path, CLAMP_SOURCE, "clamp_models")
    card = save_checkpoint(load_plugin(plugin).ClampNet(), tmp_path / "runs", CARD, "clamp")
    code = main(["experiment", "saliency-fragility", "--n", "2", "--model", str(card), "--plugin", str(plugin),
                 "--param", "steps=2", "--param", 'methods=["saliency"]', "--param", 'kinds=["topk"]',
                 "--param", "eps_values=[0.1]", "--out", str(tmp_path / "exp"), "--json", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 2 and "the attack could not move 2 of 2 digits" in json.loads(captured.out)["error"]
    assert not (tmp_path / "exp" / "manifest.json").exists()
