"""Adebayo et al.'s sanity checks (``sem_core.explain.sanity``): the maps of the shipped CNN decorrelate as its layers
are randomised from the output down, layer order and seeding, models we did not write, skipped explainers, the
label-randomisation control.

Measured on 8 test digits, cascading, seed 0 (median Spearman of |map| at each step, trained model first):
saliency 1.00, 0.57, 0.46, 0.21, 0.21 (SSIM 1.00 → 0.08); grad×input 1.00, 0.99, 0.99, 0.99, 0.99 (its zero
background ties the ranks: the input's shape keeps |map| alike) while its signed Spearman falls to ≈ 0 and its
SSIM to ≈ 0.5.
"""
import pytest
import torch

from sem_core.errors import SemError, UnknownNameError
from sem_core.explain import label_randomisation_check, load_label_control, randomisation_check
from sem_core.explain.sanity import (LABEL_CONTROL, PASS_BELOW, layer_seed, parameterised_layers, randomised_models,
                                     ssim)
from sem_core.models.checkpoint import read_card


@pytest.fixture(scope="module")
def cnn_cascading(shipped, test_split):
    cnn = shipped["cnn"][0]
    return randomisation_check(cnn, test_split.images[:8], explainers=("saliency", "gradxinput"))


def test_cnn_layers_are_found_from_the_output_down(shipped, test_split):
    layers, unused = parameterised_layers(shipped["cnn"][0], test_split.images[:1])
    assert [l.name for l in layers] == ["head.2", "head.0", "features.3", "features.0"]
    assert layers[0].label == "head.2 (Linear)" and not unused


def test_cascading_randomisation_decorrelates_the_cnn_maps(cnn_cascading, shipped):
    res = cnn_cascading
    assert res.mode == "cascading" and res.steps[0] == "trained model" and len(res.steps) == 5
    for e in ("saliency", "gradxinput"):
        for m in ("spearman_abs", "spearman", "ssim"):
            assert res.similarity[e][m].shape == (8, 5)
            assert torch.allclose(res.similarity[e][m][:, 0], torch.ones(8, dtype=torch.float64))
        assert res.maps[e].shape == (8, 5, 1, 28, 28)
    sal = res.medians("saliency")
    assert sal[-1] < 0.35 < sal[0]                                       # measured 0.21
    assert res.medians("saliency", "ssim")[-1] < 0.2                     # measured 0.08
    assert res.verdict("saliency")[0]
    assert res.medians("gradxinput", "spearman")[-1] < 0.2               # signs decorrelate (measured ≈ 0)
    assert res.medians("gradxinput", "ssim")[-1] < 0.7                   # measured ≈ 0.5
    assert res.medians("gradxinput")[-1] > 0.9                           # |map| keeps the digit's shape
    ok, sentence = res.verdict("gradxinput")
    assert not ok and "signed Spearman" in sentence
    # the caller's model is untouched
    cnn = shipped["cnn"][0]
    assert torch.equal(cnn.head[2].weight, shipped["cnn"][0].head[2].weight)


def test_the_callers_model_is_never_modified(shipped, test_split):
    cnn = shipped["cnn"][0]
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    randomisation_check(cnn, test_split.images[:2], explainers=("saliency",), mode="independent")
    assert all(torch.equal(before[k], v) for k, v in cnn.state_dict().items())


def test_independent_mode_randomises_one_layer_with_the_cascading_weights(shipped, test_split):
    cnn = shipped["cnn"][0]
    res = randomisation_check(cnn, test_split.images[:4], explainers=("saliency",), mode="independent")
    assert res.mode == "independent" and res.similarity["saliency"]["spearman_abs"].shape == (4, 5)
    assert all(v < 0.9 for v in res.medians("saliency")[1:])             # every layer matters to saliency
    names = ["head.2", "head.0", "features.3", "features.0"]
    casc = [m.state_dict() for _, m in randomised_models(cnn, names[:1], mode="cascading", seed=3)]
    indep = dict(randomised_models(cnn, names, mode="independent", seed=3))
    assert torch.equal(casc[0]["head.2.weight"], indep["head.2"].state_dict()["head.2.weight"])
    assert torch.equal(indep["head.0"].state_dict()["head.2.weight"], cnn.state_dict()["head.2.weight"])
    assert layer_seed(0, 0) != layer_seed(0, 1)


def test_same_seed_same_result_and_batch_equals_one_by_one(shipped, test_split):
    cnn, x = shipped["cnn"][0], test_split.images[:3]
    a = randomisation_check(cnn, x, explainers=("gradxinput",), seed=5)
    b = randomisation_check(cnn, x, explainers=("gradxinput",), seed=5)
    one = randomisation_check(cnn, x[1:2], explainers=("gradxinput",), seed=5)
    assert torch.equal(a.similarity["gradxinput"]["spearman"], b.similarity["gradxinput"]["spearman"])
    assert torch.allclose(a.similarity["gradxinput"]["spearman"][1], one.similarity["gradxinput"]["spearman"][0])


