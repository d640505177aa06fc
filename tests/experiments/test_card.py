"""The robustness card (issue 31): every section a model's capabilities allow, on models this project did not write
too; never silent about what it could not run; resumable; its three files built from the verified folder only."""
import json
import math

import pytest
import torch

from sem_core.errors import SemError
from sem_core.experiments import EXPERIMENTS, run_experiment
from sem_core.experiments.card import CARD_FILES, HEADLINES, card_k, findings, read_card, write_card
from sem_core.experiments.context import Context, jsonable
from sem_core.viz.card import CARD_SCHEMA_NAME, CARD_SCHEMA_VERSION, card_document, card_html, card_markdown

TINY = {"n": 2, "steps": 2, "concept_steps": 2, "targets": 2, "lipschitz_calls": 2, "chunk": 1}


def _run_in_context(model, x, y, **params):
    """Every chunk of the card on ``model`` (a module we did not write) over the test split ``(x, y)``."""
    exp = EXPERIMENTS.get("card")()
    p = {**exp.defaults, **TINY, **params, "seed": 0, "model": type(model).__name__}
    card = {"model": type(model).__name__, "sha256": "0" * 64, "data": {"source": "synthetic"}, "test_accuracy": None}
    ctx = Context(params=p, device=torch.device("cpu"), models={"cnn": (model.eval(), card)},
                  data={"test": (x, y, "synthetic")})
    results = [json.loads(json.dumps(jsonable(exp.run_chunk(jsonable(s), ctx)))) for s in exp.chunks(ctx)]
    out = exp.finalize(results, ctx)
    return exp, out.summary, exp.verdict(out.summary)


@pytest.fixture(scope="module")
def mnist(test_split):
    x, y, _ = test_split
    return x[:200], y[:200]


def test_a_duck_typed_concept_model_gets_the_concept_section(mnist, foreign):
    x, y = mnist
    model = foreign["duck-concept"][0]
    _, s, (verdict, why) = _run_in_context(model, x, y, kinds=["topk"])
    assert "concept" in s["sections"] and "prototype" in s["not_applicable"]
    ratio = s["sections"]["concept"]["ratio"]
    assert ratio["low"] <= ratio["point"] <= ratio["high"] and ratio["n"] == 2
    assert "concept:" in why and verdict in ("reproduced", "partly", "not")
    assert s["headline"]["concept_ratio"] == ratio and s["headline"]["prototype_consistency"] is None


def test_a_duck_typed_prototype_model_gets_the_prototype_section(mnist, foreign):
    x, y = mnist
    model = foreign["duck-prototype"][0]
    _, s, (_, why) = _run_in_context(model, x, y, kinds=["topk"])
    assert "prototype" in s["sections"] and "concept" in s["not_applicable"]
    assert 0 <= s["sections"]["prototype"]["consistency"]["point"] <= 1 and "prototype:" in why


def test_a_colour_32px_model_gets_k_and_shifts_scaled_to_its_image_size(foreign):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(20, 3, 32, 32, generator=gen), torch.randint(0, 10, (20,), generator=gen)
    model = foreign["colour-3x32x32"][0]
    _, s, _ = _run_in_context(model, x, y, kinds=["topk", "center"], lipschitz_explainers=["saliency"])
    sal = s["sections"]["saliency"]
    assert sal["k"] == card_k(x.shape) == round(50 / 784 * 32 * 32) == 65
    shift = sal["methods"]["saliency"]["center_shift"]["point"]
    assert 0 <= shift <= 1            # a fraction of the image's diagonal
    assert s["accuracy_digits"] == 20 and "lipschitz" in s["sections"]


def test_a_model_the_saliency_attack_cannot_move_is_reported_never_counted(mnist, foreign):
    """A plain module with functional ReLUs: its saliency map is piecewise constant, so the attack's surrogate may have
    no gradient; whatever happens, the card either has numbers or says what could not run — never nothing."""
    x, y = mnist
    model = foreign["functional-cnn"][0]
    _, s, (_, why) = _run_in_context(model, x, y, kinds=["topk"], methods=["saliency"])
    assert "saliency" in s["sections"] or any(k.startswith("saliency") for k in s["failed"])
    for key, message in s["failed"].items():
        assert message and key in why


def test_card_files_come_from_the_verified_folder_and_a_rerun_resumes(tmp_path):
    out = tmp_path / "card"
    params = {**TINY, "kinds": ["topk", "region"], "methods": ["saliency"], "lipschitz_explainers": ["saliency"]}
    first = run_experiment("card", out, device="cpu", model="senn", **params)
    assert first["chunks_computed"] == first["chunks_total"] > 0
    again = run_experiment("card", out, device="cpu", model="senn", **params)
    assert again["chunks_reused"] == again["chunks_total"] and again["chunks_computed"] == 0
    doc = write_card(out)
    for name in CARD_FILES:
        assert (out / name).stat().st_size > 200
    stored = json.loads((out / "card.json").read_text())
    assert (stored["schema"], stored["version"]) == (CARD_SCHEMA_NAME, CARD_SCHEMA_VERSION)
    assert stored["model"]["name"] == "senn" and stored["run"]["command"].startswith("python -m sem_core card --model senn")
    assert set(stored["headline"]) == {k for k, _, _ in HEADLINES} and doc["verdict"]["value"] == first["verdict"]
    page = (out / "card.html").read_text()
    assert "Plotly.newPlot" in page and "<script src" not in page and "<link" not in page   # self-contained
    (out / "card.json").write_text("{}")                 # an export: never read back
    assert read_card(out)[0]["model"]["name"] == "senn"
    results = out / "results.json"
    results.write_text(results.read_text().replace('"senn"', '"cnn"', 1))
    with pytest.raises(SemError, match="changed after the run"):
        read_card(out)


def test_the_card_text_escapes_stored_strings():
    manifest = {"params": {"n": 1, "seed": 0, "model": "<b>x</b>"}, "verdict": "not", "verdict_reason": "<script>",
                "summary": {"model": "<img src=x>", "architecture": "a|b", "sha256": "0", "data_source": "s",
                            "accuracy": 0.5, "accuracy_digits": 10, "n": 1, "headline": {}, "sections": {},
                            "not_applicable": {"concept": "<i>no</i>"}, "failed": {}}}
    doc = card_document(manifest, {"saliency": (False, "<b>why</b>")}, HEADLINES, command="python -m sem_core card")
    page, md = card_html(doc, {}), card_markdown(doc)
    assert "<img" not in page and "<b>why" not in page and "<i>no" not in page and "&lt;img" in page
    assert "<img" not in md and "a\\|b" in md


def test_findings_follow_the_rule_on_interval_bounds():
    def iv(point, low, high):
        return {"point": point, "low": low, "high": high, "n": 10, "level": 0.95, "resamples": 2000}

    s = {"sections": {"saliency": {"k": 50, "methods": {"saliency": {
        "topk_mean": iv(0.3, 0.2, 0.4), "random_topk_mean": 0.5, "topk_gap": iv(0.2, 0.04, 0.3), "topk_label_kept": 1.0}}},
        "concept": {"ratio": iv(0.5, 0.3, 0.99), "label_kept": 1.0}}}
    found = findings(s)
    assert found["saliency (saliency)"][0] is False           # the gap's lower bound 0.04 is under the margin 0.05
    assert found["concept"][0] is True                        # the whole ratio interval under 1
    s["sections"]["concept"]["ratio"] = iv(0.5, 0.3, 1.01)
    assert findings(s)["concept"][0] is False
    assert not math.isnan(EXPERIMENTS.get("card").defaults["eps"])
