"""PrototypeDL's loss weights (R1, R2) as a training option: validated, used in the loss, named on the card;
the shipped ``protodl-li`` carries Li et al.'s weights and is attackable by name."""
import json
import math

import pytest
import torch

from sem_core.cli.main import main
from sem_core.errors import SemError
from sem_core.models import create_model
from sem_core.models.train import TrainConfig, train_model


@pytest.mark.parametrize("key,value", [("proto_r1", -0.1), ("proto_r2", math.nan), ("proto_r1", math.inf),
                                       ("proto_reconstruction", "0.05"), ("proto_r2", True)])
def test_bad_weights_are_refused_by_the_config(key, value):
    with pytest.raises(SemError, match=f"{key} must be a finite number >= 0"):
        TrainConfig(**{key: value})


@pytest.mark.parametrize("argv,message", [
    (["--model", "protodl", "--r1", "-1"], "argument --r1: must be a finite number >= 0, got '-1'"),
    (["--model", "protodl", "--r2", "nan"], "argument --r2: must be a finite number >= 0, got 'nan'"),
    (["--model", "cnn", "--r1", "0.05"], "--r1/--r2 weigh PrototypeDL's R1/R2 terms; they do not apply to --model cnn"),
])
def test_bad_r1_r2_options_exit_2_before_training(capsys, tmp_path, argv, message):
    assert main(["train", *argv, "--out", str(tmp_path), "--json"]) == 2
    assert message in json.loads(capsys.readouterr().out)["error"]
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written


def test_the_loss_uses_the_configured_weights():
    model = create_model("protodl")
    x, y = torch.rand(8, 1, 28, 28), torch.arange(8)
    for w1, w2 in ((0.05, 0.05), (0.5, 2.0)):
        t = model.training_loss(x, y, TrainConfig(proto_r1=w1, proto_r2=w2))
        assert t["loss"].item() == pytest.approx((t["ce"] + 0.05 * t["rec"] + w1 * t["r1"] + w2 * t["r2"]).item(), rel=1e-6)


def test_the_card_names_the_loss_terms_and_weights(tmp_path):
    res = train_model("protodl", epochs=1, data="subset", limit=64, out=tmp_path, name_on_disk="li",
                      train_config=TrainConfig(proto_r1=0.05, proto_r2=0.07))
    card = json.loads((tmp_path / "li.json").read_text())
    assert card["loss"]["weights"] == {"ce": 1.0, "rec": 0.05, "r1": 0.05, "r2": 0.07}
    assert set(card["loss"]["terms"]) == {"ce", "rec", "r1", "r2"} and "R1" in card["loss"]["formula"]
    assert (card["hparams"]["proto_r1"], card["hparams"]["proto_r2"]) == (0.05, 0.07)
    assert card["loss"] == res.card["loss"]


def test_shipped_protodl_li_has_li_et_al_weights_and_is_attackable_by_name(shipped, capsys):
    _, card = shipped["protodl-li"]
    assert card["loss"]["weights"] == {"ce": 1.0, "rec": 0.05, "r1": 0.05, "r2": 0.05}
    assert card["hparams"]["epochs"] == 60 and card["seed"] == 1 and card["train_seconds"] > 0
    assert main(["attack", "protodl", "--model", "protodl-li", "--n", "2", "--steps", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "protodl-li" and out["n"] == 2


def test_adversarial_training_names_its_term_on_the_card():
    cfg = TrainConfig(defense="adversarial", defense_weight=2.0)
    terms = create_model("protodl").loss_terms(cfg)
    assert terms["weights"]["adversarial"] == 2.0 and "adversarial" in terms["formula"] and "adversarial" in terms["terms"]
