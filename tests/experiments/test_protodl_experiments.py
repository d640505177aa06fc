"""protodl-distances and protodl-table: a verdict per model, the ξ/α sweep settings, the per-model summary."""
import pytest
import torch

from sem_core.experiments import EXPERIMENTS
from sem_core.experiments.protodl_distances import combine_verdicts, fig3_verdict, sweep_settings
from sem_core.experiments.protodl_table import table_verdict
from sem_core.experiments.runner import Context


def _iv(point, half=0.02):
    return {"point": point, "low": point - half, "high": point + half, "n": 500, "level": 0.95, "resamples": 2000}


def _fig3(nat, adv, kept=1.0):
    return {"natural_d_consistency_interval": _iv(nat), "adversarial_d_consistency_interval": _iv(adv),
            "d_consistency_drop_interval": _iv(nat - adv), "label_kept_rate": kept,
            "D_true_nat_median": 0.1, "D_other_nat_median": 1.0, "D_true_adv_median": 1.0, "D_other_adv_median": 0.8}


def test_sweep_settings_put_the_headline_first_and_each_pair_once():
    params = {"xi": 0.3, "alpha": 0.0, "xi_values": [0.0, 0.3, 1.0], "alpha_values": [0.0, 0.01]}
    assert sweep_settings(params) == [(0.3, 0.0), (0.0, 0.0), (1.0, 0.0), (0.3, 0.01)]


def test_fig3_verdict_names_what_fails():
    assert fig3_verdict(_fig3(0.98, 0.18))[0] == "reproduced"
    verdict, why = fig3_verdict(_fig3(0.55, 0.11))
    assert verdict == "partly" and "natural D-consistency 55% (interval from 53%) not ≥ 90 %" in why
    verdict, why = fig3_verdict(_fig3(0.98, 0.80))
    assert verdict == "partly" and "adversarial D-consistency 80% (interval to 82%) not ≤ 65 %" in why
    assert fig3_verdict(_fig3(0.98, 0.64))[0] == "partly"      # the interval reaches 66 %: decided on the bound
    assert fig3_verdict(_fig3(0.5, 0.6))[0] == "not"


def test_verdicts_combine_per_model():
    same = combine_verdicts({"a": ("reproduced", "x"), "b": ("reproduced", "y")})
    assert same == ("reproduced", "a: reproduced — x; b: reproduced — y")
    assert combine_verdicts({"a": ("reproduced", "x"), "b": ("not", "y")})[0] == "partly"



def test_the_table_verdict_is_decided_on_the_exact_interval_of_its_counts():
    def verdict(n, nat, wrong, kept):
        return table_verdict({"digits": n, "natural_min_correct": nat, "adversarial_min_wrong": wrong,
                              "label_kept": kept})

    assert verdict(5, 5, 5, 5)[0] == "partly"          # 5/5: [0.48, 1.00] does not clear 0.5
    assert "[0.48, 1.00]" in verdict(5, 5, 5, 5)[1]
    assert verdict(5, 5, 3, 5)[0] == "partly"          # the paper's table rule, not its interval
    assert verdict(20, 20, 17, 20)[0] == "reproduced"  # 17/20: [0.62, 0.97]
    assert verdict(5, 4, 5, 5)[0] == "partly"          # only the adversarial half
    assert "only the adversarial half" in verdict(5, 4, 5, 5)[1]
    assert verdict(5, 5, 2, 5)[0] == "partly"          # only the natural half
    assert verdict(5, 4, 2, 5)[0] == "not" and verdict(5, 4, 5, 4)[0] == "not"


def _chunk(model, xi, alpha, nat_ok, adv_ok):
    """A hand-made chunk of 4 correctly classified digits: D-consistent naturally where ``nat_ok``, after the
    attack where ``adv_ok``."""
    n = len(nat_ok)
    return {"model": [model] * n, "xi": [xi] * n, "alpha": [alpha] * n, "idx": list(range(n)), "label": [0] * n,
            "correct": [True] * n, "label_kept": [True] * n,
            "D_true_nat": [0.1 if ok else 2.0 for ok in nat_ok], "D_other_nat": [1.0] * n,
            "D_true_adv": [0.1 if ok else 2.0 for ok in adv_ok], "D_other_adv": [1.0] * n,
            "nearest_consistent_nat": [1.0] * n, "nearest_consistent_adv": [0.0] * n, "h_sq_adv": [5.0] * n}


