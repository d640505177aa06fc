"""The CLI (`attack senn|protodl`) and the experiments report one summary, computed by one function per
protocol; Table 1's marks come from `prototype_marks`; each experiment lives in a module named after it."""
import pytest
import torch

from sem_core.experiments import EXPERIMENTS, protodl_distances, protodl_summary, senn_distances, senn_summary
from sem_core.experiments.context import Context, jsonable
from sem_core.viz.tables import prototype_marks, prototype_table_figure
from sem_core.metrics import median

SENN_CLI_KEYS = ["n", "targets", "label_kept_rate", "adv_outclass_median", "in_class_median", "out_class_median",
                 "adv_over_out_class", "adv_over_in_class", "linf_max", "seconds"]
PROTODL_CLI_KEYS = ["n", "n_correct", "label_kept_rate", "natural_consistency", "adversarial_consistency",
                    "natural_d_consistency", "adversarial_d_consistency", "D_true_natural_median",
                    "D_other_natural_median", "D_true_adv_median", "D_other_adv_median", "linf_max", "seconds"]


def _experiment_summary(name, digits, shipped, test_split, **params):
    """The experiment's summary of one chunk holding ``digits`` (run_chunk, JSON round trip, finalize)."""
    exp = EXPERIMENTS.get(name)()
    model = exp.models[0]
    ctx = Context(params={**exp.defaults, **params}, device=torch.device("cpu"), models={model: shipped[model]},
                  data={"test": test_split})
    chunk = jsonable(exp.run_chunk({"digits": digits}, ctx))
    return exp.finalize([chunk], ctx).summary


def test_senn_cli_and_experiment_share_one_summary(shipped, test_split):
    x, y, _ = test_split
    res = senn_distances(shipped["senn"][0], x, y, n=4, targets=2, steps=2, seed=0)
    cli = res.summary()
    assert list(cli) == SENN_CLI_KEYS                                  # the published CLI keys, in order
    exp = _experiment_summary("senn-distances", res.idx.tolist(), shipped, test_split, targets=2, steps=2, seed=0,
                              eps_values=[0.3])
    assert set(cli) - {"seconds"} <= set(exp)                          # the CLI's numbers, then the experiment's own
    for k in ("n", "targets", "adv_outclass_median", "in_class_median", "out_class_median", "adv_over_out_class",
              "adv_over_in_class", "linf_max"):
        assert exp[k] == cli[k], k
    assert exp["label_kept_rate"] == pytest.approx(cli["label_kept_rate"])  # float32 over pairs vs per-digit mean
    assert cli["adv_outclass_median"] == median(res.adv_outclass)   # the mean of the middle two at even n


def test_senn_distances_summary_has_the_control_the_sweep_the_pool_and_the_relevance_change(shipped, test_split):
    x, y, _ = test_split
    s = _experiment_summary("senn-distances", [3, 7, 11], shipped, test_split, targets=2, steps=2, seed=0,
                            eps_values=[0.05, 0.3])
    assert [b["eps"] for b in s["by_eps"]] == [0.05, 0.3]
    for b in s["by_eps"]:
        assert b["adv_inclass_median"] > 0 and b["adv_outclass_over_inclass"] == b["adv_outclass_median"] / b["adv_inclass_median"]
        assert b["relevance_change_median"] >= 0 and b["relevance_change_target_median"] > 0
    assert s["pool_size"] == 5000                                      # every digit of the offline subset
    assert s["in_class_pool_median"] <= s["in_class_median"]           # more neighbours, nearer minimum
    verdict, why = EXPERIMENTS.get("senn-distances")().verdict(s)
    assert "in-class control" in why and "relevance change" in why
    # the control's digits: the same attack toward same-class targets, rerun by hand for one digit
    assert s["control_targets"] == 2
    res = senn_distances(shipped["senn"][0], x, y, idx=torch.tensor([3]), targets=2, steps=2, eps=0.3,
                         in_class_control=True, seed=0)
    assert res.adv_inclass.shape == (1,) and res.relevance_change.shape == (1,)
    # more targets than the class has other digits: the control takes all of them, the out-class attack all T
    res = senn_distances(shipped["senn"][0], x, y, idx=torch.tensor([3]), targets=150, steps=1, eps=0.3,
                         in_class_control=True, seed=0)
    assert res.config["control_targets"] == int((y == y[3]).sum()) - 1 < 150 and res.target_idx.shape == (1, 150)


