"""The attack and lipschitz commands: one JSON object with the documented keys, and --save."""
import json

import numpy as np
import pytest

from sem_core.cli.main import main


def _run(capsys, *argv):
    assert main([*argv, "--json", "--device", "cpu"]) == 0
    return json.loads(capsys.readouterr().out)


def test_attack_senn_keys_and_save(capsys, tmp_path):
    out = _run(capsys, "attack", "senn", "--n", "3", "--targets", "2", "--steps", "5",
               "--save", str(tmp_path / "new" / "s.npz"))
    for key in ("label_kept_rate", "adv_outclass_median", "in_class_median", "out_class_median",
                "adv_over_out_class", "adv_over_in_class", "linf_max", "seconds"):
        assert key in out
    assert out["linf_max"] <= 0.3 + 1e-6 and out["label_kept_rate"] == 1.0
    assert out["adv_over_in_class"] == pytest.approx(out["adv_outclass_median"] / out["in_class_median"])
    d = np.load(tmp_path / "new" / "s.npz")  # the folder is created
    assert set(d.files) >= {"x", "x_adv", "x_target", "y", "pred_before", "pred_after", "label_kept"}
    assert d["x"].shape == (3, 1, 28, 28) and (d["pred_after"] == d["pred_before"]).all()


def test_attack_protodl_keys(capsys, tmp_path):
    out = _run(capsys, "attack", "protodl", "--n", "10", "--steps", "5", "--save", str(tmp_path / "p.npz"))
    for key in ("label_kept_rate", "natural_consistency", "adversarial_consistency", "natural_d_consistency",
                "adversarial_d_consistency", "D_true_natural_median", "D_other_natural_median",
                "D_true_adv_median", "D_other_adv_median", "seconds"):
        assert key in out
    assert set(np.load(tmp_path / "p.npz").files) >= {"x", "x_adv", "y", "pred_before", "pred_after", "label_kept"}


@pytest.mark.parametrize("family", ["senn", "protodl"])
def test_every_shipped_model_of_the_family_can_be_attacked_by_name(capsys, family):
    import sem_core

    robust = [n for n in sem_core.list_shipped(family) if n != family]
    assert robust, f"no robust {family} is shipped"
    extra = ("--targets", "1") if family == "senn" else ()
    out = _run(capsys, "attack", family, "--model", robust[0], "--n", "2", "--steps", "2", *extra)
    assert out["model"] == robust[0] and out["label_kept_rate"] == 1.0


@pytest.mark.parametrize("kind", ["topk", "random", "region"])
def test_attack_saliency_keys(capsys, kind):
    out = _run(capsys, "attack", "saliency", "--kind", kind, "--n", "2", "--steps", "3")
    for key in ("topk_intersection", "spearman", "center_shift", "label_kept_rate", "seconds"):
        assert key in out
    assert 0 <= out["topk_intersection"] <= 1


@pytest.mark.parametrize("model,explainer", [("senn", "self"), ("cnn", "gradxinput"), ("cnn", "occlusion")])
def test_lipschitz_keys(capsys, model, explainer):
    out = _run(capsys, "lipschitz", "--model", model, "--explainer", explainer, "--n", "2", "--budget", "9")
    assert len(out["values"]) == 2 and out["median"] >= 0 and 0 < out["budget"] <= 9 and out["seconds"] >= 0


def test_lipschitz_unknown_explainer_lists_them(capsys):
    assert main(["lipschitz", "--model", "cnn", "--explainer", "magic", "--json"]) == 2
    assert "available:" in json.loads(capsys.readouterr().out)["error"]


def test_bad_region_is_a_clear_error(capsys):
    assert main(["attack", "saliency", "--kind", "region", "--region", "5,5,2,2", "--n", "1", "--json"]) == 2
    assert "--region" in json.loads(capsys.readouterr().out)["error"]