def test_distances_summary_carries_a_verdict_per_model_and_the_sweep():
    exp = EXPERIMENTS.get("protodl-distances")()
    ctx = Context(params={**exp.defaults, "xi_values": [0.3, 1.0], "alpha_values": [0.0], "seed": 0},
                  device=torch.device("cpu"))
    good, bad = [True] * 4, [True, False, False, False]
    chunks = [_chunk("protodl", 0.3, 0.0, good, [False] * 4), _chunk("protodl", 1.0, 0.0, good, good),
              _chunk("protodl-li", 0.3, 0.0, bad, [False] * 4), _chunk("protodl-li", 1.0, 0.0, bad, bad)]
    out = exp.finalize(chunks, ctx)
    s = out.summary
    assert s["verdicts"] == {"protodl": "reproduced", "protodl-li": "not"}   # 4 digits: the drop's interval reaches 0
    assert [m["model"] for m in s["models"]] == ["protodl", "protodl-li"]
    assert [m["natural_d_consistency"] for m in s["models"]] == [1.0, 0.25]
    assert [(r["model"], r["xi"], r["adversarial_d_consistency"]) for r in s["sweep"]] == [
        ("protodl", 0.3, 0.0), ("protodl", 1.0, 1.0), ("protodl-li", 0.3, 0.0), ("protodl-li", 1.0, 0.25)]
    assert len(out.rows) == 8 and {r["xi"] for r in out.rows} == {0.3}      # rows: the headline setting only
    verdict, why = exp.verdict(s)
    assert verdict == "partly" and why.startswith("protodl: reproduced — ") and "protodl-li: not — " in why
    assert set(out.figures) == {"protodl_distances", "protodl_sweep"}


@pytest.mark.parametrize("name", ["protodl-distances", "protodl-table"])
def test_both_experiments_run_on_both_models(name):
    exp = EXPERIMENTS.get(name)
    assert exp.models == ("protodl", "protodl-li") and "alpha" in exp.defaults


def test_report_shows_a_verdict_per_model_and_keeps_slashed_values():
    from sem_core.experiments.report import _per_model_verdicts, _table

    lines = _per_model_verdicts({"verdicts": {"protodl": "reproduced", "protodl-li": "partly"},
                                 "verdict_reasons": {"protodl": "98% → 18%", "protodl-li": "natural 55%"}})
    assert lines[-2:] == ["| protodl | **reproduced** | 98% → 18% |", "| protodl-li | **partly** | natural 55% |"]
    assert _per_model_verdicts({"n": 3}) == []
    assert _table([{"r1_r2": "0.05 / 0.05", "card": "assets/models/protodl-li.json"}])[-1] == "| 0.05 / 0.05 | protodl-li.json |"


def test_natural_consistency_counts_digits_of_a_class_without_prototype_as_inconsistent():
    from sem_core.experiments.protodl_distances import natural_consistency
    from sem_core.models import create_model

    model = create_model("protodl", n_prototypes=2).eval()
    model.encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 40))   # z = mean pixel in every slot
    with torch.no_grad():
        model.encoder[1].weight.fill_(1 / 784)
        model.encoder[1].bias.zero_()
        model.prototypes.copy_(torch.tensor([[0.0] * 40, [1.0] * 40]))       # prototype 0 at black, 1 at white
        model.classifier.weight.zero_()
        model.classifier.weight[0, 0] = model.classifier.weight[1, 1] = -1.0  # prototype j belongs to class j
        model.classifier.bias.fill_(-100.0)
        model.classifier.bias[:2] = 0.0
        model.classifier.bias[2] = -5.0             # class 2 owns no prototype: predicted when both are far (h > 5)
    # mean pixel 0.1 -> h = (0.4, 32.4): class 0; 0.9 -> class 1; 0.5 -> h = (10, 10): class 2; 0.6 -> class 2
    x = torch.cat([torch.full((1, 1, 28, 28), v) for v in (0.1, 0.9, 0.5, 0.6)])
    out = natural_consistency(model, x, torch.tensor([0, 1, 2, 0]))
    assert out["classes_without_prototype"] == list(range(2, 10)) and out["accuracy"] == 0.75
    assert out["natural_d_consistency"] == pytest.approx(2 / 3)          # the correct 2 has no D(x, 2)
    assert out["natural_d_consistency_owned"] == 1.0 and out["natural_consistency"] == pytest.approx(2 / 3)
