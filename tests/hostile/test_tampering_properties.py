"""Property tests: a random edit of a stored record — a checkpoint card, a sealed experiment folder's manifest, rows
or figure — never changes what is reported: the record is refused (one line) or reads back exactly as written."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from sem_core.errors import SemError
from sem_core.experiments import load_results, run_experiment
from sem_core.models import create_model
from sem_core.models.checkpoint import load_checkpoint, save_checkpoint

DATA = {"source": "subset", "n_train": 4000, "n_test": 1000, "description": "the offline subset"}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(create_model("cnn"), tmp_path_factory.mktemp("card"), {"data": DATA, "test_accuracy": 0.9})


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "faithfulness"
    run_experiment("faithfulness", out, n=6)
    return out


def _edited(text: str, data) -> str:
    i = data.draw(st.integers(0, len(text) - 1))
    c = data.draw(st.characters(codec="utf-8", exclude_categories=("Cs",)).filter(lambda ch: ch != text[i]))
    return text[:i] + c + text[i + 1:]


@SETTINGS
@given(data=st.data())
def test_a_random_edit_of_a_card_is_refused_or_changes_nothing(card, tmp_path_factory, data):
    work = tmp_path_factory.mktemp("edit")
    shutil.copy(card, work / card.name)
    shutil.copy(card.with_suffix(".safetensors"), work / card.with_suffix(".safetensors").name)
    original_model, original = load_checkpoint(card)
    (work / card.name).write_text(_edited(card.read_text(), data), encoding="utf-8")
    try:
        model, back = load_checkpoint(work / card.name)
    except SemError:
        return
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert back == original and torch.equal(model(x), original_model(x))


@SETTINGS
@given(which=st.sampled_from(["manifest.json", "results.json", "results.csv", "plotly"]), data=st.data())
def test_a_random_edit_of_a_sealed_folder_is_refused_or_changes_nothing(folder, tmp_path_factory, which, data):
    work = tmp_path_factory.mktemp("edit") / folder.name
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns("chunks"))
    manifest, figures = load_results(folder)
    if which == "plotly":
        which = next(iter(manifest["figures"].values()))["json"]
    path = work / which
    path.write_text(_edited(path.read_text(encoding="utf-8"), data), encoding="utf-8")
    try:
        back, back_figures = load_results(work)
    except SemError:
        return
    assert back == manifest and {k: f.to_plotly_json() for k, f in back_figures.items()} == {
        k: f.to_plotly_json() for k, f in figures.items()}
    assert json.loads((work / "results.json").read_text()) == json.loads((folder / "results.json").read_text())


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    out = tmp_path_factory.mktemp("chunked") / "faithfulness"
    return out, run_experiment("faithfulness", out, n=6, chunk=3)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_random_edit_of_a_chunk_is_recomputed_or_changes_nothing(chunked, tmp_path_factory, data):
    """A chunk edited on disk is either refused (and recomputed on resume) or reads back as written: the resumed
    run's numbers equal the clean run's, whatever the edit."""
    out, clean = chunked
    work = tmp_path_factory.mktemp("edit") / out.name
    shutil.copytree(out, work)
    (work / "manifest.json").unlink()                      # resume: the chunks are read back
    chunk = sorted((work / "chunks").glob("0*.json"))[data.draw(st.integers(0, 1))]
    chunk.write_text(_edited(chunk.read_text(encoding="utf-8"), data), encoding="utf-8")
    again = run_experiment("faithfulness", work, n=6, chunk=3)
    assert again["summary"] == clean["summary"] and again["verdict"] == clean["verdict"]
    assert again["chunks_reused"] + again["chunks_recomputed"] + again["chunks_computed"] >= 2