@pytest.mark.parametrize("name", ["functional-cnn", "colour-3x32x32", "duck-concept", "duck-prototype"])
def test_models_we_did_not_write(foreign, name):
    model, x, _ = foreign[name]
    res = randomisation_check(model, x, explainers=("saliency", "self"))
    assert res.layers and res.similarity["saliency"]["spearman_abs"].shape == (len(x), len(res.layers) + 1)
    assert res.medians("saliency")[-1] < 0.5
    if name == "duck-concept":
        assert res.kinds["relevances"] == res.kinds["concepts"] == "vector"
        assert res.similarity["relevances"]["ssim"] is None                # SSIM compares pictures only
    elif name == "duck-prototype":
        assert "prototypes" in res.explainers
        assert res.layers.index("prototypes (DuckPrototype)") == 1          # after the classifier, from the top
    else:
        assert "self" in res.skipped and "no explanation of its own" in res.skipped["self"]
    if name == "colour-3x32x32":
        assert res.maps["saliency"].shape[2:] == (3, 32, 32)


def test_senn_own_explanations_and_unused_decoder(shipped, test_split):
    res = randomisation_check(shipped["senn"][0], test_split.images[:2], explainers=("self", "lrp"))
    assert set(res.explainers) == {"relevances", "concepts"}
    assert "lrp" in res.skipped and "no rule" in res.skipped["lrp"]       # cannot run on SENN: said, not hidden
    assert any(u.startswith("decoder") for u in res.unused_layers)        # the decoder does not feed the logits
    h = res.medians("concepts")                                           # h only changes once the encoder does
    first_encoder = next(i for i, l in enumerate(res.layers, 1) if l.startswith("encoder"))
    assert h[first_encoder - 1] == pytest.approx(1.0) and h[-1] < PASS_BELOW


def test_a_model_without_parameterised_layers_and_bad_names_raise(test_split):
    with pytest.raises(SemError, match="no parameterised layer"):
        randomisation_check(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Unflatten(1, (1, 784))
                                                ).eval(), test_split.images[:1])
    cnn = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).eval()
    with pytest.raises(UnknownNameError):
        randomisation_check(cnn, test_split.images[:1], explainers=("nope",))
    with pytest.raises(SemError, match="no parameterised layer 'fc'"):
        randomisation_check(cnn, test_split.images[:1], layers=["fc"])
    with pytest.raises(SemError, match="mode"):
        randomisation_check(cnn, test_split.images[:1], mode="labels")


def test_ssim_known_answers():
    a = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ssim(a, a), torch.ones(2, dtype=torch.float64))
    assert ssim(a, -a).tolist() == pytest.approx([1.0, 1.0])              # |map|: the sign does not count
    assert (ssim(a, torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))) < 0.3).all()
    assert ssim(torch.rand(1, 1, 2, 2), torch.rand(1, 1, 2, 2)) is None


def test_label_control_loads_with_a_verified_card_and_is_at_chance(shipped, test_split):
    card = read_card(LABEL_CONTROL)                                       # sealed, hashed, checked
    assert card["test_accuracy"] < 0.2 and card["train_accuracy_on_shuffled_labels"] > 0.95
    assert "scripts/train_label_control.py" in card["notes"]
    control = load_label_control("cpu")
    res = label_randomisation_check(shipped["cnn"][0], control, test_split.images[:4],
                                    explainers=("saliency", "gradxinput"))
    assert res.mode == "labels" and len(res.layers) == 1
    assert res.medians("saliency")[1] < 0.9
    with pytest.raises(SemError, match="architecture"):
        label_randomisation_check(shipped["senn"][0], control, test_split.images[:1])


def test_to_dict_is_json(cnn_cascading):
    import json

    d = json.loads(json.dumps(cnn_cascading.to_dict()))
    assert d["steps"][0] == "trained model" and d["medians"]["saliency"]["spearman_abs"][0] == 1.0
    assert set(d["verdicts"]) == {"saliency", "gradxinput"}


def test_the_service_runs_a_sanity_job_per_digit_and_caches_it_on_disk(shipped, test_split, tmp_path):
    from sem_core.serve.cache import ResultCache, from_bytes, to_bytes
    from sem_core.serve.service import AttackService
    from sem_core.serve.views import sanity_job

    svc = AttackService(device="cpu", cache=ResultCache(folder=tmp_path), loader=lambda n: shipped[n])
    try:
        x = test_split.images[:3]
        res = svc.submit("s", sanity_job("cnn", x, ["saliency"], mode="cascading")).result(120)
        alone = randomisation_check(shipped["cnn"][0], x, explainers=("saliency",))
        assert torch.allclose(res.similarity["saliency"]["spearman_abs"], alone.similarity["saliency"]["spearman_abs"])
        again = from_bytes(*to_bytes(res, "k"), "k")                     # a disk entry rebuilds the result
        assert torch.equal(again.maps["saliency"], res.maps["saliency"]) and again.layers == res.layers
        with pytest.raises(SemError, match="architecture"):
            svc.submit("s", sanity_job("senn", x[:1], ["saliency"], mode="labels")).result(60)
    finally:
        svc.shutdown()