def test_protodl_cli_and_experiment_share_one_summary(shipped, test_split):
    x, y, _ = test_split
    res = protodl_distances(shipped["protodl"][0], x, y, n=8, steps=2, seed=0)
    cli = res.summary()
    assert list(cli) == PROTODL_CLI_KEYS
    exp = _experiment_summary("protodl-distances", res.idx.tolist(), shipped, test_split, steps=2, seed=0)
    (row,) = exp["models"]                                             # the one model of the one chunk: protodl
    assert row["model"] == "protodl" and row["classes_without_prototype"] == "none"
    renamed = {k.replace("_nat_", "_natural_"): v for k, v in row.items() if not k.endswith("_interval") and k not in ("model", "r1_r2",
                                                                                      "classes_without_prototype", "verdict")}
    assert list(renamed) == PROTODL_CLI_KEYS[:-2]                      # the same quantities, in the same order
    for k, v in renamed.items():
        assert v == pytest.approx(cli[k], rel=1e-6), k                 # the CLI's rates are float32
    assert cli["natural_d_consistency"] == res.attack.metrics["d_consistent_nat"][res.correct].mean().item()


def test_summaries_on_known_columns():
    s = senn_summary([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [4.0, 8.0, 9.0], targets=5, label_kept_rate=0.5, linf_max=0.3)
    assert (s["adv_outclass_median"], s["in_class_median"], s["out_class_median"]) == (2.0, 4.0, 8.0)
    assert (s["adv_over_in_class"], s["adv_over_out_class"], s["n"]) == (0.5, 0.25, 3)
    cols = {"correct": [True, True, False, True], "label_kept": [True, False, True, True],
            "D_true_nat": [1.0, 2.0, 0.0, 1.0], "D_other_nat": [2.0, 3.0, 0.0, 0.5],
            "D_true_adv": [3.0, 1.0, 0.0, 2.0], "D_other_adv": [1.0, 2.0, 0.0, 1.0],
            "nearest_consistent_nat": [1.0, 1.0, 0.0, 0.0], "nearest_consistent_adv": [0.0, 1.0, 1.0, 0.0]}
    p = protodl_summary(cols)
    assert (p["n"], p["n_correct"], p["label_kept_rate"]) == (4, 3, 0.75)
    assert p["natural_consistency"] == pytest.approx(2 / 3) and p["adversarial_consistency"] == pytest.approx(1 / 3)
    assert p["natural_d_consistency"] == pytest.approx(2 / 3) and p["adversarial_d_consistency"] == pytest.approx(1 / 3)
    assert p["D_true_nat_median"] == 1.0                               # over the correct digits: lower middle of 1, 1, 2


def test_table_1_figure_marks_column_minimum_red_and_correct_class_bold():
    nat = torch.tensor([[0.1, 0.9, 0.8, 0.3], [0.7, 0.5, 0.2, 0.9]])
    adv = torch.tensor([[0.6, 0.2, 0.9, 0.7], [0.4, 0.3, 0.8, 0.1]])
    classes, labels = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 2])
    bold, red = prototype_marks(nat, adv, classes, labels)
    cells = prototype_table_figure(nat, adv, classes, labels).data[0].cells
    fill = [list(col) for col in cells.fill.color][1:]                 # per column, without the prototype column
    values = [list(col) for col in cells["values"]][1:]
    assert [[f == "#ffb3b3" for f in col] for col in fill] == red.T.tolist()
    assert [[v.startswith("<b>") for v in col] for col in values] == bold.T.tolist()
    assert values[0][0] == "<b>0.10</b>" and values[1][1] == "0.20"


@pytest.mark.parametrize("name", EXPERIMENTS.names())
def test_each_experiment_lives_in_a_module_named_after_it(name):
    module = EXPERIMENTS.get(name).__module__.rsplit(".", 1)[1]
    assert module == {"lipschitz": "lipschitz_stability"}.get(name, name.replace("-", "_"))
